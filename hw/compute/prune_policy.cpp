#include "acceltran/hw/compute/prune_policy.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/yaml_input.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"

namespace acceltran {

namespace {

constexpr const char* kKindNames[kTensorKinds] = {"q",
                                                  "k",
                                                  "v",
                                                  "scores",
                                                  "probabilities",
                                                  "context",
                                                  "attention_output",
                                                  "ffn_intermediate",
                                                  "ffn_output"};
constexpr const char* kBuiltins = "uniform, published, unscaled";

std::string kind_list() {
  std::string s;
  for (int k = 0; k < kTensorKinds; ++k) s += (k ? ", " : "") + std::string(kKindNames[k]);
  return s;
}

std::string rule_text(const KindRule& r) {
  switch (r.mode) {
    case KindRule::Mode::off:
      return "off";
    case KindRule::Mode::threshold:
      return fmt::format("tau={}", r.tau);
    case KindRule::Mode::topk:
      return r.k > 0 ? fmt::format("topk k={}", r.k) : fmt::format("topk k={}xrow", r.k_fraction);
  }
  return "?";
}

}  // namespace

const char* tensor_kind_name(TensorKind kind) {
  return kKindNames[static_cast<int>(kind)];
}

int64_t KindRule::kept_of(int64_t width) const {
  if (k > 0) return k;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(k_fraction * width - 1e-9)));
}

BlockPrune PrunePolicy::block_rule(TensorKind kind, int64_t segment, int64_t head_dim) const {
  const KindRule& r = rule(kind);
  BlockPrune b;
  switch (r.mode) {
    case KindRule::Mode::off:
      b.kind = BlockPrune::Kind::none;
      break;
    case KindRule::Mode::threshold: {
      b.kind = BlockPrune::Kind::threshold;
      const bool folded = kind == TensorKind::query || kind == TensorKind::scores;
      const double scale =
          tau_before_fold && folded ? 1.0 / std::sqrt(static_cast<double>(head_dim)) : 1.0;
      b.tau_q = fx::from_double(r.tau * scale);
      break;
    }
    case KindRule::Mode::topk:
      b.kind = BlockPrune::Kind::topk;
      b.k = r.kept_of(segment);
      b.segment = static_cast<int>(segment);
      b.above_kth = topk_above_kth;
      break;
  }
  return b;
}

std::string PrunePolicy::describe() const {
  bool alike = true;
  for (const KindRule& r : rules) alike = alike && rule_text(r) == rule_text(rules[0]);
  std::string s = name;
  if (alike)
    s += " " + rule_text(rules[0]);
  else
    for (int k = 0; k < kTensorKinds; ++k)
      s += fmt::format(" {}:{}", kKindNames[k], rule_text(rules[static_cast<size_t>(k)]));
  if (weight_tau >= 0) s += fmt::format(" weights:tau={}", weight_tau);
  if (count_pooler && !is_builtin_policy(name)) s += " pooler:" + rule_text(pooler);
  return s;
}

PrunePolicy uniform_policy(const PruneMode& mode) {
  PrunePolicy p;
  p.name = "uniform";
  p.uniform = true;
  for (KindRule& r : p.rules) {
    r.mode = mode.kind == PruneMode::Kind::topk ? KindRule::Mode::topk : KindRule::Mode::threshold;
    r.tau = mode.tau;
    r.k = mode.topk;
  }
  return p;
}

bool is_builtin_policy(const std::string& name) {
  return name == "uniform" || name == "published" || name == "unscaled";
}

