#include "acceltran/workload/dataset.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/workload/heads.hpp"

namespace acceltran {

namespace {

using nlohmann::json;

struct Line {
  std::string where;  // "<file>:<line>"
  std::vector<int32_t> ids, types;
  std::vector<uint8_t> mask;
  int64_t label = 0;
  std::vector<int32_t> token_labels;
};

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& what) {
  throw InputError(where + ": key '" + key + "': " + what);
}

std::vector<int64_t> int_list(const json& j, const std::string& where, const std::string& key) {
  if (!j.is_array()) fail(where, key, "not a list of integers");
  std::vector<int64_t> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_integer())
      fail(where, key,
           "item " + std::to_string(i) + " " + quoted_value(j[i].dump()) + " is not an integer");
    out.push_back(j[i].get<int64_t>());
  }
  return out;
}

std::vector<int32_t> bounded(const std::vector<int64_t>& v, int64_t limit, const std::string& where,
                             const std::string& key, const char* limit_name) {
  std::vector<int32_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] < 0 || (limit > 0 && v[i] >= limit))
      fail(where, key,
           "item " + std::to_string(i) + " = " + std::to_string(v[i]) + " outside [0, " +
               (limit > 0 ? std::to_string(limit) + ") (" + limit_name + ")" : "inf)"));
    out.push_back(static_cast<int32_t>(v[i]));
  }
  return out;
}

void read_ids(const json& j, const DatasetOptions& o, Line& l) {
  if (j.contains("text")) {
    if (j.contains("input_ids")) fail(l.where, "text", "give either 'text' or 'input_ids'");
    if (!j["text"].is_string()) fail(l.where, "text", "not a string");
    if (!o.tokenizer)
      fail(l.where, "text", "raw text needs a vocabulary (--vocab vocab.txt) to be tokenized");
    try {
      Encoding e = o.tokenizer->encode(j["text"].get<std::string>(), o.seq_len, false);
      l.ids = std::move(e.input_ids);
    } catch (const InputError& e) {
      fail(l.where, "text", e.what());
    }
    return;
  }
  if (!j.contains("input_ids")) fail(l.where, "input_ids", "missing (or give 'text')");
  l.ids = bounded(int_list(j["input_ids"], l.where, "input_ids"), o.vocab_size, l.where,
                  "input_ids", "the vocabulary size");
  if (l.ids.empty()) fail(l.where, "input_ids", "empty");
  if (o.seq_len > 0 && static_cast<int64_t>(l.ids.size()) > o.seq_len)
    fail(l.where, "input_ids",
         std::to_string(l.ids.size()) + " ids, more than the sequence length " +
             std::to_string(o.seq_len));
}

void read_mask_and_types(const json& j, const DatasetOptions& o, Line& l) {
  const size_t n = l.ids.size();
  l.mask.assign(n, 1);
  l.types.assign(n, 0);
  if (j.contains("attention_mask")) {
    const std::vector<int32_t> m = bounded(int_list(j["attention_mask"], l.where, "attention_mask"),
                                           2, l.where, "attention_mask", "0 or 1");
    if (m.size() != n)
      fail(l.where, "attention_mask",
           std::to_string(m.size()) + " values for " + std::to_string(n) + " input_ids");
    for (size_t i = 1; i < n; ++i)
      if (m[i] == 1 && m[i - 1] == 0)
        fail(l.where, "attention_mask",
             "a 1 after a 0 at item " + std::to_string(i) + " (padding must be at the end)");
    if (m[0] == 0) fail(l.where, "attention_mask", "item 0 is 0 (no real token)");
    l.mask.assign(m.begin(), m.end());
  }
  if (j.contains("token_type_ids")) {
    l.types = bounded(int_list(j["token_type_ids"], l.where, "token_type_ids"), o.type_vocab_size,
                      l.where, "token_type_ids", "type_vocab_size");
    if (l.types.size() != n)
      fail(l.where, "token_type_ids",
           std::to_string(l.types.size()) + " values for " + std::to_string(n) + " input_ids");
  }
}

