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

std::vector<float> SequenceClassificationHead::logits(const float* cls_hidden) const {
  const auto h = static_cast<size_t>(hidden);
  std::vector<float> pooled(h);
  for (size_t o = 0; o < h; ++o) {
    double s = pooler_b.data[o];
    for (size_t i = 0; i < h; ++i) s += double(pooler_w.data[o * h + i]) * cls_hidden[i];
    pooled[o] = static_cast<float>(std::tanh(s));
  }
  std::vector<float> out(static_cast<size_t>(num_labels));
  for (size_t c = 0; c < out.size(); ++c) {
    double s = classifier_b.data[c];
    for (size_t i = 0; i < h; ++i) s += double(classifier_w.data[c * h + i]) * pooled[i];
    out[c] = static_cast<float>(s);
  }
  return out;
}

int64_t SequenceClassificationHead::predict(const float* cls_hidden) const {
  const std::vector<float> l = logits(cls_hidden);
  int64_t best = 0;
  for (size_t c = 1; c < l.size(); ++c)
    if (l[c] > l[static_cast<size_t>(best)]) best = static_cast<int64_t>(c);
  return best;
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
  head.pooler_w = f.read(prefixed(f, "pooler.dense.weight"), {hidden, hidden}, why);
  head.pooler_b = f.read(prefixed(f, "pooler.dense.bias"), {hidden}, why);
  head.classifier_w = f.read("classifier.weight", {head.num_labels, hidden}, why);
  head.classifier_b = f.read("classifier.bias", {head.num_labels}, why);
  if (head.labels.empty())
    for (int64_t i = 0; i < head.num_labels; ++i)
      head.labels.push_back("LABEL_" + std::to_string(i));
  return head;
}

}  // namespace acceltran