PrunePolicy builtin_policy(const std::string& name, const PruneMode& mode) {
  if (name == "uniform") return uniform_policy(mode);
  if (!is_builtin_policy(name))
    throw InputError(
        fmt::format("option --policy: '{}' is neither a built-in policy ({}) nor a policy file",
                    quoted_value(name), kBuiltins));
  PrunePolicy p;
  p.name = name;
  p.tau_before_fold = true;  // both compare the model's unscaled q and scores
  for (KindRule& r : p.rules) {
    r.mode = KindRule::Mode::threshold;
    r.tau = mode.kind == PruneMode::Kind::topk ? 0.0 : mode.tau;
  }
  if (name == "published") {
    p.topk_above_kth = true;
    p.count_pooler = true;  // the published code prunes the pooler's dense output at tau
    if (mode.kind == PruneMode::Kind::dynatran) p.pooler = p.rules[0];
    if (mode.kind == PruneMode::Kind::topk) {  // the paper's top-k: the probabilities alone
      for (KindRule& r : p.rules) r.mode = KindRule::Mode::off;
      KindRule& probs = p.rule(TensorKind::probabilities);
      probs.mode = KindRule::Mode::topk;
      probs.k = mode.topk;
    }
  } else if (mode.kind == PruneMode::Kind::topk) {  // unscaled: top-k everywhere, as uniform
    for (KindRule& r : p.rules) {
      r.mode = KindRule::Mode::topk;
      r.k = mode.topk;
    }
  }
  return p;
}

namespace {

double number_at(const YAML::Node& n, const std::string& path, const std::string& key) {
  try {
    return n.as<double>();
  } catch (const YAML::Exception&) {
    throw InputError(fmt::format("{}:{}: key '{}': '{}' is not a number", path, n.Mark().line + 1,
                                 key, quoted_value(n.Scalar())));
  }
}

// A class entry: "off", {tau: T}, {topk: K} or {topk_fraction: F}.
KindRule read_rule(const YAML::Node& n, const std::string& path, const std::string& key) {
  KindRule r;
  if (n.IsScalar() && n.Scalar() == "off") return r;
  const std::string allowed = "'off', {tau: T}, {topk: K} or {topk_fraction: F}";
  if (!n.IsMap() || n.size() != 1)
    throw InputError(
        fmt::format("{}:{}: key '{}': expected {}", path, n.Mark().line + 1, key, allowed));
  const std::string what = n.begin()->first.Scalar();
  const YAML::Node v = n.begin()->second;
  const double x = number_at(v, path, key + "." + what);
  if (what == "tau") {
    if (!(x >= 0 && x < 8))
      throw InputError(
          fmt::format("{}: key '{}.tau': value {} outside the Q4.16 range [0, 8)", path, key, x));
    r.mode = KindRule::Mode::threshold;
    r.tau = x;
  } else if (what == "topk") {
    if (!(x >= 1) || x != std::floor(x) || x > 1e9)
      throw InputError(
          fmt::format("{}: key '{}.topk': value {} must be an integer >= 1", path, key, x));
    r.mode = KindRule::Mode::topk;
    r.k = static_cast<int64_t>(x);
  } else if (what == "topk_fraction") {
    if (!(x > 0 && x <= 1))
      throw InputError(
          fmt::format("{}: key '{}.topk_fraction': value {} outside (0, 1]", path, key, x));
    r.mode = KindRule::Mode::topk;
    r.k_fraction = x;
  } else {
    throw InputError(fmt::format("{}:{}: key '{}.{}' unknown; expected {}", path, n.Mark().line + 1,
                                 key, quoted_value(what), allowed));
  }
  return r;
}

bool read_flag(const YAML::Node& top, const std::string& path, const char* key, const char* yes,
               const char* no) {
  const YAML::Node n = top[key];
  if (!n) return false;
  const std::string v = n.IsScalar() ? n.Scalar() : "";
  if (v != yes && v != no)
    throw InputError(fmt::format("{}: key '{}': value '{}' unknown; allowed: {}, {}", path, key,
                                 quoted_value(v), yes, no));
  return v == yes;
}

void read_classes(const YAML::Node& classes, const std::string& path, PrunePolicy& p) {
  if (!classes.IsMap())
    throw InputError(fmt::format("{}: key 'classes': expected a mapping of class: rule", path));
  for (const auto& kv : classes) {
    const std::string key = kv.first.Scalar();
    int kind = -1;
    for (int k = 0; k < kTensorKinds; ++k)
      if (key == kKindNames[k]) kind = k;
    if (key == "default") {
      const KindRule r = read_rule(kv.second, path, "classes.default");
      for (int k = 0; k < kTensorKinds; ++k)
        if (!classes[kKindNames[k]]) p.rules[static_cast<size_t>(k)] = r;
      continue;
    }
    if (kind < 0)
      throw InputError(fmt::format("{}:{}: key 'classes.{}' unknown; allowed: default, {}", path,
                                   kv.first.Mark().line + 1, quoted_value(key), kind_list()));
    p.rules[static_cast<size_t>(kind)] = read_rule(kv.second, path, "classes." + key);
  }
}

}  // namespace

