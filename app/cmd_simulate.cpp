// acceltran simulate: run a transformer on an accelerator and report cycles, energy, power, area.
// The command in three steps: parse the command line into typed options, validate them as a
// whole, then run (read the inputs, compile, simulate, report).
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/hw/accelerator.hpp"
#include "acceltran/workload/safetensors.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "functional.hpp"
#include "report.hpp"

namespace acceltran::cli {

namespace {

constexpr const char* kUsage =
    "usage: acceltran simulate [options]\n\n"
    "Runs a transformer on an AccelTran accelerator and reports cycles, throughput, energy,\n"
    "power, area, utilization and stalls. With no options: BERT-Tiny on AccelTran-Edge.";

void add_simulate_options(po::options_description& desc) {
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
     "next-use (the part used farthest ahead in the program; a load never evicts one needed "
     "sooner than itself), lru, fifo, auto (next-use; fifo for reference)")
    ("leakage-when-idle", po::bool_switch(),
     "charge leakage for idle units (default: idle units are power-gated)")
    ("help,h", "show this help");
  // clang-format on
}

// ---------------------------------------------------------------- parse

// The format of a --dump-outputs file, from its name.
enum class OutputsFormat { none, npy, safetensors };

OutputsFormat outputs_format(const std::string& path) {
  if (path.size() > 4 && path.substr(path.size() - 4) == ".npy") return OutputsFormat::npy;
  if (path.size() > 12 && path.substr(path.size() - 12) == ".safetensors")
    return OutputsFormat::safetensors;
  return OutputsFormat::none;
}

// The options of `simulate` beyond the inputs (load_inputs and the functional setup read those
// from the variables map). An empty std::optional is "auto" or "not given".
struct SimulateOptions {
  bool functional = false;
  std::optional<std::string> program_path;
  std::optional<double> threshold;
  std::optional<std::string> dump_outputs_path;
  std::string out_dir;
  std::optional<std::string> vcd_path;  // given but empty: no trace
  std::optional<std::string> trace_window;
  uint64_t timeline_samples = 0;
  bool progress = false, check_protocol = false, leakage_when_idle = false;
  uint32_t lookahead = 0;
  std::optional<bool> in_order;  // auto: on for the reference profile
  std::optional<MemoryModel> memory_model;
  std::optional<BandwidthConvention> bandwidth;
  std::optional<EvictionPolicy> eviction;
  // Options given that only a functional run reads.
  std::vector<std::string> functional_only_given;
  bool prune_given = false, sparsity_given = false, sparsity_profile_given = false;
};

template <typename T>
std::optional<T> optional_value(const po::variables_map& vm, const char* key) {
  return vm.count(key) ? std::optional<T>(vm[key].as<T>()) : std::nullopt;
}

// The value of option --key among `values`, or empty for "auto" (named among the allowed values
// in the message when `list_auto`).
template <typename T>
std::optional<T> choice(const po::variables_map& vm, const char* key,
                        const std::vector<std::pair<const char*, T>>& values,
                        bool list_auto = false) {
  const std::string given = vm[key].as<std::string>();
  if (given == "auto") return std::nullopt;
  std::string allowed;
  for (const auto& [name, value] : values) {
    if (given == name) return value;
    allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  }
  if (list_auto) allowed += ", auto";
  throw UsageError(
      fmt::format("option --{}: value '{}' unknown; allowed: {}", key, given, allowed));
}

SimulateOptions parse_simulate_options(const po::variables_map& vm) {
  SimulateOptions o;
  o.functional = vm["functional"].as<bool>();
  o.program_path = optional_value<std::string>(vm, "program");
  o.threshold = optional_value<double>(vm, "threshold");
  o.dump_outputs_path = optional_value<std::string>(vm, "dump-outputs");
  o.out_dir = vm["out"].as<std::string>();
  o.vcd_path = optional_value<std::string>(vm, "vcd");
  o.trace_window = optional_value<std::string>(vm, "trace-window");
  o.timeline_samples = vm["timeline-samples"].as<uint64_t>();
  o.progress = vm["progress"].as<bool>();
  o.check_protocol = vm["check-protocol"].as<bool>();
  o.leakage_when_idle = vm["leakage-when-idle"].as<bool>();
  o.lookahead = vm["lookahead"].as<uint32_t>();
  o.in_order = choice<bool>(vm, "in-order", {{"on", true}, {"off", false}}, true);
  o.memory_model = choice<MemoryModel>(
      vm, "memory-model", {{"detailed", MemoryModel::detailed}, {"ideal", MemoryModel::ideal}});
  o.bandwidth = choice<BandwidthConvention>(
      vm, "bandwidth-convention",
      {{"bytes", BandwidthConvention::bytes}, {"words", BandwidthConvention::words}});
  o.eviction = choice<EvictionPolicy>(vm, "eviction",
                                      {{"next-use", EvictionPolicy::next_use},
                                       {"lru", EvictionPolicy::lru},
                                       {"fifo", EvictionPolicy::fifo}});
  for (const char* key : {"weights", "tokens", "topk", "dump-outputs"})
    if (vm.count(key)) o.functional_only_given.push_back(key);
  o.prune_given = !vm["prune"].defaulted();
  o.sparsity_given = vm.count("sparsity") > 0;
  o.sparsity_profile_given = vm.count("sparsity-profile") > 0;
  return o;
}

// --trace-window T0:T1 as cycles.
std::pair<uint64_t, uint64_t> trace_window_cycles(const std::string& window) {
  std::pair<uint64_t, uint64_t> cycles;
  const auto colon = window.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument(window);
    cycles.first = std::stoull(window.substr(0, colon));
    cycles.second = std::stoull(window.substr(colon + 1));
  } catch (const std::exception&) {
    throw UsageError(fmt::format("option --trace-window: '{}' must be T0:T1 in cycles", window));
  }
  if (cycles.second < cycles.first)
    throw UsageError(fmt::format("option --trace-window: '{}' ends before it begins", window));
  return cycles;
}

