#include "common.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace acceltran::cli {

void add_input_options(po::options_description& desc) {
  // clang-format off
  desc.add_options()
    ("model,m", po::value<std::string>()->default_value("bert-tiny"),
     "transformer: a built-in name (models/transformers/*.json) or a FlexiBERT / Hugging Face "
     "config.json file")
    ("accel,a", po::value<std::string>()->default_value("edge"),
     "accelerator: a built-in name (edge, server) or a YAML file")
    ("profile", po::value<std::string>()->default_value("bert"),
     "bert (the real encoder) or reference (the published simulator's conventions)")
    ("seq-len", po::value<int64_t>()->default_value(128), "sequence length")
    ("batch", po::value<int64_t>()->default_value(0), "batch size (0: the accelerator's batch_size)")
    ("sparsity", po::value<double>(),
     "activation sparsity in [0,1) (default: technology.yaml default_sparsity.activation)")
    ("weight-sparsity", po::value<double>(),
     "weight sparsity in [0,1) (default: technology.yaml default_sparsity.weight)")
    ("loop-order", po::value<std::string>(), "override the accelerator's loop order, e.g. k_i_j_b")
    ("tiles-per-instruction", po::value<uint64_t>()->default_value(0),
     "tiles per tile-job instruction (0: one instruction per op, 1: one per tile)")
    ("models-dir", po::value<std::string>(),
     "folder with technology.yaml, design_space.yaml, accelerators/, transformers/ "
     "(default: $ACCELTRAN_MODELS_DIR or the source tree's models/)")
    ("set", po::value<std::vector<std::string>>()->composing(),
     "KEY=VALUE: override an accelerator key by its dotted path, e.g. --set pe=128 "
     "--set main_memory.type=hbm (repeatable; checked like the YAML file)")
    ("allow-outside-design-space", po::bool_switch(),
     "accept accelerator values outside models/design_space.yaml (nonsense is still rejected)");
  // clang-format on
}

Inputs load_inputs(const po::variables_map& vm) {
  if (vm.count("models-dir"))
    setenv("ACCELTRAN_MODELS_DIR", vm["models-dir"].as<std::string>().c_str(), 1);
  namespace fs = std::filesystem;
  const std::string dir = models_dir();
  Inputs in;
  in.tech = load_technology((fs::path(dir) / "technology.yaml").string());
  in.space = load_design_space((fs::path(dir) / "design_space.yaml").string());
  ConfigOptions copt;
  copt.allow_outside_design_space = vm["allow-outside-design-space"].as<bool>();
  if (vm.count("set")) copt.overrides = vm["set"].as<std::vector<std::string>>();
  in.accel = load_accelerator(vm["accel"].as<std::string>(), in.space, in.tech, copt);
  if (vm.count("loop-order")) {
    try {
      in.accel.loop_order = LoopOrder::parse(vm["loop-order"].as<std::string>());
    } catch (const InputError& e) {
      throw InputError(fmt::format("option --loop-order: {}", e.what()));
    }
  }
  in.model = load_model(vm["model"].as<std::string>());
  auto& c = in.compile;
  c.profile = vm["profile"].as<std::string>();
  if (c.profile != "bert" && c.profile != "reference")
    throw InputError(
        fmt::format("option --profile: value '{}' unknown; allowed: bert, reference", c.profile));
  c.seq_len = vm["seq-len"].as<int64_t>();
  if (c.seq_len <= 0)
    throw InputError(fmt::format("option --seq-len: value {} must be > 0", c.seq_len));
  c.batch = vm["batch"].as<int64_t>();
  if (c.batch < 0) throw InputError(fmt::format("option --batch: value {} must be >= 0", c.batch));
  if (c.batch > 0 && c.batch != in.accel.batch_size) {
    AcceleratorConfig probe = in.accel;
    probe.batch_size = static_cast<int>(c.batch);
    probe.source = "option --batch";
    validate_accelerator(probe, in.space, in.tech, copt);
    in.accel.batch_size = probe.batch_size;
  }
  for (const char* key : {"sparsity", "weight-sparsity"}) {
    if (!vm.count(key)) continue;
    double s = vm[key].as<double>();
    if (!(s >= 0 && s < 1))
      throw InputError(
          fmt::format("option --{}: value {} outside the allowed range [0, 1)", key, s));
    (std::string(key) == "sparsity" ? c.activation_sparsity : c.weight_sparsity) = s;
  }
  c.tiles_per_instruction = vm["tiles-per-instruction"].as<uint64_t>();
  return in;
}

bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const char* usage, po::variables_map& vm, int* exit_code) {
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << desc << "\n";
      *exit_code = 0;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    fmt::print(stderr, "error: {}\n(see --help)\n", e.what());
    *exit_code = 2;
    return false;
  }
  return true;
}

}  // namespace acceltran::cli
