#include "acceltran/workload/heads.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acceltran/config/input_error.hpp"
#include "acceltran/workload/weights.hpp"

namespace acceltran {

namespace {

std::string prefixed(const SafetensorsFile& f, const std::string& name) {
  return f.contains("bert." + name) ? "bert." + name : name;
}

nlohmann::json read_config_json(const std::string& config_path) {
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
  return j;
}

// num_labels and id2label from config.json (0 and empty when it has neither).
void read_label_names(const std::string& config_path, int64_t& num_labels,
                      std::vector<std::string>& labels) {
  const nlohmann::json j = read_config_json(config_path);
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

// y = W x + b for W [rows, cols], accumulated in double, rounded to float.
std::vector<float> linear(const FloatTensor& w, const FloatTensor& b, const float* x) {
  const auto rows = b.data.size();
  const size_t cols = rows ? w.data.size() / rows : 0;
  std::vector<float> out(rows);
  for (size_t r = 0; r < rows; ++r) {
    double s = b.data[r];
    for (size_t i = 0; i < cols; ++i) s += double(w.data[r * cols + i]) * x[i];
    out[r] = static_cast<float>(s);
  }
  return out;
}

// The Hugging Face activations that load_bert_config() accepts, in double.
double activate(double v, const std::string& act) {
  if (act == "gelu") return 0.5 * v * (1.0 + std::erf(v * 0.70710678118654752440084436210485));
  if (act == "relu") return v > 0 ? v : 0.0;
  if (act == "silu" || act == "swish") return v / (1.0 + std::exp(-v));
  const double kSqrt2OverPi = 0.79788456080286535587989211986876;  // the tanh gelus
  return 0.5 * v * (1.0 + std::tanh(kSqrt2OverPi * (v + 0.044715 * v * v * v)));
}

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
  return linear(classifier_w, classifier_b, pooled.data());
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

namespace acceltran {

std::vector<float> TokenClassificationHead::logits(const float* token_hidden) const {
  return linear(classifier_w, classifier_b, token_hidden);
}

std::vector<float> MaskedLmHead::logits(const float* token_hidden) const {
  std::vector<float> x = linear(transform_w, transform_b, token_hidden);
  double mean = 0, var = 0;
  for (float& v : x) {
    v = static_cast<float>(activate(v, hidden_act));
    mean += v;
  }
  mean /= static_cast<double>(x.size());
  for (float v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  const double inv = 1.0 / std::sqrt(var + layer_norm_eps);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>((x[i] - mean) * inv * ln_gamma.data[i] + ln_beta.data[i]);
  return linear(decoder_w, decoder_b, x.data());
}

const char* head_kind_name(HeadKind kind) {
  switch (kind) {
    case HeadKind::token_classification:
      return "token-classification";
    case HeadKind::masked_lm:
      return "masked-lm";
    default:
      return "sequence-classification";
  }
}

std::vector<int64_t> TaskHead::predict(const float* hidden_rows,
                                       const std::vector<int32_t>& token_labels,
                                       double pooler_tau) const {
  if (kind == HeadKind::sequence_classification) return {sequence.predict(hidden_rows, pooler_tau)};
  const int64_t h = kind == HeadKind::masked_lm ? masked_lm.hidden : token.hidden;
  std::vector<int64_t> out;
  for (size_t p = 0; p < token_labels.size(); ++p) {
    if (token_labels[p] == kIgnoredLabel) continue;
    const float* row = hidden_rows + static_cast<int64_t>(p) * h;
    out.push_back(SequenceClassificationHead::arg_max(
        kind == HeadKind::masked_lm ? masked_lm.logits(row) : token.logits(row)));
  }
  return out;
}

namespace {

// The head named by config.json's "architectures", or by the checkpoint's tensors.
HeadKind detect_head(const SafetensorsFile& f, const std::string& safetensors_path,
                     const std::string& config_path) {
  const nlohmann::json j = read_config_json(config_path);
  if (j.contains("architectures") && j["architectures"].is_array())
    for (const nlohmann::json& a : j["architectures"]) {
      if (a == "BertForSequenceClassification") return HeadKind::sequence_classification;
      if (a == "BertForTokenClassification") return HeadKind::token_classification;
      if (a == "BertForMaskedLM") return HeadKind::masked_lm;
    }
  if (f.contains("cls.predictions.bias")) return HeadKind::masked_lm;
  if (f.contains("classifier.weight"))
    return f.contains(prefixed(f, "pooler.dense.weight")) ? HeadKind::sequence_classification
                                                          : HeadKind::token_classification;
  throw InputError(safetensors_path +
                   ": no supported task head: looked for 'classifier.weight' (with "
                   "'bert.pooler.dense.weight': BertForSequenceClassification, without: "
                   "BertForTokenClassification) and 'cls.predictions.bias' (BertForMaskedLM); "
                   "config.json 'architectures' names none of them");
}

MaskedLmHead load_masked_lm_head(const SafetensorsFile& f, const std::string& safetensors_path,
                                 const BertConfig& c, const std::string& why) {
  const std::string kMissing = ": missing tensor 'cls.predictions.bias' (BertForMaskedLM)";
  if (!f.contains("cls.predictions.bias")) throw InputError(safetensors_path + kMissing);
  MaskedLmHead m;
  m.hidden = c.hidden;
  m.vocab_size = c.vocab_size;
  m.layer_norm_eps = c.layer_norm_eps;
  m.hidden_act = c.hidden_act;
  const std::string t = "cls.predictions.transform.";
  m.transform_w = f.read(t + "dense.weight", {c.hidden, c.hidden}, why);
  m.transform_b = f.read(t + "dense.bias", {c.hidden}, why);
  m.ln_gamma = f.read(t + "LayerNorm.weight", {c.hidden}, why);
  m.ln_beta = f.read(t + "LayerNorm.bias", {c.hidden}, why);
  const std::string decoder = f.contains("cls.predictions.decoder.weight")
                                  ? "cls.predictions.decoder.weight"
                                  : prefixed(f, "embeddings.word_embeddings.weight");
  m.decoder_w = f.read(decoder, {c.vocab_size, c.hidden}, why);
  m.decoder_b = f.read("cls.predictions.bias", {c.vocab_size}, why);
  return m;
}

}  // namespace

TaskHead load_task_head(const std::string& safetensors_path, const std::string& config_path,
                        const BertConfig& config) {
  TaskHead head;
  head.source = safetensors_path;
  const SafetensorsFile f(safetensors_path);
  head.kind = detect_head(f, safetensors_path, config_path);
  if (head.kind == HeadKind::sequence_classification) {
    head.sequence = load_sequence_classification_head(safetensors_path, config_path, config.hidden);
    head.num_labels = head.sequence.num_labels;
    head.labels = head.sequence.labels;
  } else if (head.kind == HeadKind::masked_lm) {
    head.masked_lm = load_masked_lm_head(f, safetensors_path, config, config_path);
    head.num_labels = config.vocab_size;
  } else {
    if (!f.contains("classifier.weight"))
      throw InputError(safetensors_path +
                       ": missing tensor 'classifier.weight' (BertForTokenClassification)");
    TokenClassificationHead& t = head.token;
    t.hidden = config.hidden;
    read_label_names(config_path, t.num_labels, head.labels);
    if (t.num_labels == 0) t.num_labels = f.entry("classifier.weight").shape.at(0);
    t.classifier_w = f.read("classifier.weight", {t.num_labels, config.hidden}, config_path);
    t.classifier_b = f.read("classifier.bias", {t.num_labels}, config_path);
    head.num_labels = t.num_labels;
    if (head.labels.empty())
      for (int64_t i = 0; i < t.num_labels; ++i)
        head.labels.push_back("LABEL_" + std::to_string(i));
  }
  return head;
}

ClassificationMetrics classification_metrics(const std::vector<int64_t>& confusion,
                                             int64_t num_labels) {
  const auto n = static_cast<size_t>(num_labels);
  auto at = [&](size_t label, size_t pred) {
    return static_cast<double>(confusion[label * n + pred]);
  };
  ClassificationMetrics m;
  double total = 0, diagonal = 0, f1_sum = 0;
  int classes = 0;
  for (size_t c = 0; c < n; ++c) {
    double labelled = 0, predicted = 0;
    for (size_t o = 0; o < n; ++o) labelled += at(c, o), predicted += at(o, c), total += at(c, o);
    diagonal += at(c, c);
    if (labelled + predicted == 0) continue;  // absent from labels and predictions
    ++classes;
    f1_sum += 2 * at(c, c) / (labelled + predicted);  // 2 TP / (2 TP + FP + FN)
  }
  m.accuracy = total > 0 ? diagonal / total : 0;
  m.macro_f1 = classes ? f1_sum / classes : 0;
  m.f1 = m.mcc = std::nan("");
  if (n == 2) {
    const double tn = at(0, 0), fp = at(0, 1), fn = at(1, 0), tp = at(1, 1);
    m.f1 = tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
    const double denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn);
    m.mcc = denominator > 0 ? (tp * tn - fp * fn) / std::sqrt(denominator) : 0;
  }
  return m;
}

}  // namespace acceltran
