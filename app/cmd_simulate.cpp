// acceltran simulate: run a transformer on an accelerator and report cycles, energy, power, area.
// The command in three steps: parse the command line into typed options, validate them as a
// whole, then run (read the inputs, compile, simulate, report).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/output_file.hpp"
#include "acceltran/hw/accelerator.hpp"
#include "acceltran/hw/memory/memory_trace.hpp"
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
  po::options_description program = option_group("Program and report");
  po::options_description functional = option_group("Functional runs and pruning");
  po::options_description simulation = option_group("Simulation");
  po::options_description output = option_group("Output");
  po::options_description general = option_group("General");
  // clang-format off
  program.add_options()
    ("program", po::value<std::string>(),
     "run an instruction file written by `acceltran compile -o` instead of compiling --model "
     "(the options it was compiled with are checked against its record, docs/user-guide.md)")
    ("from-report", po::value<std::string>(),
     "run again the run of a report.json: its command line, in its working directory, after "
     "checking that its inputs resolve as recorded (only --out and --progress go with it)");
  functional.add_options()
    ("functional", po::bool_switch(),
     "real values flow through the hardware (Q4.16 lanes, DynaTran module); per-tile sparsity "
     "and effectual MACs come from the data; per-layer error against a float32 reference")
    ("threshold", po::value<double>(),
     "DynaTran threshold tau (Q4.16 value). Performance mode: sets the activation sparsity to "
     "P(|x| <= tau) for unit-variance activations, erf(tau/sqrt(2)) (excludes --sparsity). "
     "With --functional: the comparators' tau (default 0)")
    ("dump-outputs", po::value<std::string>(),
     "--functional: write the final hidden states (batch x seq x hidden) to FILE.npy or "
     "FILE.safetensors");
  add_functional_options(functional);
  simulation.add_options()
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
    ("check-protocol", po::bool_switch(),
     "a TLM-2.0 base-protocol checker on every socket (the first violation ends the run)");
  output.add_options()
    ("out", po::value<std::string>()->default_value("out"),
     "folder for report.json, report.csv, ops.csv and timeline.csv")
    ("vcd", po::value<std::string>(), "write a VCD trace (open it in GTKWave)")
    ("trace-window", po::value<std::string>(), "limit the VCD to cycles T0:T1")
    ("memory-trace", po::value<std::string>(),
     "write the main-memory traffic as a trace for a DRAM simulator (one line per 64-byte access)")
    ("memory-trace-format", po::value<std::string>()->default_value("dramsys"),
     "dramsys (STL: cycle, read/write, address), ramulator (Ramulator 2 LD/ST lines)")
    ("timeline-samples", po::value<uint64_t>()->default_value(200), "rows of timeline.csv")
    ("progress", po::bool_switch(),
     "progress bar on stderr, always (default: on a terminal, for runs over a second)");
  general.add_options()
    ("help,h", "show this help");
  // clang-format on
  add_input_options(desc);
  desc.add(program).add(functional).add(simulation).add(output).add(general);
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
  std::optional<std::string> memory_trace_path;
  bool memory_trace_ramulator = false, memory_trace_format_given = false;
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
  // Options given that the compiler alone reads: --program would ignore them.
  std::vector<std::string> compile_only_given;
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
  o.memory_trace_path = optional_value<std::string>(vm, "memory-trace");
  o.memory_trace_ramulator =
      choice<bool>(vm, "memory-trace-format", {{"dramsys", false}, {"ramulator", true}})
          .value_or(false);
  o.memory_trace_format_given = !vm["memory-trace-format"].defaulted();
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
  for (const char* key : {"weights", "tokens", "topk", "policy", "dump-outputs"})
    if (vm.count(key)) o.functional_only_given.push_back(key);
  o.prune_given = !vm["prune"].defaulted();
  o.sparsity_given = vm.count("sparsity") > 0;
  o.sparsity_profile_given = vm.count("sparsity-profile") > 0;
  for (const char* key : {"sparsity", "weight-sparsity", "sparsity-profile", "threshold",
                          "tiles-per-instruction", "pipeline-blocks", "first-layer-only"})
    if (vm.count(key) && !vm[key].defaulted()) o.compile_only_given.push_back(key);
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
  if (o.program_path && !o.compile_only_given.empty())
    throw UsageError(fmt::format(
        "option --{} is fixed when the program is compiled, so --program {} would ignore it: "
        "give it to `acceltran compile -o` instead",
        o.compile_only_given.front(), *o.program_path));
  // (With --sparsity-profile, load_inputs refuses --threshold whatever its value.)
  if (!o.functional && o.threshold && !o.sparsity_profile_given &&
      !(*o.threshold >= 0 && *o.threshold < 8))
    throw UsageError(
        fmt::format("option --threshold: value {} outside the Q4.16 range [0, 8)", *o.threshold));
  if (o.lookahead == 0) throw UsageError("option --lookahead: value 0 must be > 0");
  if (o.trace_window && !o.vcd_path)
    throw UsageError("option --trace-window limits the VCD trace: it needs --vcd");
  if (o.memory_trace_format_given && !o.memory_trace_path)
    throw UsageError(
        "option --memory-trace-format is the format of the memory trace: it needs --memory-trace");
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

