#include "functional.hpp"

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace acceltran::cli {

void add_functional_options(po::options_description& desc) {
  // clang-format off
  desc.add_options()
    ("weights", po::value<std::string>(),
     "--functional: a Hugging Face BERT checkpoint (.safetensors; config from --model)")
    ("tokens", po::value<std::string>(),
     "--functional: token ids, one sequence per line, optionally '| mask' (0/1 per id); shorter "
     "sequences are padded with [PAD] (id 0, mask 0) to the longest (--seq-len when not given), "
     "missing sequences of the batch are whole padding")
    ("seed", po::value<uint64_t>()->default_value(1),
     "--functional: seed of the synthetic weights (without --weights) and random tokens")
    ("prune", po::value<std::string>()->default_value("dynatran"),
     "--functional: dynatran (|x| <= tau -> 0 per output tile) or topk (--topk K per row)")
    ("topk", po::value<int64_t>(), "--prune topk: values kept per row (segment)")
    ("policy", po::value<std::string>(),
     "--functional: pruning policy per tensor class: uniform (--prune as given), published (the "
     "paper's DynaTran at --threshold, or its top-k on the probabilities with --topk), unscaled "
     "(every class at --threshold, q and scores compared before the 1/sqrt(d) fold), or a YAML "
     "policy file (docs/dynatran.md)");
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
    fs.token_file = read_tokens(vm["tokens"].as<std::string>(), fs.cfg);
    size_t longest = 0;
    for (const auto& seq : fs.token_file.sequences) longest = std::max(longest, seq.size());
    if (vm["seq-len"].defaulted()) vm.at("seq-len").value() = boost::any(int64_t(longest));
    // Outside the design space any batch goes: the file's sequences are the batch. Otherwise the
    // batch is the accelerator's (or --batch), the file's sequences padded up to it.
    if (vm["batch"].as<int64_t>() == 0 && vm["allow-outside-design-space"].as<bool>())
      vm.at("batch").value() = boost::any(int64_t(fs.token_file.sequences.size()));
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
  if (vm.count("policy")) {
    const std::string name = vm["policy"].as<std::string>();
    if (is_builtin_policy(name)) {
      fs.in.policy = builtin_policy(name, fs.in.prune);
    } else {
      if (vm.count("threshold") || vm.count("topk") || !vm["prune"].defaulted())
        throw UsageError(fmt::format(
            "option --policy {}: a policy file sets every class's tau / top-k; it excludes "
            "--prune, --threshold and --topk (they parameterise the built-in policies: uniform, "
            "published, unscaled)",
            name));
      fs.in.policy = read_policy_file(name);
    }
  }
  fs.weights = vm.count("weights") ? load_bert_weights(vm["weights"].as<std::string>(), fs.cfg)
                                   : synthetic_bert_weights(fs.cfg, seed);
  fs.in.weights = &fs.weights;
}

void finish_functional(const po::variables_map& vm, Inputs& in, FunctionalSetup& fs) {
  if (in.compile.profile != Profile::hardware)
    throw UsageError("option --functional runs the default profile (--profile hardware) only");
  const int64_t batch = in.compile.batch > 0 ? in.compile.batch : in.accel.batch_size;
  if (!fs.token_file.sequences.empty()) {
    TokenBatch tb = fs.token_file;
    if (static_cast<int64_t>(tb.sequences.size()) > batch)
      throw UsageError(fmt::format(
          "{}: {} sequences for a batch of {} ({}); give at most {} sequences, or --batch with a "
          "batch size the accelerator allows",
          tb.source, tb.sequences.size(), batch,
          in.compile.batch > 0 ? "--batch" : "the accelerator's batch_size", batch));
    pad_token_batch(tb, batch, in.compile.seq_len);
    fs.in.tokens = tb.sequences;
    fs.in.attention_mask = tb.attention_mask;
    in.compile.attention_mask = !tb.attention_mask.empty();  // the softmax reads the mask bits
    fs.in.tokens_source = tb.source;
  }
  if (fs.in.tokens.empty()) {
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