// "labels": one per input id, -100 or in [0, num_labels); unmasked positions become -100.
void read_token_labels(const json& j, const DatasetOptions& o, Line& l) {
  if (!j.contains("labels"))
    fail(l.where, "labels", "missing (a list of one label per input id, -100: not labelled)");
  if (j.contains("text"))
    fail(l.where, "labels",
         "per-token labels need 'input_ids' (not 'text': its tokens are unknown)");
  const std::vector<int64_t> v = int_list(j["labels"], l.where, "labels");
  if (v.size() != l.ids.size())
    fail(l.where, "labels",
         std::to_string(v.size()) + " values for " + std::to_string(l.ids.size()) + " input_ids");
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != kIgnoredLabel && (v[i] < 0 || (o.num_labels > 0 && v[i] >= o.num_labels)))
      fail(l.where, "labels",
           "item " + std::to_string(i) + " = " + std::to_string(v[i]) + " outside [0, " +
               std::to_string(o.num_labels) + ") and not -100 (not labelled)");
    l.token_labels.push_back(l.mask[i] ? static_cast<int32_t>(v[i]) : kIgnoredLabel);
  }
}

Line read_line(const std::string& text, const std::string& where, const DatasetOptions& o) {
  check_json_text(text, where, limits::kMaxJsonBytes);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(where + ": not JSON (" + quoted_value(e.what()) + ")");
  }
  if (!j.is_object())
    throw InputError(where + ": not a JSON object (keys input_ids or text, label, ...)");
  Line l;
  l.where = where;
  read_ids(j, o, l);
  read_mask_and_types(j, o, l);
  if (o.token_labels) {
    read_token_labels(j, o, l);
    return l;
  }
  if (!j.contains("label")) fail(where, "label", "missing (an integer class index)");
  if (!j["label"].is_number_integer())
    fail(where, "label", quoted_value(j["label"].dump()) + " is not an integer class index");
  l.label = j["label"].get<int64_t>();
  if (l.label < 0 || (o.num_labels > 0 && l.label >= o.num_labels))
    fail(where, "label",
         std::to_string(l.label) + " outside [0, " +
             (o.num_labels > 0 ? std::to_string(o.num_labels) + ") (the model's num_labels)"
                               : "inf)"));
  return l;
}

}  // namespace

int64_t Dataset::length(int64_t i) const {
  int64_t n = 0;
  for (uint8_t m : attention_mask[static_cast<size_t>(i)]) n += m;
  return n;
}

Dataset read_dataset(const std::string& path, const DatasetOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path + ": cannot open the dataset");
  std::vector<Line> lines;
  std::string text;
  int64_t longest = 0;
  for (int64_t n = 1; std::getline(f, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    lines.push_back(read_line(text, path + ":" + std::to_string(n), options));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(lines.back().ids.size()));
  }
  if (lines.empty()) throw InputError(path + ": no sequences (one JSON object per line)");
  Dataset d;
  d.source = path;
  d.seq_len = options.seq_len > 0 ? options.seq_len : longest;
  if (options.max_position > 0 && d.seq_len > options.max_position)
    throw InputError(path + ": sequence length " + std::to_string(d.seq_len) +
                     " exceeds the model's max_position_embeddings " +
                     std::to_string(options.max_position));
  const int32_t pad = options.tokenizer ? options.tokenizer->pad_id() : 0;
  const auto len = static_cast<size_t>(d.seq_len);
  for (Line& l : lines) {
    l.ids.resize(len, pad);
    l.mask.resize(len, 0);
    l.types.resize(len, 0);
    if (options.token_labels) l.token_labels.resize(len, kIgnoredLabel);
    d.token_labels.push_back(std::move(l.token_labels));
    d.input_ids.push_back(std::move(l.ids));
    d.attention_mask.push_back(std::move(l.mask));
    d.token_type_ids.push_back(std::move(l.types));
    d.labels.push_back(l.label);
  }
  return d;
}

std::vector<DatasetBatch> batches_of(const Dataset& set, int64_t batch) {
  if (batch < 1) throw InputError("dataset batches: batch size " + std::to_string(batch) + " < 1");
  std::vector<DatasetBatch> out;
  for (int64_t first = 0; first < set.size(); first += batch) {
    DatasetBatch b;
    b.first = first;
    b.real = std::min(batch, set.size() - first);
    for (int64_t r = 0; r < batch; ++r) {
      const auto src = static_cast<size_t>(first + (r < b.real ? r : 0));
      b.input_ids.push_back(set.input_ids[src]);
      b.attention_mask.push_back(set.attention_mask[src]);
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace acceltran