// ---------------------------------------------------------------- --program

// A program compiled for something else than this run: one error naming the file, the key, the
// value the file records and the value this run expects.
[[noreturn]] void record_mismatch(const std::string& file, const std::string& key,
                                  const std::string& found, const std::string& expected) {
  throw InputError(fmt::format(
      "{}: key '{}': value {} found, expected {}; recompile it for this run with `acceltran "
      "compile ... -o {}`",
      file, key, found, expected, file));
}

// The accelerator of the run has the settings the program was compiled for.
void check_accelerator_record(const ProgramInfo& info, const std::string& file,
                              const AcceleratorConfig& accel) {
  if (info.accelerator_settings.empty())
    throw InputError(fmt::format(
        "{}: the file has no record of the accelerator it was compiled for; recompile it with "
        "`acceltran compile ... -o {}`",
        file, file));
  for (const Setting& want : accelerator_settings(accel)) {
    const auto found =
        std::find_if(info.accelerator_settings.begin(), info.accelerator_settings.end(),
                     [&](const Setting& s) { return s.key == want.key; });
    const std::string key = "accelerator." + want.key;
    const std::string expected = fmt::format("'{}' ({})", want.value, accel.source);
    if (found == info.accelerator_settings.end()) record_mismatch(file, key, "none", expected);
    if (found->value != want.value)
      record_mismatch(file, key, fmt::format("'{}' ('{}')", found->value, info.accelerator),
                      expected);
  }
}

