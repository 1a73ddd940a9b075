// BERT weights (checkpoint and synthetic) and token inputs.
#include <catch2/catch.hpp>

#include <cmath>

#include "acceltran/workload/weights.hpp"
#include "golden_util.hpp"
#include "test_util.hpp"

using namespace acceltran;
using golden::error_of;

namespace {

bool contains_all(const std::string& msg, const std::vector<std::string>& parts) {
  for (const auto& p : parts)
    if (msg.find(p) == std::string::npos) return false;
  return !msg.empty() && msg.find('\n') == std::string::npos;
}

// The fixture's checkpoint tensors under new names (rename(name) == "" drops a tensor).
std::string rewrite_fixture(const testutil::TempDir& d, const std::string& file,
                            const std::function<std::string(const std::string&)>& rename) {
  SafetensorsFile f(golden::kFixture + "/model.safetensors");
  std::vector<std::pair<std::string, FloatTensor>> out;
  for (const auto& n : f.names()) {
    if (f.entry(n).dtype != "F32") continue;
    std::string m = rename(n);
    if (!m.empty()) out.emplace_back(m, f.read(n));
  }
  const std::string path = (d.path / file).string();
  write_safetensors(path, out);
  return path;
}

}  // namespace

TEST_CASE("BERT config from config.json and from FlexiBERT dictionaries", "[weights]") {
  BertConfig c = load_bert_config(golden::kFixture + "/config.json");
  CHECK(c.layers == 2);
  CHECK(c.hidden == 64);
  CHECK(c.heads == 2);
  CHECK(c.head_dim == 32);
  CHECK(c.intermediate == 256);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_position == 64);
  CHECK(c.type_vocab == 2);
  CHECK(c.layer_norm_eps == 1e-12);
  CHECK(c.hidden_act == "gelu");

  BertConfig tiny = load_bert_config("bert-tiny");
  CHECK(tiny.hidden == 128);
  CHECK(tiny.heads == 2);
  CHECK(tiny.intermediate == 512);
  CHECK(tiny.vocab_size == 30522);

  testutil::TempDir d;
  auto cfg = [&](const std::string& name, const std::string& text) {
    return error_of([&] { load_bert_config(d.write(name, text)); });
  };
  CHECK(load_bert_config(d.write("eps.json", R"({"hidden_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 2, "intermediate_size": 16, "layer_norm_eps": 1e-5})"))
            .layer_norm_eps == 1e-5);
  CHECK(contains_all(cfg("badeps.json", R"({"hidden_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 2, "intermediate_size": 16, "layer_norm_eps": -1})"),
                     {"badeps.json", "layer_norm_eps", "-1"}));
  CHECK(contains_all(
      cfg("hetero.json", R"({"l": 2, "o": [["sa_sdp_64"], ["sa_sdp_32"]], "h": [64, 32],
                            "f": [[128], [128]]})"),
      {"hetero.json", "layer 1 differs from layer 0", "uniform BERT encoders"}));
  CHECK(contains_all(cfg("wma.json", R"({"l": 1, "o": [["sa_wma_64"]], "h": [64], "f": [[128]]})"),
                     {"wma.json", "is not sa_sdp_64"}));
  CHECK(contains_all(
      cfg("dims.json", R"({"l": 1, "o": [["sa_sdp_64", "sa_sdp_64"]], "h": [64], "f": [[128]]})"),
      {"dims.json", "2 heads of dimension 64 do not make the hidden size 64"}));
  CHECK(contains_all(
      cfg("ffn.json", R"({"l": 1, "o": [["sa_sdp_64"]], "h": [64], "f": [[128, 64]]})"),
      {"ffn.json", "2 stacked feed-forward sizes"}));
}

