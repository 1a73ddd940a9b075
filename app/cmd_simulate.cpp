// acceltran simulate: run a transformer on an accelerator and report cycles, energy, power, area.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "accelerator.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "functional.hpp"
#include "isa_text.hpp"
#include "report.hpp"
#include "safetensors.hpp"

namespace acceltran::cli {

namespace {

constexpr const char* kUsage =
    "usage: acceltran simulate [options]\n\n"
    "Runs a transformer on an AccelTran accelerator and reports cycles, throughput, energy,\n"
    "power, area, utilization and stalls. With no options: BERT-Tiny on AccelTran-Edge.";

template <typename T>
T pick(const po::variables_map& vm, const char* key,
       const std::vector<std::pair<const char*, T>>& values) {
  const std::string v = vm[key].as<std::string>();
  std::string allowed;
  for (const auto& [name, val] : values) {
    if (v == name) return val;
    allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  }
  throw UsageError(fmt::format("option --{}: value '{}' unknown; allowed: {}", key, v, allowed));
}

}  // namespace

int cmd_simulate(const std::vector<std::string>& args) {
  po::options_description desc("simulate options");
  add_input_options(desc);
  add_functional_options(desc);
  // clang-format off
  desc.add_options()
    ("program", po::value<std::string>(),
     "run an instruction file written by `acceltran compile -o` instead of compiling --model")
    ("threshold", po::value<double>(),
     "DynaTran threshold tau (Q4.16 value). Performance mode: sets the activation sparsity to "
     "P(|x| <= tau) for unit-variance activations, erf(tau/sqrt(2)) (excludes --sparsity). "
     "With --functional: the comparators' tau (default 0)")
    ("functional", po::bool_switch(),
     "real values flow through the hardware (Q4.16 lanes, DynaTran module); per-tile sparsity "
     "and effectual MACs come from the data; per-layer error against a float32 reference")
    ("dump-outputs", po::value<std::string>(),
     "--functional: write the final hidden states (batch x seq x hidden) to FILE.npy or "
     "FILE.safetensors")
    ("out", po::value<std::string>()->default_value("out"),
     "folder for report.json, report.csv, ops.csv and timeline.csv")
    ("vcd", po::value<std::string>(), "write a VCD trace (open it in GTKWave)")
    ("trace-window", po::value<std::string>(), "limit the VCD to cycles T0:T1")
    ("timeline-samples", po::value<uint64_t>()->default_value(200), "rows of timeline.csv")
    ("progress", po::bool_switch(), "progress bar on stderr")
    ("check-protocol", po::bool_switch(),
     "a TLM-2.0 base-protocol checker on every socket (the first violation ends the run)")
    ("lookahead", po::value<uint32_t>()->default_value(16),
     "ops past the oldest unfinished one whose instructions may issue (default scheduler)")
    ("in-order", po::value<std::string>()->default_value("auto"),
     "in-order memory and compute streams: on, off, auto (on for --profile reference)")
    ("memory-model", po::value<std::string>()->default_value("auto"),
     "detailed (banks, rows, refresh), ideal (bandwidth pipe), auto (ideal for reference)")
    ("bandwidth-convention", po::value<std::string>()->default_value("auto"),
     "bytes (physical), words (the published 20-bit-per-byte conversion), auto (words for reference)")
    ("eviction", po::value<std::string>()->default_value("auto"),
     "lru, fifo, auto (fifo for reference)")
    ("leakage-when-idle", po::bool_switch(),
     "charge leakage for idle units (default: idle units are power-gated)")
    ("help,h", "show this help");
  // clang-format on
  po::variables_map vm;
  int rc = 0;
  if (!parse_args(args, desc, kUsage, vm, &rc)) return rc;
  const bool functional = vm["functional"].as<bool>();
  for (const char* k : {"weights", "tokens", "topk", "dump-outputs"})
    if (vm.count(k) && !functional)
      throw UsageError(fmt::format("option --{} needs --functional", k));
  if (!functional && !vm["prune"].defaulted())
    throw UsageError("option --prune needs --functional");
  if (!functional && vm.count("threshold") && vm.count("sparsity"))
    throw UsageError("options --threshold and --sparsity exclude each other");
  if (vm.count("dump-outputs")) {
    const std::string d = vm["dump-outputs"].as<std::string>();
    const bool npy = d.size() > 4 && d.substr(d.size() - 4) == ".npy";
    const bool st = d.size() > 12 && d.substr(d.size() - 12) == ".safetensors";
    if (!npy && !st)
      throw UsageError(
          fmt::format("option --dump-outputs: '{}' must end in .npy or .safetensors", d));
  }
  if (functional && vm.count("program"))
    throw UsageError("option --functional compiles the model itself: it excludes --program");

  FunctionalSetup fs;
  if (functional) prepare_functional(vm, fs);
  Inputs in = load_inputs(vm);
  if (functional) finish_functional(vm, in, fs);
  FunctionalInput& fin = fs.in;
  if (!functional && vm.count("threshold")) {
    const double tau = vm["threshold"].as<double>();
    if (!(tau >= 0 && tau < 8))
      throw UsageError(
          fmt::format("option --threshold: value {} outside the Q4.16 range [0, 8)", tau));
    in.compile.activation_sparsity = std::erf(tau / std::sqrt(2.0));
    if (in.compile.activation_sparsity >= 1) in.compile.activation_sparsity = 0.999999;
  }
  const bool reference = in.compile.profile == Profile::reference;
  RunOptions ro;
  if (functional) ro.functional = &fin;
  ro.sim.profile = in.compile.profile;
  ro.sim.published = in.compile.published;
  auto tri = [&](const char* key) {
    const std::string v = vm[key].as<std::string>();
    if (v == "auto") return reference;
    if (v == "on") return true;
    if (v == "off") return false;
    throw UsageError(
        fmt::format("option --{}: value '{}' unknown; allowed: on, off, auto", key, v));
  };
  ro.control.in_order = tri("in-order");
  ro.control.lookahead = vm["lookahead"].as<uint32_t>();
  if (ro.control.lookahead == 0) throw UsageError("option --lookahead: value 0 must be > 0");
  const std::string mm = vm["memory-model"].as<std::string>();
  ro.sim.memory_model =
      mm == "auto"
          ? (reference ? MemoryModel::ideal : MemoryModel::detailed)
          : pick<MemoryModel>(vm, "memory-model",
                              {{"detailed", MemoryModel::detailed}, {"ideal", MemoryModel::ideal}});
  const std::string bc = vm["bandwidth-convention"].as<std::string>();
  ro.sim.bandwidth = bc == "auto"
                         ? (reference ? BandwidthConvention::words : BandwidthConvention::bytes)
                         : pick<BandwidthConvention>(vm, "bandwidth-convention",
                                                     {{"bytes", BandwidthConvention::bytes},
                                                      {"words", BandwidthConvention::words}});
  const std::string ev = vm["eviction"].as<std::string>();
  ro.sim.eviction =
      ev == "auto"
          ? (reference ? EvictionPolicy::fifo : EvictionPolicy::lru)
          : pick<EvictionPolicy>(vm, "eviction",
                                 {{"lru", EvictionPolicy::lru}, {"fifo", EvictionPolicy::fifo}});
  ro.sim.leakage_when_idle = vm["leakage-when-idle"].as<bool>();
  ro.sim.check_protocol = vm["check-protocol"].as<bool>();
  ro.timeline_samples = vm["timeline-samples"].as<uint64_t>();

  Program prog;
  if (vm.count("program")) {
    prog = read_program_file(vm["program"].as<std::string>());
    if (prog.info.tile.b != in.accel.tile.b || prog.info.tile.x != in.accel.tile.x)
      throw InputError(fmt::format("{}: compiled for tile {}x{}x{}, but {} has tile {}x{}x{}",
                                   vm["program"].as<std::string>(), prog.info.tile.b,
                                   prog.info.tile.x, prog.info.tile.y, in.accel.source,
                                   in.accel.tile.b, in.accel.tile.x, in.accel.tile.y));
  } else {
    prog = compile_within_limits(in.model, in.accel, in.tech, in.compile);
    // Transfers and buffer reservations are sized at compile time: a first pass of the data
    // path measures every tensor's sparsity, and the run is compiled from it.
    if (functional) compile_from_measured_sparsity(fin, in, prog);
  }
  ro.sim.activation_sparsity = prog.info.activation_sparsity;
  ro.sim.weight_sparsity = prog.info.weight_sparsity;

  if (vm.count("vcd")) {
    ro.trace.vcd_path = vm["vcd"].as<std::string>();
  }
  if (vm.count("trace-window") && !vm.count("vcd"))
    throw UsageError("option --trace-window limits the VCD trace: it needs --vcd");
  if (vm.count("trace-window")) {
    const std::string w = vm["trace-window"].as<std::string>();
    auto colon = w.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument(w);
      ro.trace.window_begin_cycle = std::stoull(w.substr(0, colon));
      ro.trace.window_end_cycle = std::stoull(w.substr(colon + 1));
    } catch (const std::exception&) {
      throw UsageError(fmt::format("option --trace-window: '{}' must be T0:T1 in cycles", w));
    }
    if (ro.trace.window_end_cycle < ro.trace.window_begin_cycle)
      throw UsageError(fmt::format("option --trace-window: '{}' ends before it begins", w));
  }
  const std::string out_dir = vm["out"].as<std::string>();
  OutputFolder out(out_dir);  // the old report stays until the new one is complete
  const std::string vcd_shown = ro.trace.vcd_path;
  if (!ro.trace.vcd_path.empty()) {
    ro.trace.vcd_path = out.place(ro.trace.vcd_path);
    check_vcd_path(ro.trace.vcd_path);
  }