// ---------------------------------------------------------------- validate

// Options that exclude or need each other, and values out of range (UsageError, exit 2).
// Functional runs check --threshold with the other pruning options (prepare_functional).
void validate(const SimulateOptions& o) {
  if (!o.functional) {
    if (!o.functional_only_given.empty())
      throw UsageError(
          fmt::format("option --{} needs --functional", o.functional_only_given.front()));
    if (o.prune_given) throw UsageError("option --prune needs --functional");
    if (o.threshold && o.sparsity_given)
      throw UsageError("options --threshold and --sparsity exclude each other");
  }
  if (o.dump_outputs_path && outputs_format(*o.dump_outputs_path) == OutputsFormat::none)
    throw UsageError(fmt::format("option --dump-outputs: '{}' must end in .npy or .safetensors",
                                 *o.dump_outputs_path));
  if (o.functional && o.program_path)
    throw UsageError("option --functional compiles the model itself: it excludes --program");
  // (With --sparsity-profile, load_inputs refuses --threshold whatever its value.)
  if (!o.functional && o.threshold && !o.sparsity_profile_given &&
      !(*o.threshold >= 0 && *o.threshold < 8))
    throw UsageError(
        fmt::format("option --threshold: value {} outside the Q4.16 range [0, 8)", *o.threshold));
  if (o.lookahead == 0) throw UsageError("option --lookahead: value 0 must be > 0");
  if (o.trace_window && !o.vcd_path)
    throw UsageError("option --trace-window limits the VCD trace: it needs --vcd");
  if (o.trace_window) trace_window_cycles(*o.trace_window);
}

// ---------------------------------------------------------------- run

// The run's options; "auto" follows the profile (the reference profile: in-order streams, ideal
// memory, the published word convention, FIFO eviction; docs/fidelity.md).
RunOptions run_options(const SimulateOptions& o, const CompileOptions& compile) {
  const bool reference = compile.profile == Profile::reference;
  RunOptions ro;
  ro.sim.profile = compile.profile;
  ro.sim.published = compile.published;
  ro.control.in_order = o.in_order.value_or(reference);
  ro.control.lookahead = o.lookahead;
  ro.sim.memory_model =
      o.memory_model.value_or(reference ? MemoryModel::ideal : MemoryModel::detailed);
  ro.sim.bandwidth =
      o.bandwidth.value_or(reference ? BandwidthConvention::words : BandwidthConvention::bytes);
  ro.sim.eviction =
      o.eviction.value_or(reference ? EvictionPolicy::fifo : EvictionPolicy::next_use);
  ro.sim.leakage_when_idle = o.leakage_when_idle;
  ro.sim.check_protocol = o.check_protocol;
  ro.timeline_samples = o.timeline_samples;
  if (o.vcd_path) ro.trace.vcd_path = *o.vcd_path;
  if (o.trace_window)
    std::tie(ro.trace.window_begin_cycle, ro.trace.window_end_cycle) =
        trace_window_cycles(*o.trace_window);
  return ro;
}

// Performance runs: --threshold sets the activation sparsity to P(|x| <= tau) for
// unit-variance activations.
void apply_threshold(double tau, CompileOptions& compile) {
  compile.activation_sparsity = std::erf(tau / std::sqrt(2.0));
  if (compile.activation_sparsity >= 1) compile.activation_sparsity = 0.999999;
}

// The program of the run: read from --program, or compiled from the model.
Program program_of_run(const SimulateOptions& o, Inputs& in, const FunctionalInput* functional) {
  if (o.program_path) {
    Program prog = read_program_file(*o.program_path);
    if (prog.info.tile.b != in.accel.tile.b || prog.info.tile.x != in.accel.tile.x)
      throw InputError(fmt::format("{}: compiled for tile {}x{}x{}, but {} has tile {}x{}x{}",
                                   *o.program_path, prog.info.tile.b, prog.info.tile.x,
                                   prog.info.tile.y, in.accel.source, in.accel.tile.b,
                                   in.accel.tile.x, in.accel.tile.y));
    return prog;
  }
  Program prog = compile_within_limits(in.model, in.accel, in.tech, in.compile);
  // Transfers and buffer reservations are sized at compile time: a first pass of the data
  // path measures every tensor's sparsity, and the run is compiled from it.
  if (functional) compile_from_measured_sparsity(*functional, in, prog);
  return prog;
}

