// acceltran calibrate: the DynaTran threshold tau that reaches a target sparsity on given inputs.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

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
    "the target sparsity (fraction of zeros over all of them, padding left out), by a bracketed\n"
    "interpolation search (in log tau) on the sparsity measured by the functional data path\n"
    "(Q4.16, as in `simulate --functional`) over the given weights and tokens. With --policy,\n"
    "the tau of every thresholded class of the policy; with --per-class, one tau per class (a\n"
    "kept fraction of the row per top-k class), each class to the target, or each to its own\n"
    "with --target-sparsity q=0.3,scores=0.5,... Prints tau, the passes of the data path it\n"
    "took, and the sparsity reached per layer and per class; --write-policy FILE saves the\n"
    "calibrated policy.";

struct Measured {
  double overall = 0;
  std::map<int, std::pair<uint64_t, uint64_t>> per_layer;  // layer -> (zeros, elements)
  std::array<ClassCount, kTensorKinds> classes{};
  double of(int kind) const { return classes[static_cast<size_t>(kind)].unpadded_sparsity(); }
};

int data_path_passes = 0;  // measure() calls of this process, for the printout

Measured measure(const Program& prog, const FunctionalInput& base, const PrunePolicy& policy) {
  ++data_path_passes;
  FunctionalInput in = base;
  in.policy = policy;
  Datapath dp(prog, in);
  StandalonePruner post(in.prune);
  run_datapath(dp, post);
  Measured m;
  for (const Op& op : prog.ops) {
    if (!op.prune) continue;
    const OpValues& v = dp.op_values()[op.id];
    auto& l = m.per_layer[op.layer];
    l.first += v.zeros;
    l.second += v.elements;
  }
  m.classes = dp.class_counts();
  uint64_t z = 0, n = 0;
  for (const ClassCount& c : m.classes) {
    z += c.unpadded_zeros;
    n += c.unpadded_elements;
  }
  m.overall = n ? static_cast<double>(z) / static_cast<double>(n) : 0;
  return m;
}

bool thresholded(const PrunePolicy& p, int kind) {
  return p.rules[static_cast<size_t>(kind)].mode == KindRule::Mode::threshold;
}
bool calibrated(const PrunePolicy& p, int kind) {
  return p.rules[static_cast<size_t>(kind)].mode != KindRule::Mode::off;
}

// The next point of the search for x in the bracket (lo, hi) with measured values vlo < target
// < vhi: interpolated on the line through the bracket's ends (in log x for tau, whose scale
// spans decades; linear for a kept fraction), kept inside the bracket's middle 90 %; a plain
// halving when the same end moved twice in a row (Illinois-style safeguard) or the bracket's
// upper end is not measured yet (then x grows 8-fold from lo, or shrinks 8-fold from hi at lo = 0).
double next_point(double lo, double vlo, double hi, double vhi, bool hi_measured, bool log_scale,
                  bool halve, double target) {
  if (!hi_measured) return lo > 0 ? std::min(8 * lo, 0.5 * (lo + hi)) : hi;
  if (log_scale && lo == 0) return hi / 8;  // no log scale yet: shrink toward 0
  const double a = log_scale ? std::log(lo) : lo, b = log_scale ? std::log(hi) : hi;
  double t = 0.5;
  if (!halve && vhi > vlo) t = std::clamp((target - vlo) / (vhi - vlo), 0.05, 0.95);
  const double y = a + t * (b - a);
  return log_scale ? std::exp(y) : y;
}

// Search of x in [0, upper) (tau: [0, 8) on the Q4.16 grid, starting at `guess`): set(x)
// applies it to the policy, value(m) is the sparsity calibrated (rising with x); stops within
// tol of the target or when the bracket is narrower than one Q4.16 step. x = 0 is measured
// first only on a linear scale (its value anchors the interpolation); in log tau the search
// shrinks toward 0 instead. Returns the best measurement (and leaves its x set).
template <typename Set, typename Value>
Measured search(const Program& prog, const FunctionalInput& in, PrunePolicy& policy, double target,
                double tol, Set set, Value value, double upper, double guess, bool log_scale) {
  double lo = 0, hi = upper, best_x = 0, vlo = 0, vhi = 1;
  Measured best;
  bool have_best = false, hi_measured = false;
  if (!log_scale) {
    set(policy, 0.0);
    best = measure(prog, in, policy);
    have_best = true;
    vlo = value(best);
  }
  int same_side = 0;  // consecutive moves of one end: > 0 lo, < 0 hi
  double x = guess;
  for (int it = 0; vlo < target && it < 40 && hi - lo > 1.0 / 65536; ++it) {
    set(policy, x);
    const Measured m = measure(prog, in, policy);
    const double v = value(m);
    if (!have_best || std::abs(v - target) < std::abs(value(best) - target)) {
      best = m;
      best_x = x;
      have_best = true;
    }
    if (std::abs(v - target) <= tol) break;
    if (v < target) {
      lo = x, vlo = v;
      same_side = same_side > 0 ? same_side + 1 : 1;
    } else {
      hi = x, vhi = v, hi_measured = true;
      same_side = same_side < 0 ? same_side - 1 : -1;
    }
    x = next_point(lo, vlo, hi, vhi, hi_measured, log_scale, std::abs(same_side) >= 2, target);
  }
  if (hi - lo <= 1.0 / 65536 && lo == 0 && value(best) > target) {  // tau 0 is the closest
    set(policy, 0.0);
    const Measured zero = measure(prog, in, policy);
    if (std::abs(value(zero) - target) <= std::abs(value(best) - target)) return zero;
  }
  set(policy, best_x);
  return best;
}

