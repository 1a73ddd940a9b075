// acceltran sweep: design-space exploration (local process pool or Slurm job array).
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "common.hpp"
#include "sweep.hpp"

namespace acceltran::cli {

namespace {

constexpr const char* kUsage =
    "usage: acceltran sweep SPEC.yaml --out DIR [options]\n"
    "       acceltran sweep collect DIR\n"
    "       acceltran sweep worker DIR --points LIST [-j N]\n"
    "                          (run by the Slurm job array)\n"
    "\n"
    "Runs `acceltran simulate` once per point of a design-space spec, each point in\n"
    "its own process and folder DIR/points/NNNN/, and writes DIR/results.csv (one row\n"
    "per point: inputs and every report metric) and DIR/pareto.csv (points not\n"
    "dominated on throughput, energy per sequence and area). Re-running skips the\n"
    "points already done; a failed point is recorded with its error. Spec (YAML):\n"
    "\n"
    "  models: [bert-tiny]           # or model: NAME; default bert-tiny\n"
    "  accelerators: [edge]          # or accelerator: NAME; default edge\n"
    "  fixed: {--seq-len: 128}       # settings of every point\n"
    "  grid:                         # every combination, first key outermost\n"
    "    pe: [64, 128, 256]          # any accelerator key (as for --set)\n"
    "    --sparsity: [0.3, 0.5]      # any simulate option (--name)\n"
    "  points:                       # explicit points, after the grid's\n"
    "    - {pe: 512, --loop-order: k_i_j_b}\n"
    "\n"
    "A key is given once: a grid axis or a point that would override `fixed` (or the\n"
    "top-level model or accelerator) is refused. A relative --vcd or --dump-outputs\n"
    "path is written into each point's folder (DIR/points/NNNN/PATH); an absolute one\n"
    "must differ from point to point. DIR is a sweep folder (resumed) or a new one,\n"
    "refused as simulate refuses its --out (\"/\", \".\", a file, a folder of other\n"
    "files) and when it holds a report.";

void set_models_dir(const po::variables_map& vm) {
  if (vm.count("models-dir"))
    setenv("ACCELTRAN_MODELS_DIR", vm["models-dir"].as<std::string>().c_str(), 1);
}

}  // namespace

bool parse_cli(const std::vector<std::string>& args, const po::options_description& desc,
               const char* positional, const std::string& usage, po::variables_map& vm, int* rc,
               const std::function<void()>& check) {
  po::positional_options_description pos;
  pos.add(positional, 1);
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    if (vm.count("help")) {
      // The usage as written (it holds a YAML example); the options grouped and wrapped.
      std::cout << usage << help_text("", desc);
      *rc = 0;
      return false;
    }
    po::notify(vm);
    if (check) check();
  } catch (const po::error& e) {
    fmt::print(stderr, "error: {}\n(see --help)\n", e.what());
    *rc = 2;
    return false;
  }
  return true;
}