// The options that shape the program are checked against its record when given, and the
// profile and switches of the run are the program's (the simulator reads them too).
void check_program_record(const Program& prog, const std::string& file, Inputs& in,
                          const po::variables_map& vm) {
  const ProgramInfo& info = prog.info;
  auto given = [&](const char* key) { return vm.count(key) && !vm[key].defaulted(); };
  check_accelerator_record(info, file, in.accel);
  if (given("model")) {
    if (info.model_fingerprint.empty())
      record_mismatch(file, "model_fingerprint", "none", "a record of the model");
    const std::string fingerprint = model_fingerprint(in.model);
    if (info.model_fingerprint != fingerprint)
      record_mismatch(file, "model_fingerprint",
                      fmt::format("{} (model '{}')", info.model_fingerprint, info.model),
                      fmt::format("{} (--model {})", fingerprint, in.model.source));
  }
  if (given("seq-len") && info.seq_len != in.compile.seq_len)
    record_mismatch(file, "seq_len", std::to_string(info.seq_len),
                    fmt::format("{} (--seq-len)", in.compile.seq_len));
  if (given("batch") && in.compile.batch > 0 && info.batch != in.compile.batch)
    record_mismatch(file, "batch", std::to_string(info.batch),
                    fmt::format("{} (--batch)", in.compile.batch));
  if (given("profile") && info.profile != in.compile.profile)
    record_mismatch(file, "profile", to_string(info.profile),
                    fmt::format("{} (--profile)", to_string(in.compile.profile)));
  in.compile.profile = info.profile;
  for (const auto& [option, key, family, recorded] :
       {std::tuple{"reference-bugs", "reference_bugs", SwitchFamily::bug, &info.reference_bugs},
        std::tuple{"reference-fixes", "reference_fixes", SwitchFamily::fix,
                   &info.reference_fixes}}) {
    const std::vector<std::string> asked = switches_on(in.compile.published, family);
    if (given(option) && asked != *recorded)
      record_mismatch(file, key, fmt::format("'{}'", fmt::join(*recorded, ",")),
                      fmt::format("'{}' (--{})", fmt::join(asked, ","), option));
    for (const std::string& name : *recorded)
      if (!set_switch(in.compile.published, family, name))
        record_mismatch(file, key, fmt::format("'{}'", name),
                        fmt::format("one of {}", fmt::join(switch_names(family), ", ")));
  }
}

