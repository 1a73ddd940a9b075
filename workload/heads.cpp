#include "acceltran/workload/heads.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acceltran/config/input_error.hpp"

namespace acceltran {

namespace {

std::string prefixed(const SafetensorsFile& f, const std::string& name) {
  return f.contains("bert." + name) ? "bert." + name : name;
}

// num_labels and id2label from config.json (0 and empty when it has neither).
void read_label_names(const std::string& config_path, int64_t& num_labels,
                      std::vector<std::string>& labels) {
  std::ifstream in(config_path);
  if (!in) throw InputError(config_path + ": cannot open the model config");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception&) {
    throw InputError(config_path + ": not JSON");
  }
  num_labels = 0;
  if (j.contains("num_labels")) {
    if (!j["num_labels"].is_number_integer() || j["num_labels"].get<int64_t>() < 1)
      throw InputError(config_path + ": key 'num_labels': expected a positive integer");
    num_labels = j["num_labels"].get<int64_t>();
  }
  if (!j.contains("id2label")) return;
  const nlohmann::json& m = j["id2label"];
  if (!m.is_object()) throw InputError(config_path + ": key 'id2label': expected an object");
  if (num_labels == 0) num_labels = static_cast<int64_t>(m.size());
  labels.assign(static_cast<size_t>(num_labels), "");
  for (int64_t i = 0; i < num_labels; ++i) {
    const std::string key = std::to_string(i);
    if (!m.contains(key) || !m[key].is_string())
      throw InputError(config_path + ": key 'id2label." + key + "': missing or not a string (" +
                       std::to_string(num_labels) + " labels)");
    labels[static_cast<size_t>(i)] = m[key].get<std::string>();
  }
}

}  // namespace

namespace {

// The pooler's dense output in double (accumulated in double); with tau >= 0, the values whose
// float32 magnitude is at most tau are set to 0.
std::vector<double> dense_in_double(const BertPooler& p, const float* cls_hidden, double tau) {
  const auto h = static_cast<size_t>(p.hidden);
  std::vector<double> out(h);
  const auto tau_f = static_cast<float>(tau);
  for (size_t o = 0; o < h; ++o) {
    double s = p.bias.data[o];
    for (size_t i = 0; i < h; ++i) s += double(p.weight.data[o * h + i]) * cls_hidden[i];
    out[o] = tau >= 0 && std::fabs(static_cast<float>(s)) <= tau_f ? 0.0 : s;
  }
  return out;
}

}  // namespace

std::vector<float> BertPooler::dense(const float* cls_hidden, double tau) const {
  const std::vector<double> d = dense_in_double(*this, cls_hidden, tau);
  return std::vector<float>(d.begin(), d.end());
}

std::vector<float> BertPooler::pooled(const float* cls_hidden, double tau) const {
  const std::vector<double> d = dense_in_double(*this, cls_hidden, tau);
  std::vector<float> out(d.size());
  for (size_t i = 0; i < d.size(); ++i) out[i] = static_cast<float>(std::tanh(d[i]));
  return out;
}

BertPooler load_bert_pooler(const SafetensorsFile& f, int64_t hidden, const std::string& why) {
  BertPooler p;
  p.hidden = hidden;
  p.weight = f.read(prefixed(f, "pooler.dense.weight"), {hidden, hidden}, why);
  p.bias = f.read(prefixed(f, "pooler.dense.bias"), {hidden}, why);
  return p;
}

BertPooler load_bert_pooler(const std::string& safetensors_path, int64_t hidden,
                            const std::string& why) {
  return load_bert_pooler(SafetensorsFile(safetensors_path), hidden, why);
}

std::vector<float> SequenceClassificationHead::logits_of_pooled(
    const std::vector<float>& pooled) const {
  const auto h = static_cast<size_t>(hidden);
  std::vector<float> out(static_cast<size_t>(num_labels));
  for (size_t c = 0; c < out.size(); ++c) {
    double s = classifier_b.data[c];
    for (size_t i = 0; i < h; ++i) s += double(classifier_w.data[c * h + i]) * pooled[i];
    out[c] = static_cast<float>(s);
  }
  return out;
}

std::vector<float> SequenceClassificationHead::logits(const float* cls_hidden,
                                                      double pooler_tau) const {
  return logits_of_pooled(pooler.pooled(cls_hidden, pooler_tau));
}

int64_t SequenceClassificationHead::arg_max(const std::vector<float>& l) {
  int64_t best = 0;
  for (size_t c = 1; c < l.size(); ++c)
    if (l[c] > l[static_cast<size_t>(best)]) best = static_cast<int64_t>(c);
  return best;
}

int64_t SequenceClassificationHead::predict(const float* cls_hidden, double pooler_tau) const {
  return arg_max(logits(cls_hidden, pooler_tau));
}

SequenceClassificationHead load_sequence_classification_head(const std::string& safetensors_path,
                                                             const std::string& config_path,
                                                             int64_t hidden) {
  SequenceClassificationHead head;
  head.source = safetensors_path;
  head.hidden = hidden;
  read_label_names(config_path, head.num_labels, head.labels);
  const SafetensorsFile f(safetensors_path);
  if (!f.contains("classifier.weight"))
    throw InputError(safetensors_path +
                     ": missing tensor 'classifier.weight': not a BertForSequenceClassification "
                     "checkpoint (evaluate needs its pooler and classifier)");
  if (head.num_labels == 0) {
    const SafetensorsEntry& e = f.entry("classifier.weight");
    head.num_labels = e.shape.empty() ? 0 : e.shape[0];
  }
  const std::string why = config_path;
  head.pooler = load_bert_pooler(f, hidden, why);
  head.classifier_w = f.read("classifier.weight", {head.num_labels, hidden}, why);
  head.classifier_b = f.read("classifier.bias", {head.num_labels}, why);
  if (head.labels.empty())
    for (int64_t i = 0; i < head.num_labels; ++i)
      head.labels.push_back("LABEL_" + std::to_string(i));
  return head;
}

}  // namespace acceltran
