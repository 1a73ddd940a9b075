#include "functional.hpp"

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"

#include <fmt/format.h>

namespace acceltran::cli {

void add_functional_options(po::options_description& desc) {
  // clang-format off
  desc.add_options()
    ("weights", po::value<std::string>(),
     "--functional: a Hugging Face BERT checkpoint (.safetensors; config from --model)")
    ("tokens", po::value<std::string>(),
     "--functional: token ids, one sequence per line (sets --batch and --seq-len when not given)")
    ("seed", po::value<uint64_t>()->default_value(1),
     "--functional: seed of the synthetic weights (without --weights) and random tokens")
    ("prune", po::value<std::string>()->default_value("dynatran"),
     "--functional: dynatran (|x| <= tau -> 0 per output tile) or topk (--topk K per row)")
    ("topk", po::value<int64_t>(), "--prune topk: values kept per row (segment)");
  // clang-format on
}

void prepare_functional(po::variables_map& vm, FunctionalSetup& fs) {
  for (const char* key : {"sparsity", "weight-sparsity"})
    if (vm.count(key))
      throw UsageError(fmt::format(
          "option --{}: functional runs and calibration measure every tensor's sparsity from the "
          "data",
          key));
  fs.cfg = load_bert_config(vm["model"].as<std::string>());
  const uint64_t seed = vm["seed"].as<uint64_t>();
  if (vm.count("tokens")) {
    const TokenBatch tb = read_tokens(vm["tokens"].as<std::string>(), fs.cfg);
    const int64_t n = static_cast<int64_t>(tb.sequences.size());
    const int64_t len = static_cast<int64_t>(tb.sequences[0].size());
    for (size_t q = 1; q < tb.sequences.size(); ++q)
      if (static_cast<int64_t>(tb.sequences[q].size()) != len)
        throw InputError(fmt::format(
            "{}: sequence {} has {} tokens, sequence 1 has {}; all sequences of a batch must "
            "have the same length (no padding mask)",
            tb.source, q + 1, tb.sequences[q].size(), len));
    if (vm["seq-len"].defaulted()) vm.at("seq-len").value() = boost::any(len);
    if (vm["batch"].as<int64_t>() == 0) vm.at("batch").value() = boost::any(n);
    fs.in.tokens = tb.sequences;
    fs.in.tokens_source = tb.source;
  }
  const std::string pm = vm["prune"].as<std::string>();
  if (pm == "dynatran") {
    fs.in.prune.kind = PruneMode::Kind::dynatran;
    if (vm.count("topk")) throw UsageError("option --topk needs --prune topk");
    fs.in.prune.tau = vm.count("threshold") ? vm["threshold"].as<double>() : 0.0;
    if (!(fs.in.prune.tau >= 0 && fs.in.prune.tau < 8))
      throw UsageError(fmt::format("option --threshold: value {} outside the Q4.16 range [0, 8)",
                                   fs.in.prune.tau));
  } else if (pm == "topk") {
    fs.in.prune.kind = PruneMode::Kind::topk;
    if (!vm.count("topk")) throw UsageError("option --prune topk needs --topk K");
    if (vm.count("threshold"))
      throw UsageError("option --threshold is DynaTran's: not with --prune topk");
    fs.in.prune.topk = vm["topk"].as<int64_t>();
    if (fs.in.prune.topk < 1)
      throw UsageError(fmt::format("option --topk: value {} must be >= 1", fs.in.prune.topk));
  } else {
    throw UsageError(
        fmt::format("option --prune: value '{}' unknown; allowed: dynatran, topk", pm));
  }
  fs.weights = vm.count("weights") ? load_bert_weights(vm["weights"].as<std::string>(), fs.cfg)
                                   : synthetic_bert_weights(fs.cfg, seed);
  fs.in.weights = &fs.weights;
}

void finish_functional(const po::variables_map& vm, Inputs& in, FunctionalSetup& fs) {
  if (in.compile.profile != Profile::hardware)
    throw UsageError("option --functional runs the default profile (--profile hardware) only");
  if (fs.in.tokens.empty()) {
    const int64_t batch = in.compile.batch > 0 ? in.compile.batch : in.accel.batch_size;
    const TokenBatch tb =
        random_tokens(batch, in.compile.seq_len, fs.cfg, vm["seed"].as<uint64_t>());
    fs.in.tokens = tb.sequences;
    fs.in.tokens_source = tb.source;
  }
}

void compile_from_measured_sparsity(const FunctionalInput& in, Inputs& inputs, Program& prog) {
  Datapath dp(prog, in);
  StandalonePruner post(in.prune);
  run_datapath(dp, post);
  CompileOptions& c = inputs.compile;
  c.tensor_sparsity.clear();
  double wz = 0, wn = 0;  // the weights' zeros as the hardware holds them (Q4.16)
  for (const Tensor& t : prog.tensors) {
    c.tensor_sparsity[t.name] = dp.tensor_sparsity(t.id);
    if (t.cls != TensorClass::weight) continue;
    wz += dp.tensor_sparsity(t.id) * static_cast<double>(t.elements());
    wn += static_cast<double>(t.elements());
  }
  c.tensor_sparsity_source = "the functional pre-pass";
  if (wn > 0) c.weight_sparsity = wz / wn;  // the report's global figure
  prog = compile_within_limits(inputs.model, inputs.accel, inputs.tech, c);
}

}  // namespace acceltran::cli
