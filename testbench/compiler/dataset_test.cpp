// JSONL datasets (workload/dataset.hpp): ids or text, padding to one length, batches with the
// last one padded, and errors that name file:line and the key.
#include <catch2/catch.hpp>

#include "acceltran/workload/dataset.hpp"
#include "test_util.hpp"

using namespace acceltran;

namespace {

std::string vocab(const testutil::TempDir& d) {
  return d.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n");
}

}  // namespace

TEST_CASE("dataset: ids and text lines padded to the longest, masks and labels", "[dataset]") {
  testutil::TempDir d;
  const WordPieceTokenizer tok(vocab(d));
  DatasetOptions o;
  o.tokenizer = &tok;
  o.vocab_size = 6;
  const std::string f =
      d.write("set.jsonl",
              "{\"input_ids\": [2, 4, 5, 3], \"label\": 1}\n\n"
              "{\"text\": \"Hello\", \"label\": 0}\n"
              "{\"input_ids\": [2, 5, 3, 0], \"attention_mask\": [1, 1, 1, 0], \"token_type_ids\": "
              "[0, 0, 0, 0], \"label\": 2}\n");
  const Dataset s = read_dataset(f, o);
  REQUIRE(s.size() == 3);
  CHECK(s.seq_len == 4);
  CHECK(s.input_ids[1] == std::vector<int32_t>{2, 4, 3, 0});
  CHECK(s.attention_mask[1] == std::vector<uint8_t>{1, 1, 1, 0});
  CHECK(s.length(0) == 4);
  CHECK(s.length(2) == 3);
  CHECK(s.labels == std::vector<int64_t>{1, 0, 2});
  o.seq_len = 8;
  CHECK(read_dataset(f, o).input_ids[0].size() == 8);
}

TEST_CASE("dataset: 37 sequences in batches of 4, the last padded with real = 1", "[dataset]") {
  testutil::TempDir d;
  std::string text;
  for (int i = 0; i < 37; ++i)
    text += "{\"input_ids\": [2, " + std::to_string(4 + i % 2) +
            ", 3], \"label\": " + std::to_string(i % 2) + "}\n";
  const Dataset s = read_dataset(d.write("s.jsonl", text), DatasetOptions{});
  const std::vector<DatasetBatch> b = batches_of(s, 4);
  REQUIRE(b.size() == 10);
  CHECK(b[9].first == 36);
  CHECK(b[9].real == 1);
  CHECK(b[9].input_ids.size() == 4);
  CHECK(b[9].input_ids[3] == s.input_ids[36]);
  int64_t real = 0;
  for (const auto& x : b) real += x.real;
  CHECK(real == 37);
}

TEST_CASE("dataset: errors name file:line and the key", "[dataset]") {
  testutil::TempDir d;
  DatasetOptions o;
  o.vocab_size = 6;
  o.num_labels = 2;
  auto err = [&](const std::string& line) {
    try {
      read_dataset(d.write("bad.jsonl", "{\"input_ids\": [2, 3], \"label\": 0}\n" + line + "\n"),
                   o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(err("[1]"), Catch::Contains("bad.jsonl:2") && Catch::Contains("not a JSON object"));
  CHECK_THAT(err("{\"input_ids\": [2, 9], \"label\": 0}"),
             Catch::Contains("bad.jsonl:2: key 'input_ids'") && Catch::Contains("outside [0, 6)"));
  CHECK_THAT(err("{\"input_ids\": [2, 3]}"), Catch::Contains("key 'label': missing"));
  CHECK_THAT(err("{\"input_ids\": [2, 3], \"label\": 2}"),
             Catch::Contains("key 'label'") && Catch::Contains("num_labels"));
  CHECK_THAT(err("{\"input_ids\": [2, 3], \"attention_mask\": [0, 1], \"label\": 0}"),
             Catch::Contains("key 'attention_mask'"));
  CHECK_THAT(err("{\"input_ids\": [2, 3], \"attention_mask\": [1], \"label\": 0}"),
             Catch::Contains("1 values for 2 input_ids"));
  CHECK_THAT(err("{\"text\": \"hi\", \"label\": 0}"),
             Catch::Contains("key 'text'") && Catch::Contains("--vocab"));
  CHECK_THAT(err("{\"input_ids\": \"x\", \"label\": 0}"), Catch::Contains("not a list"));
  CHECK_THAT(err("{not json"), Catch::Contains("bad.jsonl:2: not JSON"));
  CHECK_THROWS_WITH(read_dataset(d.write("empty.jsonl", "\n"), o),
                    Catch::Contains("empty.jsonl: no sequences"));
  o.seq_len = 1;
  CHECK_THAT(err(""), Catch::Contains("bad.jsonl:1: key 'input_ids'") &&
                          Catch::Contains("more than the sequence length 1"));
}

TEST_CASE("dataset: per-token labels, -100 and masked positions not labelled", "[dataset]") {
  testutil::TempDir d;
  DatasetOptions o;
  o.token_labels = true;
  o.num_labels = 3;
  const std::string f =
      d.write("tok.jsonl",
              "{\"input_ids\": [2, 4, 5, 3], \"labels\": [-100, 2, 0, -100]}\n"
              "{\"input_ids\": [2, 4, 0], \"attention_mask\": [1, 1, 0], \"labels\": [1, 1, 1]}\n");
  const Dataset s = read_dataset(f, o);
  REQUIRE(s.token_labels.size() == 2);
  CHECK(s.token_labels[0] == std::vector<int32_t>{-100, 2, 0, -100});
  CHECK(s.token_labels[1] == std::vector<int32_t>{1, 1, -100, -100});  // mask 0 and padding
  auto error_of = [&](const std::string& line) {
    try {
      read_dataset(d.write("bad.jsonl", line + "\n"), o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of("{\"input_ids\": [2, 3], \"label\": 1}"),
             Catch::Contains("bad.jsonl:1: key 'labels': missing"));
  CHECK_THAT(error_of("{\"input_ids\": [2, 3], \"labels\": [1]}"),
             Catch::Contains("key 'labels': 1 values for 2 input_ids"));
  CHECK_THAT(error_of("{\"input_ids\": [2, 3], \"labels\": [1, 3]}"),
             Catch::Contains("key 'labels': item 1 = 3 outside [0, 3) and not -100"));
}