TEST_CASE("BERT checkpoint: with or without the bert. prefix, gamma/beta names", "[weights]") {
  const BertConfig c = load_bert_config(golden::kFixture + "/config.json");
  const BertWeights w = load_bert_weights(golden::kFixture + "/model.safetensors", c);
  CHECK_FALSE(w.synthetic);
  CHECK(w.layers.size() == 2);
  CHECK(w.word_emb.shape == std::vector<int64_t>{512, 64});
  CHECK(w.layers[1].inter_w.shape == std::vector<int64_t>{256, 64});
  CHECK(w.layers[1].out_w.shape == std::vector<int64_t>{64, 256});

  // Old-style names: no prefix, LayerNorm gamma/beta.
  testutil::TempDir d;
  auto old = rewrite_fixture(d, "old.safetensors", [](std::string n) {
    n = n.substr(5);  // drop "bert."
    for (auto [from, to] :
         {std::pair<std::string, std::string>{"LayerNorm.weight", "LayerNorm.gamma"},
          {"LayerNorm.bias", "LayerNorm.beta"}})
      if (n.size() > from.size() && n.compare(n.size() - from.size(), from.size(), from) == 0)
        n = n.substr(0, n.size() - from.size()) + to;
    return n;
  });
  const BertWeights w2 = load_bert_weights(old, c);
  CHECK(w2.emb_ln_gamma.data == w.emb_ln_gamma.data);
  CHECK(w2.layers[1].out_ln_beta.data == w.layers[1].out_ln_beta.data);
  CHECK(w2.layers[0].query_w.data == w.layers[0].query_w.data);
}

TEST_CASE("BERT checkpoint: missing tensor, wrong shape, not BERT", "[weights]") {
  const BertConfig c = load_bert_config(golden::kFixture + "/config.json");
  testutil::TempDir d;
  auto missing = rewrite_fixture(d, "missing.safetensors", [](const std::string& n) {
    return n == "bert.encoder.layer.1.intermediate.dense.bias" ? "" : n;
  });
  CHECK(contains_all(
      error_of([&] { load_bert_weights(missing, c); }),
      {"missing.safetensors", "missing tensor 'bert.encoder.layer.1.intermediate.dense.bias'"}));

  BertConfig wider = c;
  wider.intermediate = 128;
  CHECK(contains_all(
      error_of([&] { load_bert_weights(golden::kFixture + "/model.safetensors", wider); }),
      {"model.safetensors", "tensor 'bert.encoder.layer.0.intermediate.dense.weight'",
       "shape [256, 64]", "requires [128, 64]", "config.json"}));
  BertConfig more_layers = c;
  more_layers.layers = 3;
  CHECK(contains_all(
      error_of([&] { load_bert_weights(golden::kFixture + "/model.safetensors", more_layers); }),
      {"missing tensor 'bert.encoder.layer.2.attention.self.query.weight'"}));

  auto gpt = rewrite_fixture(d, "gpt.safetensors",
                             [](const std::string& n) { return "transformer." + n; });
  CHECK(contains_all(
      error_of([&] { load_bert_weights(gpt, c); }),
      {"gpt.safetensors", "embeddings.word_embeddings.weight", "not a BERT checkpoint"}));
}

TEST_CASE("synthetic weights: BERT's initialisation, deterministic for a seed", "[weights]") {
  const BertConfig c = load_bert_config(golden::kFixture + "/config.json");
  const BertWeights a = synthetic_bert_weights(c, 7), b = synthetic_bert_weights(c, 7),
                    other = synthetic_bert_weights(c, 8);
  CHECK(a.synthetic);
  CHECK(a.source == "synthetic (seed 7)");
  CHECK(a.word_emb.data == b.word_emb.data);
  CHECK(a.layers[1].out_w.data == b.layers[1].out_w.data);
  CHECK(a.word_emb.data != other.word_emb.data);
  CHECK(a.layers[0].query_w.data != a.layers[0].key_w.data);  // one stream per tensor
  CHECK(a.layers[0].query_b.data == std::vector<float>(64, 0.0f));
  CHECK(a.layers[1].attn_ln_gamma.data == std::vector<float>(64, 1.0f));
  CHECK(a.layers[1].attn_ln_beta.data == std::vector<float>(64, 0.0f));
  CHECK(std::vector<float>(a.word_emb.data.begin(), a.word_emb.data.begin() + 64) ==
        std::vector<float>(64, 0.0f));  // padding token 0

  // The generator is pinned: these values must never change silently (every synthetic result
  // in the docs depends on them).
  const auto v = seeded_normal(1, "embeddings.word_embeddings.weight", 4, 0.0, 1.0);
  CHECK(v[0] == Approx(0.485148817).margin(1e-6));
  CHECK(v[1] == Approx(-0.376913637).margin(1e-6));
  CHECK(v[2] == Approx(-1.26530457).margin(1e-6));
  CHECK(v[3] == Approx(-0.334397823).margin(1e-6));
  // A tensor's values depend on the seed and its name only, not on the other tensors.
  BertConfig bigger = c;
  bigger.vocab_size = 1000;
  CHECK(synthetic_bert_weights(bigger, 7).layers[0].query_w.data == a.layers[0].query_w.data);

  // normal(0, 0.02): sample moments of 200k draws.
  const auto big = seeded_normal(3, "x", 200000, 0.0, 0.02);
  double sum = 0, sq = 0;
  int beyond_3sigma = 0;
  for (float x : big) {
    sum += x;
    sq += static_cast<double>(x) * x;
    beyond_3sigma += std::abs(x) > 0.06f;
  }
  const double mean = sum / big.size(), sd = std::sqrt(sq / big.size() - mean * mean);
  CHECK(std::abs(mean) < 0.02 * 5 / std::sqrt(200000.0));
  CHECK(sd == Approx(0.02).epsilon(0.01));
  CHECK(beyond_3sigma == Approx(200000 * 0.0027).epsilon(0.1));
}

