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

struct SequenceClassificationHead {
  std::string source;
  int64_t hidden = 0, num_labels = 0;
  std::vector<std::string> labels;                           // id2label, "LABEL_i" when absent
  FloatTensor pooler_w, pooler_b;                            // [h, h], [h]
  FloatTensor classifier_w, classifier_b;                    // [num_labels, h], [num_labels]
  std::vector<float> logits(const float* cls_hidden) const;  // cls_hidden: h values
  int64_t predict(const float* cls_hidden) const;
};

// Reads the head of a BertForSequenceClassification checkpoint: bert.pooler.dense.{weight,bias}
// (or pooler.dense...) and classifier.{weight,bias}, shapes checked against `hidden` and
// config.json's num_labels (or the length of its id2label; else the classifier's rows).
// Throws InputError naming the file and the tensor or key.
SequenceClassificationHead load_sequence_classification_head(const std::string& safetensors_path,
                                                             const std::string& config_path,
                                                             int64_t hidden);

}  // namespace acceltran