// tau's search: from 1/16 (BERT's activations are pruned to 0.3-0.7 at tau 0.01-0.15).
template <typename Set, typename Value>
Measured search_tau(const Program& prog, const FunctionalInput& in, PrunePolicy& policy,
                    double target, double tol, Set set, Value value) {
  return search(prog, in, policy, target, tol, set, value, 8.0, 1.0 / 16, true);
}

// Per tensor class, the sparsity to reach (< 0: the class is not calibrated).
using Targets = std::array<double, kTensorKinds>;

// One tau per thresholded class (one fraction of the row kept per top-k class), each class to
// its target, in computation order; a later class's rule changes the earlier classes of the next
// layers, so passes repeat (at most 4) until every class is within tol.
Measured calibrate_per_class(const Program& prog, const FunctionalInput& in, PrunePolicy& policy,
                             const Targets& targets, double tol) {
  Measured m = measure(prog, in, policy);
  const auto off_target = [&](int k) {
    const double target = targets[static_cast<size_t>(k)];
    return target >= 0 && calibrated(policy, k) && std::abs(m.of(k) - target) > tol;
  };
  for (int pass = 0; pass < 4; ++pass) {
    for (int k = 0; k < kTensorKinds; ++k) {
      if (!off_target(k)) continue;
      const double target = targets[static_cast<size_t>(k)];
      const auto value = [k](const Measured& x) { return x.of(k); };
      if (thresholded(policy, k))
        search_tau(
            prog, in, policy, target, tol,
            [k](PrunePolicy& p, double tau) { p.rules[static_cast<size_t>(k)].tau = tau; }, value);
      else  // top-k: the fraction of the row kept, 1 - x
        search(
            prog, in, policy, target, tol,
            [k](PrunePolicy& p, double x) {
              p.rules[static_cast<size_t>(k)].k = 0;
              p.rules[static_cast<size_t>(k)].k_fraction = 1 - x;
            },
            value, 1.0, 0.5, false);
      m = measure(prog, in, policy);
    }
    bool done = true;
    for (int k = 0; k < kTensorKinds; ++k) done = done && !off_target(k);
    if (done) break;
  }
  return m;
}

double target_value(const std::string& text, const std::string& what) {
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(v > 0 && v < 1))
    throw UsageError(
        fmt::format("option --target-sparsity: {}value '{}' outside (0, 1)", what, text));
  return v;
}

// --target-sparsity S (every calibrated class, or the overall sparsity without --per-class) or
// CLASS=S,... (per class; `default` for the classes not named; a class not named without a
// default keeps the policy's rule). Classes the policy does not prune cannot take a target.
Targets parse_targets(const std::string& text, const PrunePolicy& policy, bool& per_class) {
  Targets t;
  t.fill(-1);
  if (text.find('=') == std::string::npos) {
    t.fill(target_value(text, ""));
    return t;
  }
  per_class = true;
  std::stringstream list(text);
  std::string item;
  double fallback = -1;
  while (std::getline(list, item, ',')) {
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    const double v = eq == std::string::npos ? -1 : target_value(item.substr(eq + 1), name + ": ");
    int kind = -1;
    for (int k = 0; k < kTensorKinds; ++k)
      if (name == tensor_kind_name(static_cast<TensorKind>(k))) kind = k;
    if (name == "default") {
      fallback = v;
      continue;
    }
    if (kind < 0 || eq == std::string::npos)
      throw UsageError(fmt::format(
          "option --target-sparsity: '{}' is not CLASS=S; classes: default, q, k, v, scores, "
          "probabilities, context, attention_output, ffn_intermediate, ffn_output",
          item));
    if (!calibrated(policy, kind))
      throw UsageError(fmt::format(
          "option --target-sparsity: class {} is not pruned by the policy ({}); give it a rule "
          "in a policy file (--policy FILE)",
          name, policy.name));
    t[static_cast<size_t>(kind)] = v;
  }
  for (int k = 0; k < kTensorKinds; ++k)
    if (t[static_cast<size_t>(k)] < 0 && calibrated(policy, k))
      t[static_cast<size_t>(k)] = fallback;
  return t;
}

