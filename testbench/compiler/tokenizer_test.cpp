// The WordPiece tokenizer (workload/tokenizer.hpp) against Hugging Face's tokenizers.js on the
// committed fixture (testbench/fixtures/tokenizer/, made by tools/make_tokenizer_fixture.py and
// tools/tokenizer_expected_ids.mjs), and its rules on small hand-made vocabularies.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "acceltran/workload/tokenizer.hpp"
#include "test_util.hpp"

using namespace acceltran;

namespace {

const std::string kTokFixture = std::string(ACCELTRAN_FIXTURES_DIR_FOR_TESTS) + "/tokenizer";

std::string small_vocab(const testutil::TempDir& d) {
  return d.write("vocab.txt",
                 "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nworld\n!\nun\n##aff\n##able\ncafe\n"
                 "\xe4\xb8\xad\n\xe6\x96\x87\n.\n");
}

}  // namespace

TEST_CASE("tokenizer: ids identical to tokenizers.js on every fixture sentence", "[tokenizer]") {
  const WordPieceTokenizer tok(kTokFixture + "/vocab.txt");
  std::ifstream in(kTokFixture + "/expected.jsonl");
  REQUIRE(in);
  std::string line;
  int sentences = 0, mismatches = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    const std::vector<int32_t> want = j["input_ids"].get<std::vector<int32_t>>();
    const Encoding got = tok.encode(j["text"].get<std::string>());
    ++sentences;
    if (got.input_ids != want) {
      ++mismatches;
      UNSCOPED_INFO("sentence " << sentences << ": " << j["text"].dump());
    }
  }
  CHECK(sentences >= 200);
  CHECK(mismatches == 0);
}

TEST_CASE("tokenizer: special tokens in the text are matched whole", "[tokenizer]") {
  testutil::TempDir d;
  const WordPieceTokenizer tok(small_vocab(d));  // no [MASK]: "[MASK]" is text
  using V = std::vector<std::string>;
  CHECK(tok.tokenize("hello[SEP]world") == V{"hello", "[SEP]", "world"});
  CHECK(tok.basic_tokenize("[CLS] Hello [PAD][UNK]") == V{"[CLS]", "hello", "[PAD]", "[UNK]"});
  CHECK(tok.tokenize("[sep]") == V{"[UNK]", "[UNK]", "[UNK]"});  // "[", "sep", "]": not in it
  CHECK(tok.tokenize("[MASK]") == V{"[UNK]", "[UNK]", "[UNK]"});
  CHECK(tok.encode("[CLS]hello").input_ids == std::vector<int32_t>{2, 2, 4, 3});
}

TEST_CASE("tokenizer: basic tokenization and WordPiece rules", "[tokenizer]") {
  testutil::TempDir d;
  const WordPieceTokenizer tok(small_vocab(d));
  using V = std::vector<std::string>;
  CHECK(tok.basic_tokenize("Hello,World!") == V{"hello", ",", "world", "!"});
  CHECK(tok.basic_tokenize(" Caf\xc3\xa9\t\x01x ") == V{"cafe", "x"});  // accent, control
  CHECK(tok.basic_tokenize("\xe4\xb8\xad\xe6\x96\x87") == V{"\xe4\xb8\xad", "\xe6\x96\x87"});
  CHECK(tok.tokenize("unaffable") == V{"un", "##aff", "##able"});
  CHECK(tok.tokenize("unaffablex hello") == V{"[UNK]", "hello"});
  CHECK(tok.tokenize(std::string(101, 'h')) == V{"[UNK]"});
  const Encoding e = tok.encode("hello, world!", 5);
  CHECK(e.input_ids == std::vector<int32_t>{2, 4, 5, 6, 3});  // cut to 3 tokens, [SEP] kept
  const Encoding p = tok.encode("hello", 6);
  CHECK(p.input_ids == std::vector<int32_t>{2, 4, 3, 0, 0, 0});
  CHECK(p.attention_mask == std::vector<uint8_t>{1, 1, 1, 0, 0, 0});
  CHECK(tok.encode("hello", 6, false).input_ids.size() == 3);
  CHECK_THROWS_WITH(tok.encode("a\xff", 0), Catch::Contains("not valid UTF-8"));
  CHECK_THROWS_WITH(tok.encode("a", 1), Catch::Contains("at least 2"));
}

TEST_CASE("tokenizer: vocabulary errors name the file", "[tokenizer]") {
  testutil::TempDir d;
  CHECK_THROWS_WITH(WordPieceTokenizer((d.path / "none.txt").string()),
                    Catch::Contains("none.txt") && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(WordPieceTokenizer(d.write("v1.txt", "[PAD]\n[UNK]\n[CLS]\n")),
                    Catch::Contains("v1.txt") && Catch::Contains("[SEP]"));
  CHECK_THROWS_WITH(WordPieceTokenizer(d.write("v2.txt", "[PAD]\n[UNK]\n[PAD]\n")),
                    Catch::Contains("v2.txt:3") && Catch::Contains("twice"));
  CHECK_THROWS_WITH(WordPieceTokenizer(d.write("v3.txt", "")), Catch::Contains("empty"));
}

TEST_CASE("tokenizer: the checkpoint's test split, text and ids, agree", "[tokenizer]") {
  // models/checkpoints/fortunes-bert-tiny: test-text.jsonl tokenized here (cut at 128 tokens)
  // gives the ids of test.jsonl (written by the Python tokenizer of the training script).
  const std::string dir =
      std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/models/checkpoints/fortunes-bert-tiny";
  const WordPieceTokenizer tok(dir + "/vocab.txt");
  std::ifstream text(dir + "/test-text.jsonl"), ids(dir + "/test.jsonl");
  std::string a, b;
  int lines = 0, mismatches = 0;
  while (std::getline(text, a) && std::getline(ids, b)) {
    ++lines;
    const auto want = nlohmann::json::parse(b)["input_ids"].get<std::vector<int32_t>>();
    if (tok.encode(nlohmann::json::parse(a)["text"].get<std::string>(), 128, false).input_ids !=
        want)
      ++mismatches;
  }
  CHECK(lines == 619);
  CHECK(mismatches == 0);
}