namespace {

int default_jobs() {
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

int cmd_collect(const std::vector<std::string>& args) {
  po::options_description desc = option_group("Options");
  desc.add_options()("dir", po::value<std::string>()->required(), "sweep folder")("help,h",
                                                                                  "show this help");
  po::variables_map vm;
  int rc = 0;
  if (!parse_cli(args, desc, "dir",
                 "usage: acceltran sweep collect DIR\n\nWrites DIR/results.csv and "
                 "DIR/pareto.csv from the points done so far and lists\nthe missing ones.\n",
                 vm, &rc))
    return rc;
  sweep::check_outcome(vm["dir"].as<std::string>(),
                       sweep::collect(vm["dir"].as<std::string>(), true));
  return 0;
}

int cmd_worker(const std::vector<std::string>& args) {
  po::options_description options = option_group("Options");
  // clang-format off
  options.add_options()
    ("dir", po::value<std::string>()->required(), "sweep folder")
    ("points", po::value<std::string>()->required(), "point indices, e.g. 0-9,12")
    ("jobs,j", po::value<int>()->default_value(1), "simulate processes at once")
    ("help,h", "show this help");
  // clang-format on
  po::options_description desc;
  desc.add(options);
  po::variables_map vm;
  int rc = 0;
  if (!parse_cli(args, desc, "dir", kUsage, vm, &rc)) return rc;
  const std::string dir = vm["dir"].as<std::string>();
  const auto plan = sweep::read_plan(dir);
  std::vector<int> todo;
  for (int i : sweep::parse_index_list(vm["points"].as<std::string>(),
                                       static_cast<int>(plan.points.size())))
    if (!sweep::point_done(dir, plan.points[i])) todo.push_back(i);
  sweep::RunOptions ro;
  ro.jobs = vm["jobs"].as<int>();
  ro.progress = false;
  ro.exe = sweep::self_exe();
  const int failed = sweep::run_points(dir, plan, todo, ro);
  fmt::print("worker: {} points run, {} failed\n", todo.size(), failed);
  return failed ? 1 : 0;
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "collect")
    return cmd_collect(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!args.empty() && args[0] == "worker")
    return cmd_worker(std::vector<std::string>(args.begin() + 1, args.end()));

  po::options_description sweep_group = option_group("Sweep");
  po::options_description slurm_group = option_group("Slurm");
  po::options_description general_group = option_group("General");
  // clang-format off
  sweep_group.add_options()
    ("spec", po::value<std::string>(), "sweep spec (YAML)")
    ("out,o", po::value<std::string>(), "sweep folder (required)")
    ("jobs,j", po::value<int>()->default_value(default_jobs()),
     "simulate processes at once (default: the core count)")
    ("backend", po::value<std::string>()->default_value("local"),
     "local (a process pool here) or slurm (a job array submitted with sbatch)")
    ("no-progress", po::bool_switch(), "no progress bar (there is none when stderr is not a "
     "terminal)")
    ("exec-points", po::bool_switch(), "start each point by exec of acceltran instead of a fork "
     "of this process (slower start-up; docs/performance.md, \"Sweeps\")");
  slurm_group.add_options()
    ("slurm-opt", po::value<std::vector<std::string>>()->composing(),
     "sbatch option for the job array, e.g. --slurm-opt=--partition=short "
     "--slurm-opt=--time=00:30:00 (repeatable)")
    ("points-per-task", po::value<int>()->default_value(0),
     "points per Slurm array task (0: at most 100 tasks)")
    ("dry-run", po::bool_switch(), "write the job script, do not submit it");
  general_group.add_options()
    ("models-dir", po::value<std::string>(),
     "folder with technology.yaml, design_space.yaml, accelerators/, transformers/")
    ("help,h", "show this help");
  // clang-format on
  po::options_description desc;
  desc.add(sweep_group).add(slurm_group).add(general_group);
  po::variables_map vm;
  int rc = 0;
  auto check = [&]() {
    if (!vm.count("spec")) throw po::error("missing the sweep spec (SPEC.yaml)");
    if (!vm.count("out")) throw po::error("missing --out DIR (the sweep folder)");
    if (vm["jobs"].as<int>() < 1) throw po::error("option --jobs: must be >= 1");
    const auto b = vm["backend"].as<std::string>();
    if (b != "local" && b != "slurm")
      throw po::error(
          fmt::format("option --backend: value '{}' unknown; allowed: local, slurm", b));
  };
  if (!parse_cli(args, desc, "spec", kUsage, vm, &rc, check)) return rc;
  set_models_dir(vm);
  const std::string dir = vm["out"].as<std::string>();
  const auto plan = sweep::read_spec(vm["spec"].as<std::string>());
  sweep::check_options(plan, sweep::self_exe());
  sweep::prepare_folder(dir, plan);
  std::vector<int> todo;
  for (const auto& p : plan.points)
    if (!sweep::point_done(dir, p)) todo.push_back(p.index);
  const size_t skipped = plan.points.size() - todo.size();

  if (vm["backend"].as<std::string>() == "slurm") {
    sweep::SlurmOptions so;
    if (vm.count("slurm-opt")) so.sbatch_options = vm["slurm-opt"].as<std::vector<std::string>>();
    so.points_per_task = vm["points-per-task"].as<int>();
    so.dry_run = vm["dry-run"].as<bool>();
    if (skipped) fmt::print("{} of {} points already done\n", skipped, plan.points.size());
    return sweep::submit_slurm(dir, plan, todo, so);
  }
  fmt::print("sweep {}: {} points, {} already done, {} to run with {} processes\n", dir,
             plan.points.size(), skipped, todo.size(), vm["jobs"].as<int>());
  std::fflush(stdout);
  sweep::RunOptions ro;
  ro.jobs = vm["jobs"].as<int>();
  ro.progress = !vm["no-progress"].as<bool>();
  ro.exe = sweep::self_exe();
  ro.fork_points = !vm["exec-points"].as<bool>();
  sweep::run_points(dir, plan, todo, ro);
  sweep::check_outcome(dir, sweep::collect(dir, true));
  return 0;
}

}  // namespace acceltran::cli
