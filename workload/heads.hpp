// Task heads of a Hugging Face BERT checkpoint, computed on the host in float32 from the
// encoder's final hidden state (the accelerator's, converted from Q4.16, or the float
// reference's). Sequence classification (BertForSequenceClassification): the pooler,
// tanh(W_p h_[CLS] + b_p), then the classifier W_c pooled + b_c; the prediction is the arg max
// of the logits (the first on a tie).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/workload/safetensors.hpp"

namespace acceltran {

// BERT's pooler: dense W_p h_[CLS] + b_p, then tanh. The published DynaTran code prunes the
// dense output (before tanh; tanh(0) = 0 keeps its zeros) with the encoder's tau and appends its
// [zeros, elements] to the sparsity count (docs/dynatran.md, "Counting sparsity").
struct BertPooler {
  int64_t hidden = 0;
  FloatTensor weight, bias;  // [h, h], [h]
  // The dense output of one [CLS] row (h values), accumulated in double and rounded to float;
  // with tau >= 0, values with |x| <= tau (float32, as the published code) are set to 0.
  std::vector<float> dense(const float* cls_hidden, double tau = -1) const;
  // tanh of dense().
  std::vector<float> pooled(const float* cls_hidden, double tau = -1) const;
};

// bert.pooler.dense.{weight,bias} (or pooler.dense...), shapes checked against `hidden`; errors
// name the file and the tensor, `why` the config that gave `hidden`.
BertPooler load_bert_pooler(const SafetensorsFile& file, int64_t hidden, const std::string& why);
BertPooler load_bert_pooler(const std::string& safetensors_path, int64_t hidden,
                            const std::string& why);

struct SequenceClassificationHead {
  std::string source;
  int64_t hidden = 0, num_labels = 0;
  std::vector<std::string> labels;         // id2label, "LABEL_i" when absent
  BertPooler pooler;                       // [h, h], [h]
  FloatTensor classifier_w, classifier_b;  // [num_labels, h], [num_labels]
  // cls_hidden: h values; pooler_tau >= 0 prunes the pooler's dense output (BertPooler::dense).
  std::vector<float> logits(const float* cls_hidden, double pooler_tau = -1) const;
  // The classifier on a pooled vector (h values).
  std::vector<float> logits_of_pooled(const std::vector<float>& pooled) const;
  int64_t predict(const float* cls_hidden, double pooler_tau = -1) const;
  // The arg max of logits (the first on a tie).
  static int64_t arg_max(const std::vector<float>& logits);
};

// Reads the head of a BertForSequenceClassification checkpoint: bert.pooler.dense.{weight,bias}
// (or pooler.dense...) and classifier.{weight,bias}, shapes checked against `hidden` and
// config.json's num_labels (or the length of its id2label; else the classifier's rows).
// Throws InputError naming the file and the tensor or key.
SequenceClassificationHead load_sequence_classification_head(const std::string& safetensors_path,
                                                             const std::string& config_path,
                                                             int64_t hidden);

}  // namespace acceltran