  const bool progress = vm["progress"].as<bool>();
  auto t0 = std::chrono::steady_clock::now();
  if (progress || isatty(STDERR_FILENO)) {
    auto last = std::make_shared<std::chrono::steady_clock::time_point>(t0);
    ro.control.progress = [t0, last, progress](uint64_t done, uint64_t total, uint64_t cycle) {
      auto now = std::chrono::steady_clock::now();
      if (now - *last < std::chrono::milliseconds(200) && done < total) return;
      if (!progress && now - t0 < std::chrono::seconds(1)) return;  // only for runs over 1 s
      *last = now;
      const int width = 40;
      const int filled = static_cast<int>(width * done / std::max<uint64_t>(total, 1));
      fmt::print(stderr, "\r[{}{}] {:>3}%  {} / {} instructions, cycle {}{}",
                 std::string(filled, '#'), std::string(width - filled, '.'),
                 100 * done / std::max<uint64_t>(total, 1), done, total, cycle,
                 done == total ? "\n" : "");
    };
  }
  SimResult r = simulate(prog, in.accel, in.tech, ro);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  ReportInputs ri;
  ri.model = prog.info.model;
  ri.model_source = vm.count("program") ? vm["program"].as<std::string>() : in.model.source;
  ri.accelerator = in.accel.name;
  ri.accelerator_source = in.accel.source;
  ri.profile = to_string(prog.info.profile);
  ri.version = ACCELTRAN_VERSION;
  ri.seq_len = prog.info.seq_len;
  ri.batch = prog.info.batch;
  ri.activation_sparsity = prog.info.activation_sparsity;
  ri.weight_sparsity = prog.info.weight_sparsity;
  ri.loop_order = prog.info.loop_order.str();
  ri.reference_bugs = switches_on(in.compile.published, SwitchFamily::bug);
  ri.reference_fixes = switches_on(in.compile.published, SwitchFamily::fix);
  print_report(r, ri, wall);
  if (!r.finished) {  // a failed run leaves --out as it was
    fmt::print(stderr, "error: {}\n", r.deadlock);
    return 1;
  }
  write_report_files(out.staging(), r, ri);
  if (functional && vm.count("dump-outputs")) {
    const std::string path = vm["dump-outputs"].as<std::string>();
    FloatTensor t({r.functional.batch, r.functional.seq_len, r.functional.hidden});
    t.data = r.functional.output;
    if (path.size() > 4 && path.substr(path.size() - 4) == ".npy")
      write_npy(path, t);
    else if (path.size() > 12 && path.substr(path.size() - 12) == ".safetensors")
      write_safetensors(path, {{"last_hidden_state", t}});
    else
      throw UsageError(
          fmt::format("option --dump-outputs: '{}' must end in .npy or .safetensors", path));
    fmt::print("  outputs: {} (last_hidden_state, {} x {} x {})\n", path, t.shape[0], t.shape[1],
               t.shape[2]);
  }
  out.commit();
  fmt::print("  report: {0}/report.json, {0}/report.csv, {0}/ops.csv, {0}/timeline.csv{1}\n",
             out_dir, vcd_shown.empty() ? "" : ", VCD: " + vcd_shown);
  return 0;
}

}  // namespace acceltran::cli