TEST_CASE("token files: one sequence per line, errors with line numbers", "[weights]") {
  const BertConfig c = load_bert_config(golden::kFixture + "/config.json");
  TokenBatch fixture = read_tokens(golden::kFixture + "/tokens.txt", c);
  REQUIRE(fixture.sequences.size() == 2);
  CHECK(fixture.sequences[0].size() == 16);
  CHECK(fixture.sequences[1].size() == 16);

  testutil::TempDir d;
  TokenBatch t = read_tokens(d.write("ok.txt", "1 2 3\n\n  4\t5  \n"), c);
  CHECK(t.sequences == std::vector<std::vector<int32_t>>{{1, 2, 3}, {4, 5}});

  auto err = [&](const std::string& name, const std::string& text) {
    return error_of([&] { read_tokens(d.write(name, text), c); });
  };
  CHECK(contains_all(err("word.txt", "1 2\n3 hello 4\n"),
                     {"word.txt:2:", "token 'hello' is not a non-negative integer"}));
  CHECK(contains_all(err("neg.txt", "1 -2\n"), {"neg.txt:1:", "'-2'"}));
  CHECK(contains_all(err("big.txt", "1\n2\n\n512\n"),
                     {"big.txt:4:", "token id 512", "vocabulary [0, 512)", "config.json"}));
  CHECK(contains_all(err("huge.txt", "99999999999999999999\n"),
                     {"huge.txt:1:", "not a non-negative integer"}));
  std::string long_line;
  for (int i = 0; i < 65; ++i) long_line += "1 ";
  CHECK(contains_all(err("long.txt", long_line + "\n"),
                     {"long.txt:1:", "65 tokens exceeds max_position_embeddings 64"}));
  CHECK(contains_all(err("empty.txt", "\n \n"), {"empty.txt", "no token sequences"}));
  CHECK(contains_all(error_of([&] { read_tokens((d.path / "absent.txt").string(), c); }),
                     {"absent.txt", "not found"}));
}

TEST_CASE("random tokens: seeded, in the vocabulary", "[weights]") {
  const BertConfig c = load_bert_config(golden::kFixture + "/config.json");
  TokenBatch a = random_tokens(3, 64, c, 5), b = random_tokens(3, 64, c, 5);
  CHECK(a.sequences == b.sequences);
  CHECK(a.sequences != random_tokens(3, 64, c, 6).sequences);
  REQUIRE(a.sequences.size() == 3);
  int32_t lo = 1 << 30, hi = -1;
  for (const auto& s : a.sequences) {
    CHECK(s.size() == 64);
    for (int32_t id : s) lo = std::min(lo, id), hi = std::max(hi, id);
  }
  CHECK(lo >= 0);
  CHECK(hi < 512);
  CHECK(hi > 400);  // 192 draws from 512 ids reach the top fifth
  CHECK(contains_all(error_of([&] { random_tokens(1, 65, c, 1); }),
                     {"65", "max_position_embeddings 64"}));
  CHECK(contains_all(error_of([&] { random_tokens(0, 8, c, 1); }), {"batch 0"}));
}
