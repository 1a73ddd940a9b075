// Task heads of a Hugging Face BERT checkpoint, computed on the host in float32 from the
// encoder's final hidden state (the accelerator's, converted from Q4.16, or the float
// reference's). Sequence classification (BertForSequenceClassification): the pooler,
// tanh(W_p h_[CLS] + b_p), then the classifier W_c pooled + b_c; the prediction is the arg max
// of the logits (the first on a tie). Token classification (BertForTokenClassification): the
// classifier W_c h_t + b_c on every token's final hidden state. Masked language modelling
// (BertForMaskedLM): dense, the config's hidden_act, LayerNorm, then the decoder (tied to the
// word embeddings unless the checkpoint has its own) plus a bias, over the vocabulary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/workload/safetensors.hpp"

namespace acceltran {

struct BertConfig;  // workload/weights.hpp

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

// BertForTokenClassification's head: classifier.{weight,bias} on one token's hidden state.
struct TokenClassificationHead {
  int64_t hidden = 0, num_labels = 0;
  FloatTensor classifier_w, classifier_b;  // [num_labels, h], [num_labels]
  std::vector<float> logits(const float* token_hidden) const;
};

// BertForMaskedLM's head (cls.predictions): transform (dense, activation, LayerNorm), then the
// decoder [vocab, h] and its bias [vocab].
struct MaskedLmHead {
  int64_t hidden = 0, vocab_size = 0;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";
  FloatTensor transform_w, transform_b, ln_gamma, ln_beta;  // [h, h], [h], [h], [h]
  FloatTensor decoder_w, decoder_b;                         // [vocab, h], [vocab]
  std::vector<float> logits(const float* token_hidden) const;
};

enum class HeadKind { sequence_classification, token_classification, masked_lm };
// "sequence-classification", "token-classification", "masked-lm"
const char* head_kind_name(HeadKind kind);

// The task head of a checkpoint, whichever it is. Labels of a sequence: one (sequence
// classification) or one per token, kIgnoredLabel where the token is not labelled.
constexpr int32_t kIgnoredLabel = -100;  // Hugging Face's ignore_index
struct TaskHead {
  HeadKind kind = HeadKind::sequence_classification;
  std::string source;
  int64_t num_labels = 0;           // classes, or the vocabulary size for masked-LM
  std::vector<std::string> labels;  // class names (empty for masked-LM)
  SequenceClassificationHead sequence;
  TokenClassificationHead token;
  MaskedLmHead masked_lm;
  bool per_token() const { return kind != HeadKind::sequence_classification; }
  // The predictions of one sequence: `hidden` holds its final hidden states ([positions, h]);
  // sequence classification predicts from row 0 ([CLS]); the token heads predict every
  // position p < token_labels.size() whose label is not kIgnoredLabel, in order.
  std::vector<int64_t> predict(const float* hidden, const std::vector<int32_t>& token_labels,
                               double pooler_tau = -1) const;
};

// Reads the head named by config.json's "architectures" (BertForSequenceClassification,
// BertForTokenClassification, BertForMaskedLM); otherwise by the tensors: cls.predictions.bias
// -> masked-LM; classifier.weight with a pooler -> sequence classification; classifier.weight
// without a pooler -> token classification. Throws InputError naming the file and the tensors
// looked for when there is no supported head.
TaskHead load_task_head(const std::string& safetensors_path, const std::string& config_path,
                        const BertConfig& config);

// Classification metrics from a confusion matrix (rows: label, columns: prediction).
// f1 and mcc: binary tasks only (F1 of class 1; Matthews correlation, 0 when a marginal is 0),
// else NaN. macro_f1: the mean F1 over the classes that occur as a label or a prediction
// (scikit-learn's rule; a class's F1 is 0 when it has no true positive).
struct ClassificationMetrics {
  double accuracy = 0, f1 = 0, mcc = 0, macro_f1 = 0;
};
ClassificationMetrics classification_metrics(const std::vector<int64_t>& confusion,
                                             int64_t num_labels);

}  // namespace acceltran
