// `acceltran evaluate`: the settings list, result.json of a setting and results.csv.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "acceltran/config/output_file.hpp"
#include "evaluate.hpp"

namespace acceltran::cli::evaluate {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

double parse_number(const std::string& item, const char* option) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(item, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != item.size())
    throw UsageError(fmt::format("option --{}: '{}' is not a number (a comma list, e.g. {})",
                                 option, item, option == std::string("topk") ? "1,2,4" : "0,0.01"));
  return v;
}

// A CSV field: quoted when it holds a comma or a quote (a policy file's path).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::vector<Setting> settings_from(const std::string& thresholds, const std::string& topks) {
  std::vector<Setting> out;
  std::set<std::string> seen;
  for (const std::string& item : split_list(thresholds)) {
    const double tau = parse_number(item, "threshold");
    if (!(tau >= 0 && tau < 8))
      throw UsageError(
          fmt::format("option --threshold: value {} outside the Q4.16 range [0, 8)", item));
    Setting s;
    s.key = fmt::format("dynatran-{}", tau);
    s.prune.kind = PruneMode::Kind::dynatran;
    s.prune.tau = tau;
    s.policy = uniform_policy(s.prune);
    if (!seen.insert(s.key).second)
      throw UsageError(fmt::format("option --threshold: value {} given twice", item));
    out.push_back(s);
  }
  for (const std::string& item : split_list(topks)) {
    const double k = parse_number(item, "topk");
    if (!(k >= 1 && k == std::floor(k) && k <= 1e6))
      throw UsageError(fmt::format("option --topk: value {} is not an integer >= 1", item));
    Setting s;
    s.key = fmt::format("topk-{}", static_cast<int64_t>(k));
    s.prune.kind = PruneMode::Kind::topk;
    s.prune.topk = static_cast<int64_t>(k);
    s.policy = uniform_policy(s.prune);
    if (!seen.insert(s.key).second)
      throw UsageError(fmt::format("option --topk: value {} given twice", item));
    out.push_back(s);
  }
  return out;
}

std::vector<Setting> apply_policies(const std::string& policies,
                                    const std::vector<Setting>& uniform_settings) {
  if (policies.empty()) return uniform_settings;
  std::vector<Setting> out;
  std::set<std::string> seen;
  for (const std::string& item : split_list(policies)) {
    if (is_builtin_policy(item)) {
      if (uniform_settings.empty())
        throw UsageError(fmt::format(
            "option --policy {}: a built-in policy runs the --threshold / --topk settings; give "
            "at least one (a policy file is a setting of its own)",
            item));
      for (Setting s : uniform_settings) {
        s.policy_name = item;
        s.policy = builtin_policy(item, s.prune);
        if (item != "uniform") s.key = item + "-" + s.key;
        if (!seen.insert(s.key).second)
          throw UsageError(fmt::format("option --policy: '{}' given twice", item));
        out.push_back(s);
      }
      continue;
    }
    if (!fs::is_regular_file(item))
      throw UsageError(fmt::format(
          "option --policy: '{}' is neither a built-in policy (uniform, published, unscaled) nor "
          "a policy file",
          item));
    Setting s;
    s.key = "policy-" + fs::path(item).stem().string();
    s.policy_name = item;
    s.policy_file = true;
    s.policy = read_policy_file(item);
    if (!seen.insert(s.key).second)
      throw UsageError(fmt::format(
          "option --policy: two policy files named '{}' (the setting and its folder are named "
          "after the file: rename one)",
          fs::path(item).stem().string()));
    out.push_back(s);
  }
  return out;
}

void save_result(const std::string& dir, const std::string& inputs_digest, const Result& r) {
  nlohmann::ordered_json j;
  j["inputs_digest"] = inputs_digest;
  j["setting"] = r.key;
  j["policy"] = r.policy;
  j["policy_file"] = r.policy_file;
  j["prune"] = r.prune.kind == PruneMode::Kind::dynatran ? "dynatran" : "topk";
  j["tau"] = r.prune.tau;
  j["topk"] = r.prune.topk;
  j["sequences"] = r.sequences;
  j["items"] = r.items;
  j["confusion"] = r.confusion;
  j["correct"] = r.correct;
  j["agree_with_float"] = r.agree_with_float;
  j["sparsity"] = r.sparsity;
  j["class_sparsity"] = r.class_sparsity;
  j["batch_cycles"] = r.batch_cycles;
  j["cycles_per_sequence"] = r.cycles_per_sequence;
  j["energy_per_sequence_mj"] = r.energy_per_sequence_mj;
  write_output_file((fs::path(dir) / "result.json").string(), j.dump(1) + "\n");
}

