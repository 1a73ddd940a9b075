// Labelled token datasets for `acceltran evaluate`: JSON Lines, one sequence per line, either
//   {"input_ids": [101, 7592, 102], "attention_mask": [1, 1, 1], "token_type_ids": [0, 0, 0],
//    "label": 1}                       (attention_mask and token_type_ids optional)
// or raw text through a WordPiece vocabulary (workload/tokenizer.hpp):
//   {"text": "Hello world.", "label": 1}
// For a token-level head (DatasetOptions::token_labels) "label" is replaced by "labels", one
// per input id: a class (or vocabulary id for masked-LM) or -100 (not labelled, as Hugging
// Face's ignore_index); positions with attention_mask 0 and padding are not labelled either:
//   {"input_ids": [101, 7592, 102], "labels": [-100, 3, -100]}
// Every sequence is padded to one length (the longest, or a given one: text is truncated to it,
// ids longer than it are an error) with [PAD] (id 0 without a vocabulary) and mask 0, and the
// set is cut into batches of the accelerator's batch size, the last one padded with copies of
// its first row that no metric counts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/workload/tokenizer.hpp"

namespace acceltran {

struct Dataset {
  std::string source;
  int64_t seq_len = 0;
  std::vector<std::vector<int32_t>> input_ids;       // [n][seq_len]
  std::vector<std::vector<uint8_t>> attention_mask;  // [n][seq_len], 1 real, 0 padding
  std::vector<std::vector<int32_t>> token_type_ids;  // [n][seq_len]
  std::vector<int64_t> labels;                       // [n] (0 with token_labels)
  std::vector<std::vector<int32_t>> token_labels;    // [n][seq_len], -100: not labelled
  int64_t size() const { return static_cast<int64_t>(input_ids.size()); }
  // Real tokens of sequence i (its mask's ones; padding is at the end).
  int64_t length(int64_t i) const;
};

struct DatasetOptions {
  int64_t seq_len = 0;                            // 0: the longest sequence
  const WordPieceTokenizer* tokenizer = nullptr;  // needed for "text" lines
  int64_t vocab_size = 0;                         // ids must be below (0: unchecked)
  int64_t type_vocab_size = 0;                    // token types must be below (0: unchecked)
  int64_t max_position = 0;                       // seq_len must not exceed (0: unchecked)
  int64_t num_labels = 0;                         // labels must be in [0, num_labels) (0: >= 0)
  bool token_labels = false;                      // "labels" per token instead of "label"
};

// Reads a JSONL dataset. Throws InputError "<file>:<line>: key '<key>': ..." for a line that is
// not a JSON object, a missing or mistyped key, an id outside the vocabulary, a mask that is not
// 0/1 or has a 1 after a 0, lists of different lengths, a label outside [0, num_labels), a
// "text" line without a vocabulary; and "<file>: ..." for a file without sequences.
Dataset read_dataset(const std::string& path, const DatasetOptions& options);

// Sequences [first, first + count) of the set, padded to `batch` rows with copies of row
// `first` (count <= batch): `real` says how many rows count.
struct DatasetBatch {
  int64_t first = 0, real = 0;
  std::vector<std::vector<int32_t>> input_ids;
  std::vector<std::vector<uint8_t>> attention_mask;
};
std::vector<DatasetBatch> batches_of(const Dataset& set, int64_t batch);

}  // namespace acceltran