// The program of the run: read from --program, or compiled from the model.
Program program_of_run(const SimulateOptions& o, Inputs& in, const FunctionalInput* functional,
                       const po::variables_map& vm) {
  if (o.program_path) {
    Program prog = read_program_file(*o.program_path);
    check_program_record(prog, *o.program_path, in, vm);
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

// The run options with "auto" resolved, as report.json records them.
nlohmann::ordered_json run_options_json(const RunOptions& ro) {
  return {
      {"in_order", ro.control.in_order},
      {"lookahead", ro.control.lookahead},
      {"memory_model", ro.sim.memory_model == MemoryModel::ideal ? "ideal" : "detailed"},
      {"bandwidth_convention", ro.sim.bandwidth == BandwidthConvention::words ? "words" : "bytes"},
      {"eviction", ro.sim.eviction == EvictionPolicy::next_use ? "next-use"
                   : ro.sim.eviction == EvictionPolicy::lru    ? "lru"
                                                               : "fifo"},
      {"leakage_when_idle", ro.sim.leakage_when_idle},
      {"check_protocol", ro.sim.check_protocol},
      {"timeline_samples", ro.timeline_samples}};
}

// The command line as report.json records it: without --out and --progress.
std::vector<std::string> recorded_command_line(const std::vector<std::string>& args) {
  std::vector<std::string> kept{"simulate"};
  for (size_t n = 0; n < args.size(); ++n) {
    if (args[n] == "--progress" || args[n].rfind("--out=", 0) == 0) continue;
    if (args[n] == "--out") {
      ++n;
      continue;
    }
    kept.push_back(args[n]);
  }
  return kept;
}

ReportInputs report_inputs(const SimulateOptions& o, const Program& prog, const Inputs& in,
                           const RunOptions& ro, const std::vector<std::string>& args) {
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
  ri.sparsity_profile_source = in.compile.tensor_sparsity_source;
  ri.sparsity_profile = in.compile.tensor_sparsity;
  ri.model_fingerprint = o.program_path ? prog.info.model_fingerprint : model_fingerprint(in.model);
  if (o.program_path) ri.program = *o.program_path;
  ri.accelerator_settings = accelerator_settings(in.accel);
  ri.technology_source = in.tech.source;
  ri.technology_settings = technology_settings(in.tech);
  ri.run_options = run_options_json(ro);
  ri.models_dir = models_dir();
  std::error_code ec;
  ri.working_directory = std::filesystem::current_path(ec).string();
  ri.command_line = recorded_command_line(args);
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

// ---------------------------------------------------------------- --from-report

// A run again from a report.json: its command line, in its working directory and models folder,
// must resolve to the inputs the report records (`inputs`); the new report is then the same.
struct Replay {
  std::string file;
  nlohmann::ordered_json inputs;
};

// The recorded value of `key` (a string, or an array of strings) in the report's inputs.
template <typename T>
T recorded(const Replay& replay, const char* key) {
  const auto it = replay.inputs.find(key);
  try {
    if (it != replay.inputs.end()) return it->get<T>();
  } catch (const nlohmann::json::exception&) {
  }
  throw InputError(fmt::format(
      "{}: key 'inputs.{}' missing or malformed: give the report.json of a `simulate` run of "
      "this version ({})",
      replay.file, key, ACCELTRAN_VERSION));
}

// The options given with --from-report: --out and --progress; anything else is refused.
std::vector<std::string> replay_own_options(const std::vector<std::string>& args,
                                            std::string* report) {
  std::vector<std::string> own;
  if (std::none_of(args.begin(), args.end(),
                   [](const std::string& a) { return a.rfind("--from-report", 0) == 0; }))
    return own;
  for (size_t n = 0; n < args.size(); ++n) {
    const std::string& a = args[n];
    const bool takes_value = a == "--out" || a == "--from-report";
    if (takes_value && n + 1 >= args.size())
      throw UsageError(fmt::format("option {}: missing its value", a));
    if (a == "--from-report" || a.rfind("--from-report=", 0) == 0) {
      *report = a == "--from-report" ? args[++n] : a.substr(14);
    } else if (a == "--out" || a == "--progress" || a.rfind("--out=", 0) == 0) {
      own.push_back(a);
      if (a == "--out") own.push_back(args[++n]);
    } else {
      throw UsageError(fmt::format(
          "'{}' with --from-report: the report gives every input; only --out and --progress "
          "may be given with it",
          a));
    }
  }
  return own;
}

// The command line of the report's run (without its output files: --vcd, --trace-window and
// --dump-outputs), with this invocation's --out (made absolute) and --progress.
std::vector<std::string> replay_arguments(const Replay& replay,
                                          const std::vector<std::string>& own) {
  const auto recorded_line = recorded<std::vector<std::string>>(replay, "command_line");
  if (recorded_line.empty() || recorded_line[0] != "simulate")
    throw InputError(
        fmt::format("{}: key 'inputs.command_line': not a `simulate` command line", replay.file));
  std::vector<std::string> args;
  for (size_t n = 1; n < recorded_line.size(); ++n) {
    const std::string& a = recorded_line[n];
    const bool output = a == "--vcd" || a == "--trace-window" || a == "--dump-outputs" ||
                        a == "--memory-trace" || a == "--memory-trace-format";
    if (output) ++n;
    // (--memory-trace=FILE and --memory-trace-format=F)
    if (output || a.rfind("--vcd=", 0) == 0 || a.rfind("--trace-window=", 0) == 0 ||
        a.rfind("--dump-outputs=", 0) == 0 || a.rfind("--memory-trace", 0) == 0)
      continue;
    args.push_back(a);
  }
  std::string out = "out";
  for (size_t n = 0; n < own.size(); ++n) {
    if (own[n] == "--out") out = own[++n];
    if (own[n].rfind("--out=", 0) == 0) out = own[n].substr(6);
    if (own[n] == "--progress") args.push_back("--progress");
  }
  args.push_back("--out");
  args.push_back(std::filesystem::absolute(out).lexically_normal().string());
  return args;
}

// Reads --from-report FILE, if given: `args` becomes the report's command line; the process
// moves to the report's working directory and takes its models folder.
std::optional<Replay> prepare_replay(std::vector<std::string>& args) {
  std::string file;
  const std::vector<std::string> own = replay_own_options(args, &file);
  if (file.empty()) return std::nullopt;
  Replay replay{file, {}};
  const std::string text = read_input_file(file, limits::kMaxJsonBytes, "report");
  check_json_text(text, file, limits::kMaxJsonBytes);
  try {
    replay.inputs = nlohmann::ordered_json::parse(text).at("inputs");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(
        fmt::format("{}: not a report.json with 'inputs' ({})", file, quoted_value(e.what())));
  }
  if (!replay.inputs.is_object())
    throw InputError(fmt::format("{}: key 'inputs': not an object", file));
  const auto version = recorded<std::string>(replay, "version");
  if (version != ACCELTRAN_VERSION)
    throw InputError(fmt::format(
        "{}: key 'inputs.version': value '{}' found, expected '{}' (this acceltran): another "
        "version may report other figures; run the report's version",
        file, quoted_value(version), ACCELTRAN_VERSION));
  args = replay_arguments(replay, own);
  const auto folder = recorded<std::string>(replay, "working_directory");
  if (chdir(folder.c_str()) != 0)
    throw InputError(fmt::format("{}: key 'inputs.working_directory': cannot enter '{}': {}", file,
                                 quoted_value(folder), std::strerror(errno)));
  setenv("ACCELTRAN_MODELS_DIR", recorded<std::string>(replay, "models_dir").c_str(), 1);
  return replay;
}

// The first key whose value differs between the report's inputs and this run's ("a.b" or, in
// a [key, value] list, "a.KEY"), with both values; empty when they agree.
std::optional<std::array<std::string, 3>> first_difference(const nlohmann::ordered_json& was,
                                                           const nlohmann::ordered_json& now,
                                                           const std::string& key) {
  if (was == now) return std::nullopt;
  if (was.is_object() && now.is_object()) {
    for (const auto& [name, value] : now.items()) {
      const auto it = was.find(name);
      if (it == was.end())
        return std::array<std::string, 3>{key + "." + name, "none", value.dump()};
      if (auto d = first_difference(*it, value, key + "." + name)) return d;
    }
    for (const auto& [name, value] : was.items())
      if (!now.contains(name))
        return std::array<std::string, 3>{key + "." + name, value.dump(), "none"};
  }
  if (was.is_array() && now.is_array() && was.size() == now.size())
    for (size_t n = 0; n < now.size(); ++n) {
      const bool pair = now[n].is_array() && now[n].size() == 2 && now[n][0].is_string();
      const std::string element =
          pair ? key + "." + now[n][0].get<std::string>() : fmt::format("{}[{}]", key, n);
      if (pair && was[n].is_array() && was[n].size() == 2 && was[n][0] == now[n][0]) {
        if (was[n][1] != now[n][1])
          return std::array<std::string, 3>{element, was[n][1].dump(), now[n][1].dump()};
        continue;
      }
      if (auto d = first_difference(was[n], now[n], element)) return d;
    }
  return std::array<std::string, 3>{key, was.dump(), now.dump()};
}

// The run resolves to the inputs its report records, or one error names the first that differs.
void check_replay(const Replay& replay, ReportInputs& ri) {
  ri.command_line = recorded<std::vector<std::string>>(replay, "command_line");
  nlohmann::ordered_json now;
  to_json(now, ri);
  if (auto d = first_difference(replay.inputs, now, "inputs"))
    throw InputError(fmt::format(
        "{}: key '{}': value {} recorded, but the run resolves it to {}: its inputs changed "
        "since the report was written, so it cannot be reproduced",
        replay.file, (*d)[0], quoted_value((*d)[1]), quoted_value((*d)[2])));
}

// What a functional run's weights and tokens would otherwise refuse only once the weights are
// built: the profile, and --seq-len beyond the model's positions (without --tokens).
void check_functional_inputs(const po::variables_map& vm, const Inputs& in) {
  if (in.compile.profile != Profile::hardware)
    throw UsageError("option --functional runs the default profile (--profile hardware) only");
  if (!vm.count("tokens") && in.compile.seq_len > in.model.max_position)
    throw UsageError(
        fmt::format("option --seq-len: value {} exceeds max_position_embeddings {} of {}",
                    in.compile.seq_len, in.model.max_position, in.model.source));
}

int run_simulate(po::variables_map& vm, const SimulateOptions& o,
                 const std::vector<std::string>& args, const Replay* replay) {
  // Every option and output is checked before the heavy work (a functional run's weights).
  Inputs in = load_inputs(vm);
  if (o.functional) check_functional_inputs(vm, in);
  OutputFolder out(o.out_dir);  // the old report stays until the new one is complete
  if (o.functional && o.dump_outputs_path)
    check_output_file(*o.dump_outputs_path, "the --dump-outputs file");
  std::optional<VcdOutput> vcd;
  if (o.vcd_path && !o.vcd_path->empty()) vcd.emplace(*o.vcd_path, out);
  MemoryTrace memory_trace;
  if (o.memory_trace_path)
    check_output_file(out.place(*o.memory_trace_path), "the --memory-trace file");
  FunctionalSetup fs;
  if (o.functional) {
    prepare_functional(vm, fs);  // --tokens, the pruning options, then the weights
    if (vm.count("tokens")) load_run_shape(vm, in);  // the tokens set --batch and --seq-len
    finish_functional(vm, in, fs);
  }
  if (!o.functional && o.threshold) apply_threshold(*o.threshold, in.compile);
  const FunctionalInput* functional = o.functional ? &fs.in : nullptr;
  const Program prog = program_of_run(o, in, functional, vm);
  RunOptions ro = run_options(o, in.compile);  // with --program: its profile and switches
  ro.functional = functional;
  ro.sim.activation_sparsity = prog.info.activation_sparsity;
  ro.sim.weight_sparsity = prog.info.weight_sparsity;
  ReportInputs ri = report_inputs(o, prog, in, ro, args);
  if (replay) check_replay(*replay, ri);
  if (vcd) ro.trace.vcd_path = vcd->trace_path();

  if (o.memory_trace_path) ro.memory_trace = &memory_trace;
  const auto start = std::chrono::steady_clock::now();
  ro.control.progress = progress_bar(o.progress, start);
  const SimResult r = simulate(prog, in.accel, in.tech, ro);
  restore_stack_bounds();
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  print_report(r, ri, wall_seconds);
  if (vcd) vcd->finish();  // the trace of a failed run too (outside --out)
  if (!r.finished) {       // a failed run leaves --out as it was
    fmt::print(stderr, "error: {}\n", r.deadlock);
    return 1;
  }
  write_report_files(out.staging(), r, ri, out.shown());
  if (o.functional && o.dump_outputs_path) dump_outputs(*o.dump_outputs_path, r.functional);
  if (o.memory_trace_path) {
    std::ostringstream trace;
    if (o.memory_trace_ramulator)
      memory_trace.write_ramulator(trace);
    else
      memory_trace.write_stl(trace, r.clock_mhz);
    write_output_file(out.place(*o.memory_trace_path), trace.str(), *o.memory_trace_path);
  }
  out.commit();
  fmt::print("  report: {0}/report.json, {0}/report.csv, {0}/ops.csv, {0}/timeline.csv{1}\n",
             o.out_dir, vcd ? ", VCD: " + vcd->shown() : "");
  return 0;
}

}  // namespace

int cmd_simulate(const std::vector<std::string>& given) {
  std::vector<std::string> args = given;
  const std::optional<Replay> replay = prepare_replay(args);
  po::options_description desc = option_group("");
  add_simulate_options(desc);
  po::variables_map vm;
  int exit_code = 0;
  if (!parse_args(args, desc, kUsage, vm, &exit_code)) return exit_code;
  const SimulateOptions options = parse_simulate_options(vm);
  validate(options);
  return run_simulate(vm, options, args, replay ? &*replay : nullptr);
}

}  // namespace acceltran::cli
