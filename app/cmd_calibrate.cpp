// acceltran calibrate: the DynaTran threshold tau that reaches a target sparsity on given inputs.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "functional.hpp"

namespace acceltran::cli {

namespace {

constexpr const char* kUsage =
    "usage: acceltran calibrate --target-sparsity S [options]\n\n"
    "Finds the DynaTran threshold tau at which the tensors the post-sparsity units prune reach\n"
    "the target sparsity (fraction of zeros over all of them), by bisection on the sparsity\n"
    "measured by the functional data path (Q4.16, as in `simulate --functional`) over the given\n"
    "weights and tokens. Prints tau and the sparsity reached per layer.";

struct Measured {
  double overall = 0;
  std::map<int, std::pair<uint64_t, uint64_t>> per_layer;  // layer -> (zeros, elements)
};

Measured measure(const Program& prog, const FunctionalInput& base, double tau) {
  FunctionalInput in = base;
  in.prune.kind = PruneMode::Kind::dynatran;
  in.prune.tau = tau;
  Datapath dp(prog, in);
  StandalonePruner post(in.prune);
  run_datapath(dp, post);
  Measured m;
  uint64_t z = 0, n = 0;
  for (const Op& op : prog.ops) {
    if (!op.prune) continue;
    const OpValues& v = dp.op_values()[op.id];
    z += v.zeros;
    n += v.elements;
    auto& l = m.per_layer[op.layer];
    l.first += v.zeros;
    l.second += v.elements;
  }
  m.overall = n ? static_cast<double>(z) / static_cast<double>(n) : 0;
  return m;
}

}  // namespace

int cmd_calibrate(const std::vector<std::string>& args) {
  po::options_description desc = option_group("");
  add_input_options(desc);
  po::options_description functional = option_group("Functional data");
  add_functional_options(functional);
  po::options_description calibration = option_group("Calibration");
  // clang-format off
  calibration.add_options()
    ("target-sparsity", po::value<double>(), "the sparsity to reach, in (0, 1)")
    ("tolerance", po::value<double>()->default_value(0.001),
     "stop when the measured sparsity is this close to the target")
    ("help,h", "show this help");
  // clang-format on
  desc.add(functional).add(calibration);
  po::variables_map vm;
  int rc = 0;
  if (!parse_args(args, desc, kUsage, vm, &rc)) return rc;
  if (!vm.count("target-sparsity")) throw UsageError("option --target-sparsity is required");
  if (vm["prune"].as<std::string>() != "dynatran")
    throw UsageError("option --prune: calibrate finds DynaTran's tau (--prune dynatran)");
  const double target = vm["target-sparsity"].as<double>();
  if (!(target > 0 && target < 1))
    throw UsageError(fmt::format("option --target-sparsity: value {} outside (0, 1)", target));
  const double tol = vm["tolerance"].as<double>();
  if (!(tol > 0 && tol < 0.5))
    throw UsageError(fmt::format("option --tolerance: value {} outside (0, 0.5)", tol));
  FunctionalSetup fs;
  prepare_functional(vm, fs);
  Inputs in = load_inputs(vm);
  finish_functional(vm, in, fs);
  const Program prog = compile_within_limits(in.model, in.accel, in.tech, in.compile);

  // Sparsity rises with tau; tau lives in [0, 8) (Q4.16). Bisection on the Q4.16 grid.
  double lo = 0, hi = 8;
  Measured at_lo = measure(prog, fs.in, lo), best = at_lo;
  double best_tau = lo;
  if (at_lo.overall >= target) {
    hi = lo;
  } else {
    for (int it = 0; it < 40 && hi - lo > 1.0 / 65536; ++it) {
      const double mid = 0.5 * (lo + hi);
      const Measured m = measure(prog, fs.in, mid);
      if (std::abs(m.overall - target) < std::abs(best.overall - target)) {
        best = m;
        best_tau = mid;
      }
      if (std::abs(m.overall - target) <= tol) break;
      (m.overall < target ? lo : hi) = mid;
    }
  }
  fmt::print("calibrate: {} on {}, batch {}, sequence {}, {} weights, tokens {}\n", prog.info.model,
             in.accel.name, prog.info.batch, prog.info.seq_len,
             fs.weights.synthetic ? "synthetic" : "checkpoint", fs.in.tokens_source);
  fmt::print("  target sparsity {:.4f}: tau = {:.6f} (Q4.16 {}), measured {:.4f}\n", target,
             best_tau, static_cast<int64_t>(std::llround(best_tau * 65536)), best.overall);
  fmt::print("  layer   sparsity of pruned tensors\n");
  for (const auto& [layer, zn] : best.per_layer)
    fmt::print("  {:>5}   {:.4f}\n", layer,
               zn.second ? static_cast<double>(zn.first) / static_cast<double>(zn.second) : 0.0);
  fmt::print("  use: acceltran simulate --functional --threshold {:.6f} ...\n", best_tau);
  return 0;
}

}  // namespace acceltran::cli