// A progress bar on stderr: always with --progress, else on a terminal for runs over 1 s.
std::function<void(uint64_t, uint64_t, uint64_t)> progress_bar(
    bool forced, std::chrono::steady_clock::time_point start) {
  if (!forced && !isatty(STDERR_FILENO)) return {};
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(start);
  return [start, last, forced](uint64_t done, uint64_t total, uint64_t cycle) {
    auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::milliseconds(200) && done < total) return;
    if (!forced && now - start < std::chrono::seconds(1)) return;
    *last = now;
    const int width = 40;
    const int filled = static_cast<int>(width * done / std::max<uint64_t>(total, 1));
    fmt::print(stderr, "\r[{}{}] {:>3}%  {} / {} instructions, cycle {}{}",
               std::string(filled, '#'), std::string(width - filled, '.'),
               100 * done / std::max<uint64_t>(total, 1), done, total, cycle,
               done == total ? "\n" : "");
  };
}

ReportInputs report_inputs(const SimulateOptions& o, const Program& prog, const Inputs& in) {
  ReportInputs ri;
  ri.model = prog.info.model;
  ri.model_source = o.program_path ? *o.program_path : in.model.source;
  ri.accelerator = in.accel.name;
  ri.accelerator_source = in.accel.source;
  ri.profile = prog.info.profile;
  ri.version = ACCELTRAN_VERSION;
  ri.seq_len = prog.info.seq_len;
  ri.batch = prog.info.batch;
  ri.activation_sparsity = prog.info.activation_sparsity;
  ri.weight_sparsity = prog.info.weight_sparsity;
  ri.loop_order = prog.info.loop_order.str();
  ri.reference_bugs = switches_on(in.compile.published, SwitchFamily::bug);
  ri.reference_fixes = switches_on(in.compile.published, SwitchFamily::fix);
  return ri;
}

// --dump-outputs: the final hidden states as last_hidden_state (batch x seq x hidden).
void dump_outputs(const std::string& path, const FunctionalResult& f) {
  FloatTensor t({f.batch, f.seq_len, f.hidden});
  t.data = f.output;
  if (outputs_format(path) == OutputsFormat::npy)
    write_npy(path, t);
  else
    write_safetensors(path, {{"last_hidden_state", t}});
  fmt::print("  outputs: {} (last_hidden_state, {} x {} x {})\n", path, t.shape[0], t.shape[1],
             t.shape[2]);
}

int run_simulate(po::variables_map& vm, const SimulateOptions& o) {
  FunctionalSetup fs;
  if (o.functional) prepare_functional(vm, fs);
  Inputs in = load_inputs(vm);
  if (o.functional) finish_functional(vm, in, fs);
  if (!o.functional && o.threshold) apply_threshold(*o.threshold, in.compile);
  RunOptions ro = run_options(o, in.compile);
  if (o.functional) ro.functional = &fs.in;
  const Program prog = program_of_run(o, in, ro.functional);
  ro.sim.activation_sparsity = prog.info.activation_sparsity;
  ro.sim.weight_sparsity = prog.info.weight_sparsity;

  OutputFolder out(o.out_dir);  // the old report stays until the new one is complete
  if (o.functional && o.dump_outputs_path)
    check_output_file(*o.dump_outputs_path, "the --dump-outputs file");
  std::optional<VcdOutput> vcd;
  if (!ro.trace.vcd_path.empty()) {
    vcd.emplace(ro.trace.vcd_path, out);
    ro.trace.vcd_path = vcd->trace_path();
  }
  const auto start = std::chrono::steady_clock::now();
  ro.control.progress = progress_bar(o.progress, start);
  const SimResult r = simulate(prog, in.accel, in.tech, ro);
  restore_stack_bounds();
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const ReportInputs ri = report_inputs(o, prog, in);
  print_report(r, ri, wall_seconds);
  if (vcd) vcd->finish();  // the trace of a failed run too (outside --out)
  if (!r.finished) {       // a failed run leaves --out as it was
    fmt::print(stderr, "error: {}\n", r.deadlock);
    return 1;
  }
  write_report_files(out.staging(), r, ri, out.shown());
  if (o.functional && o.dump_outputs_path) dump_outputs(*o.dump_outputs_path, r.functional);
  out.commit();
  fmt::print("  report: {0}/report.json, {0}/report.csv, {0}/ops.csv, {0}/timeline.csv{1}\n",
             o.out_dir, vcd ? ", VCD: " + vcd->shown() : "");
  return 0;
}

}  // namespace

int cmd_simulate(const std::vector<std::string>& args) {
  po::options_description desc("simulate options");
  add_simulate_options(desc);
  po::variables_map vm;
  int exit_code = 0;
  if (!parse_args(args, desc, kUsage, vm, &exit_code)) return exit_code;
  const SimulateOptions options = parse_simulate_options(vm);
  validate(options);
  return run_simulate(vm, options);
}

}  // namespace acceltran::cli
