#include "acceltran/hw/accelerator.hpp"

#include "acceltran/hw/accelerator_top.hpp"

#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <limits>
#include <thread>

#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/hw/report_builder.hpp"
#include "acceltran/workload/float_reference.hpp"

namespace acceltran {

SimResult simulate(const Program& prog, const AcceleratorConfig& cfg, const Technology& tech,
                   const RunOptions& o) {
  // Heap: the sc_modules must outlive sc_start.
  auto top = std::make_unique<Accelerator>("accelerator", prog, cfg, tech, o);
  // Functional runs: the float reference (plain C++, read-only weights) runs on another thread
  // while the kernel runs the hardware.
  std::vector<ReferenceResult> refs;
  std::exception_ptr ref_error;
  std::thread ref_thread;
  if (o.functional)
    ref_thread = std::thread([&refs, &ref_error, in = o.functional] {
      try {
        for (size_t q = 0; q < in->tokens.size(); ++q)  // with the sequence's padding mask
          refs.push_back(run_float_reference(
              *in->weights, in->tokens[q],
              in->attention_mask.empty() ? std::vector<uint8_t>{} : in->attention_mask[q]));
      } catch (...) {
        ref_error = std::current_exception();
      }
    });
  try {
    sc_core::sc_start();
  } catch (...) {
    if (ref_thread.joinable()) ref_thread.join();
    throw;
  }
  if (ref_thread.joinable()) ref_thread.join();
  if (ref_error) std::rethrow_exception(ref_error);
  SimResult r = build_report(*top, prog, cfg, tech, o);
  if (o.functional && r.finished)
    r.functional = functional_result(*top->datapath, *top->dynatran, refs);
  return r;
}

namespace {

// Per layer output, over the batch: the functional run's values against the float reference's.
std::vector<LayerError> errors_against_reference(const Datapath& dp,
                                                 const std::vector<ReferenceResult>& refs,
                                                 int64_t batch, int64_t seq_len, int64_t hidden) {
  const std::vector<TensorId>& outputs = dp.layer_outputs();
  // Sums over every value of a layer output: max |f - r|, (f - r)^2, r^2, f^2 and f r.
  struct Sums {
    double max_abs = 0, difference_squared = 0, reference_squared = 0, functional_squared = 0,
           product = 0;
    bool non_finite = false;  // an inf or NaN value: every figure of the layer is NaN
  };
  std::vector<Sums> sums(outputs.size());
  const int64_t values_per_sequence = seq_len * hidden;
  for (int64_t sequence = 0; sequence < batch; ++sequence) {
    const ReferenceResult& ref = refs.at(static_cast<size_t>(sequence));
    for (size_t l = 0; l < outputs.size() && l < ref.hidden.size(); ++l) {
      const std::vector<int32_t>& values = dp.values(outputs[l]);
      const float* reference = ref.hidden[l].data.data();
      Sums& a = sums[l];
      const size_t first = static_cast<size_t>(sequence * values_per_sequence);
      for (int64_t e = 0; e < values_per_sequence; ++e) {
        const double x = fx::to_double(values[first + static_cast<size_t>(e)]);
        const double y = reference[e];
        a.non_finite = a.non_finite || !std::isfinite(y);
        a.max_abs = std::max(a.max_abs, std::fabs(x - y));
        a.difference_squared += (x - y) * (x - y);
        a.reference_squared += y * y;
        a.functional_squared += x * x;
        a.product += x * y;
      }
    }
  }
  std::vector<LayerError> errors;
  for (size_t l = 0; l < outputs.size(); ++l) {
    const Sums& a = sums[l];
    LayerError e;
    e.name = l == 0 ? "embeddings" : fmt::format("layer {}", l - 1);
    e.max_abs = a.max_abs;
    e.relative =
        a.reference_squared > 0 ? std::sqrt(a.difference_squared / a.reference_squared) : 0;
    e.cosine = a.functional_squared > 0 && a.reference_squared > 0
                   ? a.product / std::sqrt(a.functional_squared * a.reference_squared)
                   : 0;
    if (a.non_finite)  // not swallowed into 0 by the comparisons above
      e.max_abs = e.relative = e.cosine = std::numeric_limits<double>::quiet_NaN();
    errors.push_back(e);
  }
  return errors;
}

}  // namespace

FunctionalResult functional_result(const Datapath& dp, const DynaTranUnit& dt,
                                   const std::vector<ReferenceResult>& refs) {
  const Program& prog = dp.program();
  const FunctionalInput& in = dp.input();
  const BertWeights& weights = *in.weights;
  FunctionalResult f;
  f.enabled = true;
  f.weights = weights.source;
  f.synthetic = weights.synthetic;
  f.tokens = in.tokens_source;
  f.tau = in.prune.tau;
  f.topk = in.prune.topk;
  f.prune = in.prune.kind == PruneMode::Kind::topk ? fmt::format("topk k={}", in.prune.topk)
                                                   : fmt::format("dynatran tau={}", in.prune.tau);
  f.batch = prog.info.batch;
  f.seq_len = prog.info.seq_len;
  f.hidden = weights.config.hidden;
  for (const Op& op : prog.ops) {
    const OpValues& v = dp.op_values()[op.id];
    f.saturated += v.saturated;
    if (!op.prune) continue;
    f.pruned.push_back({op.name, op.layer, v.elements, v.zeros});
    f.pruned_elements += v.elements;
    f.pruned_zeros += v.zeros;
  }
  for (const Tensor& t : prog.tensors)
    f.tensor_sparsity.emplace_back(t.name, dp.tensor_sparsity(t.id));
  add_class_sparsity(dp, f);
  f.dynatran_blocks = dt.stats().blocks;
  f.dynatran_pruned = dt.stats().pruned;
  f.topk_cycles = dt.stats().topk_cycles;
  // The float reference (unpruned: the model's own output), one sequence at a time.
  f.layers = errors_against_reference(dp, refs, f.batch, f.seq_len, f.hidden);
  const std::vector<TensorId>& outputs = dp.layer_outputs();
  if (!outputs.empty()) {
    const std::vector<int32_t>& v = dp.values(outputs.back());
    f.output.resize(v.size());
    for (size_t e = 0; e < v.size(); ++e) f.output[e] = static_cast<float>(fx::to_double(v[e]));
  }
  return f;
}

}  // namespace acceltran
