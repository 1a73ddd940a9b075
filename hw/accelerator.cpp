#include "accelerator.hpp"

#include "accelerator_top.hpp"

#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <thread>

#include "fixed_point.hpp"
#include "float_reference.hpp"
#include "report_builder.hpp"

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
        for (const auto& seq : in->tokens) refs.push_back(run_float_reference(*in->weights, seq));
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

FunctionalResult functional_result(const Datapath& dp, const DynaTranUnit& dt,
                                   const std::vector<ReferenceResult>& refs) {
  const Program& prog = dp.program();
  const FunctionalInput& in = dp.input();
  const BertWeights& W = *in.weights;
  FunctionalResult f;
  f.enabled = true;
  f.weights = W.source;
  f.synthetic = W.synthetic;
  f.tokens = in.tokens_source;
  f.tau = in.prune.tau;
  f.topk = in.prune.topk;
  f.prune = in.prune.kind == PruneMode::Kind::topk ? fmt::format("topk k={}", in.prune.topk)
                                                   : fmt::format("dynatran tau={}", in.prune.tau);
  const int64_t B = prog.info.batch, S = prog.info.seq_len, h = W.config.hidden;
  f.batch = B;
  f.seq_len = S;
  f.hidden = h;
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
  f.dynatran_blocks = dt.stats().blocks;
  f.dynatran_pruned = dt.stats().pruned;
  f.topk_cycles = dt.stats().topk_cycles;
  const std::vector<TensorId>& outs = dp.layer_outputs();
  // The float reference (unpruned: the model's own output), one sequence at a time.
  struct Acc {
    double max_abs = 0, d2 = 0, r2 = 0, f2 = 0, fr = 0;
  };
  std::vector<Acc> acc(outs.size());
  for (int64_t s = 0; s < B; ++s) {
    const ReferenceResult& ref = refs.at(static_cast<size_t>(s));
    for (size_t l = 0; l < outs.size() && l < ref.hidden.size(); ++l) {
      const std::vector<int32_t>& v = dp.values(outs[l]);
      const float* rr = ref.hidden[l].data.data();
      Acc& a = acc[l];
      for (int64_t e = 0; e < S * h; ++e) {
        const double x = fx::to_double(v[static_cast<size_t>(s * S * h + e)]), y = rr[e];
        a.max_abs = std::max(a.max_abs, std::fabs(x - y));
        a.d2 += (x - y) * (x - y);
        a.r2 += y * y;
        a.f2 += x * x;
        a.fr += x * y;
      }
    }
  }
  for (size_t l = 0; l < outs.size(); ++l) {
    LayerError e;
    e.name = l == 0 ? "embeddings" : fmt::format("layer {}", l - 1);
    e.max_abs = acc[l].max_abs;
    e.relative = acc[l].r2 > 0 ? std::sqrt(acc[l].d2 / acc[l].r2) : 0;
    e.cosine = acc[l].f2 > 0 && acc[l].r2 > 0 ? acc[l].fr / std::sqrt(acc[l].f2 * acc[l].r2) : 0;
    f.layers.push_back(e);
  }
  if (!outs.empty()) {
    const std::vector<int32_t>& v = dp.values(outs.back());
    f.output.resize(v.size());
    for (size_t e = 0; e < v.size(); ++e) f.output[e] = static_cast<float>(fx::to_double(v[e]));
  }
  return f;
}

}  // namespace acceltran