void print_result(const Measured& best, const PrunePolicy& policy, const Targets& targets) {
  fmt::print("  layer   sparsity of pruned tensors\n");
  for (const auto& [layer, zn] : best.per_layer)
    fmt::print("  {:>5}   {:.4f}\n", layer,
               zn.second ? static_cast<double>(zn.first) / static_cast<double>(zn.second) : 0.0);
  fmt::print("  class              rule             sparsity (padding left out)   target\n");
  for (int k = 0; k < kTensorKinds; ++k) {
    const KindRule& r = policy.rules[static_cast<size_t>(k)];
    const std::string rule = r.mode == KindRule::Mode::off ? "off"
                             : r.mode == KindRule::Mode::threshold
                                 ? fmt::format("tau {:.6f}", r.tau)
                             : r.k > 0 ? fmt::format("topk k {}", r.k)
                                       : fmt::format("topk {:.4f} of a row", r.k_fraction);
    const double target = targets[static_cast<size_t>(k)];
    fmt::print("  {:<18} {:<16} {:.4f}{}\n", tensor_kind_name(static_cast<TensorKind>(k)), rule,
               best.of(k),
               target >= 0 && r.mode != KindRule::Mode::off
                   ? fmt::format("                        {:.4f}", target)
                   : "");
  }
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
    ("target-sparsity", po::value<std::string>(),
     "the sparsity to reach, in (0, 1); or one per tensor class, CLASS=S,... (implies "
     "--per-class; default=S for the classes not named, e.g. q=0.3,scores=0.5,default=0.4)")
    ("tolerance", po::value<double>()->default_value(0.001),
     "stop when the measured sparsity is this close to the target")
    ("per-class", po::bool_switch(),
     "one tau per tensor class of the policy, each class to the target sparsity")
    ("write-policy", po::value<std::string>(), "write the calibrated policy to FILE (YAML)")
    ("help,h", "show this help");
  // clang-format on
  desc.add(functional).add(calibration);
  po::variables_map vm;
  int rc = 0;
  if (!parse_args(args, desc, kUsage, vm, &rc)) return rc;
  if (!vm.count("target-sparsity")) throw UsageError("option --target-sparsity is required");
  if (vm["prune"].as<std::string>() != "dynatran")
    throw UsageError("option --prune: calibrate finds DynaTran's tau (--prune dynatran)");
  const double tol = vm["tolerance"].as<double>();
  if (!(tol > 0 && tol < 0.5))
    throw UsageError(fmt::format("option --tolerance: value {} outside (0, 0.5)", tol));
  FunctionalSetup fs;
  prepare_functional(vm, fs);
  Inputs in = load_inputs(vm);
  finish_functional(vm, in, fs);
  const Program prog = compile_within_limits(in.model, in.accel, in.tech, in.compile);
  PrunePolicy policy = fs.in.policy.name.empty() ? uniform_policy(fs.in.prune) : fs.in.policy;
  bool per_class = vm["per-class"].as<bool>();
  const Targets targets = parse_targets(vm["target-sparsity"].as<std::string>(), policy, per_class);
  const double target = targets[0];  // without --per-class: every entry alike
  bool any = false;
  for (int k = 0; k < kTensorKinds; ++k)
    any = any || (per_class ? calibrated(policy, k) && targets[static_cast<size_t>(k)] >= 0
                            : thresholded(policy, k));
  if (!any)
    throw UsageError(fmt::format("option --policy: the policy {} no class (nothing to calibrate)",
                                 per_class ? "prunes" : "thresholds"));
  const Measured best = per_class ? calibrate_per_class(prog, fs.in, policy, targets, tol)
                                  : search_tau(
                                        prog, fs.in, policy, target, tol,
                                        [](PrunePolicy& p, double tau) {
                                          for (KindRule& r : p.rules)
                                            if (r.mode == KindRule::Mode::threshold) r.tau = tau;
                                        },
                                        [](const Measured& x) { return x.overall; });
  fmt::print(
      "calibrate: {} on {}, batch {}, sequence {}, {} weights, tokens {}; {} passes of the data "
      "path\n",
      prog.info.model, in.accel.name, prog.info.batch, prog.info.seq_len,
      fs.weights.synthetic ? "synthetic" : "checkpoint", fs.in.tokens_source, data_path_passes);
  double tau = 0;
  for (const KindRule& r : policy.rules)
    if (r.mode == KindRule::Mode::threshold) tau = r.tau;
  if (!per_class)
    fmt::print("  target sparsity {:.4f}: tau = {:.6f} (Q4.16 {}), measured {:.4f}\n", target, tau,
               static_cast<int64_t>(std::llround(tau * 65536)), best.overall);
  else
    fmt::print("  target sparsity per class (below); measured {:.4f} over all classes\n",
               best.overall);
  print_result(best, policy, targets);
  if (vm.count("write-policy")) {
    const std::string path = vm["write-policy"].as<std::string>();
    std::ofstream out(path);
    if (!(out << policy_yaml(policy)))
      throw InputError(fmt::format("{}: cannot write the policy file", path));
    fmt::print("  policy written to {}: acceltran simulate --functional --policy {} ...\n", path,
               path);
  } else if (!per_class && policy.uniform) {
    fmt::print("  use: acceltran simulate --functional --threshold {:.6f} ...\n", tau);
  }
  return 0;
}

}  // namespace acceltran::cli