PrunePolicy read_policy_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(
        fmt::format("{}: policy file not found (built-in policies: {})", path, kBuiltins));
  YAML::Node top;
  try {
    top = load_bounded_yaml_file(path, "policy");
  } catch (const YAML::ParserException& e) {
    throw InputError(
        fmt::format("{}:{}: YAML syntax error: {}", path, e.mark.line + 1, quoted_value(e.msg)));
  }
  if (!top.IsMap()) throw InputError(fmt::format("{}: expected a YAML mapping", path));
  PrunePolicy p;
  p.name = path;
  for (const auto& kv : top) {
    const std::string key = kv.first.Scalar();
    if (key != "classes" && key != "weights" && key != "pooler" && key != "tau_applies_to" &&
        key != "topk_rule")
      throw InputError(
          fmt::format("{}:{}: key '{}' unknown; allowed: classes, weights, pooler, "
                      "tau_applies_to, topk_rule",
                      path, kv.first.Mark().line + 1, quoted_value(key)));
  }
  if (!top["classes"]) throw InputError(fmt::format("{}: key 'classes' missing", path));
  read_classes(top["classes"], path, p);
  p.tau_before_fold = read_flag(top, path, "tau_applies_to", "unscaled", "hardware");
  p.topk_above_kth = read_flag(top, path, "topk_rule", "above_kth", "largest");
  if (const YAML::Node w = top["weights"]) {
    const KindRule r = read_rule(w, path, "weights");
    if (r.mode == KindRule::Mode::topk)
      throw InputError(fmt::format("{}: key 'weights': weights take 'off' or {{tau: T}}", path));
    p.weight_tau = r.mode == KindRule::Mode::threshold ? r.tau : -1;
  }
  if (const YAML::Node n = top["pooler"]) {
    p.pooler = read_rule(n, path, "pooler");
    if (p.pooler.mode == KindRule::Mode::topk)
      throw InputError(fmt::format("{}: key 'pooler': the pooler takes 'off' or {{tau: T}}", path));
    p.count_pooler = true;
  }
  return p;
}

std::string policy_yaml(const PrunePolicy& p) {
  std::ostringstream o;
  o << "# acceltran pruning policy (docs/dynatran.md, \"Pruning policies\")\n";
  o << "tau_applies_to: " << (p.tau_before_fold ? "unscaled" : "hardware") << "\n";
  o << "topk_rule: " << (p.topk_above_kth ? "above_kth" : "largest") << "\n";
  if (p.weight_tau >= 0) o << fmt::format("weights: {{tau: {}}}\n", p.weight_tau);
  if (p.count_pooler)
    o << (p.pooler_tau() >= 0 ? fmt::format("pooler: {{tau: {}}}\n", p.pooler.tau)
                              : std::string("pooler: off\n"));
  o << "classes:\n";
  for (int k = 0; k < kTensorKinds; ++k) {
    const KindRule& r = p.rules[static_cast<size_t>(k)];
    o << "  " << kKindNames[k] << ": ";
    if (r.mode == KindRule::Mode::off)
      o << "off\n";
    else if (r.mode == KindRule::Mode::threshold)
      o << fmt::format("{{tau: {}}}\n", r.tau);
    else if (r.k > 0)
      o << fmt::format("{{topk: {}}}\n", r.k);
    else
      o << fmt::format("{{topk_fraction: {}}}\n", r.k_fraction);
  }
  return o.str();
}

}  // namespace acceltran