bool load_result(const std::string& dir, const std::string& inputs_digest, Result& out) {
  std::ifstream in(fs::path(dir) / "result.json");
  if (!in) return false;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (j.at("inputs_digest").get<std::string>() != inputs_digest) return false;
    out.key = j.at("setting").get<std::string>();
    out.policy = j.at("policy").get<std::string>();
    out.policy_file = j.at("policy_file").get<bool>();
    out.prune.kind =
        j.at("prune") == "dynatran" ? PruneMode::Kind::dynatran : PruneMode::Kind::topk;
    out.prune.tau = j.at("tau").get<double>();
    out.prune.topk = j.at("topk").get<int64_t>();
    out.sequences = j.at("sequences").get<int64_t>();
    out.items = j.at("items").get<int64_t>();
    out.confusion = j.at("confusion").get<std::vector<int64_t>>();
    out.correct = j.at("correct").get<int64_t>();
    out.agree_with_float = j.at("agree_with_float").get<int64_t>();
    out.sparsity = j.at("sparsity").get<double>();
    out.class_sparsity = j.at("class_sparsity").get<std::map<std::string, double>>();
    out.batch_cycles = j.at("batch_cycles").get<uint64_t>();
    out.cycles_per_sequence = j.at("cycles_per_sequence").get<double>();
    out.energy_per_sequence_mj = j.at("energy_per_sequence_mj").get<double>();
  } catch (const nlohmann::json::exception&) {
    return false;  // a partial or foreign file: the setting runs again
  }
  return true;
}

namespace {

std::string metric(double v) {
  return std::isnan(v) ? "" : fmt::format("{:.6f}", v);
}

}  // namespace

void write_csv(const std::string& path, const std::vector<Result>& results, const Shared& shared) {
  std::set<std::string> classes;
  for (const Result& r : results)
    for (const auto& kv : r.class_sparsity) classes.insert(kv.first);
  int64_t float_correct = 0, float_items = 0;
  for (int64_t i = 0; i < shared.data.size(); ++i) {
    const std::vector<int64_t> labels = item_labels(shared.data, shared.head, i);
    const std::vector<int64_t>& pred = shared.float_predictions[static_cast<size_t>(i)];
    for (size_t k = 0; k < labels.size(); ++k) float_correct += pred[k] == labels[k];
    float_items += static_cast<int64_t>(labels.size());
  }
  const double float_accuracy =
      float_items ? static_cast<double>(float_correct) / static_cast<double>(float_items) : 0;
  std::string csv =
      "setting,policy,prune,tau,topk,head,sequences,items,accuracy,f1,mcc,macro_f1,"
      "float_accuracy,agreement_with_float,sparsity";
  for (const std::string& c : classes) csv += ",sparsity_" + c;
  csv += ",cycles_per_sequence,energy_per_sequence_mj\n";
  for (const Result& r : results) {
    const bool dt = r.prune.kind == PruneMode::Kind::dynatran;
    const double n = static_cast<double>(std::max<int64_t>(r.items, 1));
    ClassificationMetrics m;
    m.f1 = m.mcc = m.macro_f1 = std::nan("");
    if (!r.confusion.empty()) m = classification_metrics(r.confusion, shared.head.num_labels);
    // A policy file sets its own taus and K: its row names the file, prune "policy".
    const std::string prune = r.policy_file ? "policy" : dt ? "dynatran" : "topk";
    const std::string tau = !r.policy_file && dt ? fmt::format("{}", r.prune.tau) : "";
    const std::string topk = !r.policy_file && !dt ? std::to_string(r.prune.topk) : "";
    csv += fmt::format("{},{},{},{},{},{},{},{},{:.6f},{},{},{},{:.6f},{:.6f},{:.6f}", r.key,
                       csv_field(r.policy), prune, tau, topk, head_kind_name(shared.head.kind),
                       r.sequences, r.items, r.correct / n, metric(m.f1), metric(m.mcc),
                       metric(m.macro_f1), float_accuracy, r.agree_with_float / n, r.sparsity);
    for (const std::string& c : classes) {
      const auto it = r.class_sparsity.find(c);
      csv += it == r.class_sparsity.end() ? "," : fmt::format(",{:.6f}", it->second);
    }
    csv += fmt::format(",{:.1f},{:.6g}\n", r.cycles_per_sequence, r.energy_per_sequence_mj);
  }
  write_output_file(path, csv);
}

}  // namespace acceltran::cli::evaluate
