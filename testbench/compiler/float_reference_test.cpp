// The float32 reference BERT encoder against the committed PyTorch fixture
// (tools/make_bert_fixture.py), and its DynaTran / top-k pruning hook.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "acceltran/workload/float_reference.hpp"
#include "golden_util.hpp"

using namespace acceltran;
using golden::error_of;

namespace {

struct Fixture {
  BertConfig config = load_bert_config(golden::kFixture + "/config.json");
  BertWeights weights = load_bert_weights(golden::kFixture + "/model.safetensors", config);
  TokenBatch tokens = read_tokens(golden::kFixture + "/tokens.txt", config);
  SafetensorsFile expected{golden::kFixture + "/expected_hidden.safetensors"};

  // Sequence b of the expected [batch, S, h] tensor `name`.
  FloatTensor expected_seq(const std::string& name, size_t b) const {
    FloatTensor all = expected.read(name);
    REQUIRE(all.shape.size() == 3);
    const int64_t per = all.shape[1] * all.shape[2];
    FloatTensor t({all.shape[1], all.shape[2]});
    std::copy(all.data.begin() + static_cast<int64_t>(b) * per,
              all.data.begin() + static_cast<int64_t>(b + 1) * per, t.data.begin());
    return t;
  }

  // Runs every sequence with `prune`; checks the hidden states "<prefix>hidden_states.N" within
  // `tol` and returns the zero counts summed over the sequences, [layer][point].
  std::vector<std::array<uint64_t, kPrunePoints>> check(const std::string& prefix,
                                                        const PruneSpec& prune, double tol) const {
    std::vector<std::array<uint64_t, kPrunePoints>> zeros(static_cast<size_t>(config.layers));
    for (size_t b = 0; b < tokens.sequences.size(); ++b) {
      const ReferenceResult r = run_float_reference(weights, tokens.sequences[b], prune);
      REQUIRE(r.hidden.size() == static_cast<size_t>(config.layers + 1));
      for (size_t n = 0; n < r.hidden.size(); ++n) {
        const FloatTensor want = expected_seq(fmt::format("{}hidden_states.{}", prefix, n), b);
        REQUIRE(r.hidden[n].shape == want.shape);
        const double err = golden::max_abs_diff(r.hidden[n], want);
        INFO(prefix << "sequence " << b << ", hidden state " << n << ": max |error| " << err);
        CHECK(err <= tol);
      }
      for (size_t l = 0; l < zeros.size(); ++l)
        for (int p = 0; p < kPrunePoints; ++p)
          zeros[l][static_cast<size_t>(p)] += r.zeros[l][static_cast<size_t>(p)].zeros;
    }
    return zeros;
  }

  void check_zeros(const std::string& name,
                   const std::vector<std::array<uint64_t, kPrunePoints>>& got) const {
    FloatTensor want = expected.read(name, {config.layers, kPrunePoints});
    for (size_t l = 0; l < got.size(); ++l)
      for (int p = 0; p < kPrunePoints; ++p) {
        INFO(name << " layer " << l << " point " << to_string(static_cast<PrunePoint>(p)));
        CHECK(got[l][static_cast<size_t>(p)] ==
              static_cast<uint64_t>(want.data[l * kPrunePoints + static_cast<size_t>(p)]));
      }
  }
};

}  // namespace

TEST_CASE("float reference matches PyTorch's BertModel on the fixture within 1e-5", "[golden]") {
  Fixture f;
  f.check("", PruneSpec{}, 1e-5);
}

TEST_CASE("float reference with DynaTran and top-k matches the PyTorch fixture", "[golden]") {
  Fixture f;
  const double tau = std::stod(f.expected.metadata().at("tau"));
  const int64_t k = std::stoll(f.expected.metadata().at("topk"));
  CHECK(f.expected.metadata().at("points") ==
        "query,key,value,scores,probs,context,attn_out,ffn_up,ffn_down");
  f.check_zeros("dynatran.zeros", f.check("dynatran.", PruneSpec::dynatran(tau), 1e-5));
  f.check_zeros("topk.zeros", f.check("topk.", PruneSpec::topk(k), 1e-5));
}

TEST_CASE("DynaTran hook: tau 0 changes nothing, sparsity rises with tau", "[golden]") {
  Fixture f;
  const auto& seq = f.tokens.sequences[0];
  const ReferenceResult dense = run_float_reference(f.weights, seq);
  const ReferenceResult tau0 = run_float_reference(f.weights, seq, PruneSpec::dynatran(0.0));
  for (size_t n = 0; n < dense.hidden.size(); ++n)
    CHECK(dense.hidden[n].data == tau0.hidden[n].data);

  double last = -1;
  for (double tau : {0.0, 0.01, 0.03, 0.1, 0.3, 1.0}) {
    const ReferenceResult r = run_float_reference(f.weights, seq, PruneSpec::dynatran(tau));
    uint64_t zeros = 0, elements = 0;
    for (const auto& layer : r.zeros)
      for (const auto& z : layer) zeros += z.zeros, elements += z.elements;
    const double s = static_cast<double>(zeros) / elements;
    INFO("tau " << tau << ": sparsity " << s);
    CHECK(s > last);
    last = s;
  }
  CHECK(last > 0.5);

  // Only the selected points are pruned.
  PruneSpec only_ffn = PruneSpec::dynatran(0.3);
  only_ffn.at.fill(false);
  only_ffn.at[static_cast<size_t>(PrunePoint::ffn_up)] = true;
  const ReferenceResult r = run_float_reference(f.weights, seq, only_ffn);
  for (int p = 0; p < kPrunePoints; ++p) {
    INFO(to_string(static_cast<PrunePoint>(p)));
    CHECK((r.zeros[0][static_cast<size_t>(p)].zeros > 0) ==
          (p == static_cast<int>(PrunePoint::ffn_up)));
  }
}

TEST_CASE("prune_block: exact masks for threshold and top-k", "[golden]") {
  // A 2 x 5 block inside rows of stride 6 (the last column is outside and never touched).
  std::vector<float> x = {0.5f,  -0.1f, 0.2f, -0.2f, 0.0f,  9.0f,  //
                          -3.0f, 0.3f,  0.3f, 0.1f,  -0.3f, 9.0f};
  auto t = x;
  CHECK(prune_block(t.data(), 2, 5, 6, PruneSpec::dynatran(0.2)) == 5);
  CHECK(t == std::vector<float>{0.5f, 0, 0, 0, 0, 9.0f, -3.0f, 0.3f, 0.3f, 0, -0.3f, 9.0f});

  t = x;  // k = 2: row 0 keeps 0.5 and the leftmost of the tied 0.2 / -0.2; row 1 -3 and 0.3
  CHECK(prune_block(t.data(), 2, 5, 6, PruneSpec::topk(2)) == 6);
  CHECK(t == std::vector<float>{0.5f, 0, 0.2f, 0, 0, 9.0f, -3.0f, 0.3f, 0, 0, 0, 9.0f});

  t = x;  // k >= columns keeps everything; no pruning only counts zeros
  CHECK(prune_block(t.data(), 2, 5, 6, PruneSpec::topk(5)) == 1);
  CHECK(t == x);
  CHECK(prune_block(t.data(), 2, 5, 6, PruneSpec{}) == 1);
}

TEST_CASE("float reference: bad inputs", "[golden]") {
  Fixture f;
  CHECK(error_of([&] { run_float_reference(f.weights, {}); }).find("empty token sequence") !=
        std::string::npos);
  CHECK(error_of([&] {
          run_float_reference(f.weights, {1, 512});
        }).find("token id 512 outside the vocabulary [0, 512)") != std::string::npos);
  CHECK(error_of([&] {
          run_float_reference(f.weights, std::vector<int32_t>(65, 1));
        }).find("65 tokens exceeds max_position_embeddings 64") != std::string::npos);
  CHECK(error_of([&] {
          run_float_reference(f.weights, {1}, PruneSpec::dynatran(-0.1));
        }).find("tau -0.1 must be >= 0") != std::string::npos);
  CHECK(error_of([&] {
          run_float_reference(f.weights, {1}, PruneSpec::topk(0));
        }).find("k 0 must be >= 1") != std::string::npos);
  BertWeights cut = f.weights;
  cut.layers[1].inter_b.data.pop_back();
  CHECK(error_of([&] { run_float_reference(cut, {1}); })
            .find("tensor 'encoder.layer.1.intermediate.dense.bias' has shape [256] (255 values); "
                  "the model config") != std::string::npos);
  cut = f.weights;
  cut.layers.pop_back();
  CHECK(error_of([&] { run_float_reference(cut, {1}); }).find("1 layers; the model config") !=
        std::string::npos);
}

TEST_CASE("float reference observer sees every prune point with its shape", "[golden]") {
  Fixture f;
  const auto& seq = f.tokens.sequences[1];
  const int64_t S = static_cast<int64_t>(seq.size());
  std::vector<std::array<uint64_t, kPrunePoints>> seen_zeros(2), calls(2);
  const ReferenceResult r = run_float_reference(
      f.weights, seq, PruneSpec::dynatran(0.05),
      [&](int64_t layer, int64_t head, PrunePoint p, const float* data, int64_t rows, int64_t cols,
          int64_t ld) {
        const auto i = static_cast<size_t>(p);
        const bool per_head =
            p != PrunePoint::attn_out && p != PrunePoint::ffn_up && p != PrunePoint::ffn_down;
        CHECK((head >= 0 && head < 2) == per_head);
        CHECK(rows == S);
        const int64_t want_cols = p == PrunePoint::scores || p == PrunePoint::probs ? S
                                  : p == PrunePoint::ffn_up                         ? 256
                                  : per_head                                        ? 32
                                                                                    : 64;
        CHECK(cols == want_cols);
        CHECK(ld >= cols);
        for (int64_t a = 0; a < rows; ++a)
          for (int64_t b = 0; b < cols; ++b)
            seen_zeros[static_cast<size_t>(layer)][i] += data[a * ld + b] == 0.0f;
        ++calls[static_cast<size_t>(layer)][i];
      });
  for (size_t l = 0; l < 2; ++l)
    for (int p = 0; p < kPrunePoints; ++p) {
      INFO("layer " << l << " " << to_string(static_cast<PrunePoint>(p)));
      CHECK(seen_zeros[l][static_cast<size_t>(p)] == r.zeros[l][static_cast<size_t>(p)].zeros);
      CHECK(calls[l][static_cast<size_t>(p)] ==
            (p == static_cast<int>(PrunePoint::attn_out) ||
                     p == static_cast<int>(PrunePoint::ffn_up) ||
                     p == static_cast<int>(PrunePoint::ffn_down)
                 ? 1u
                 : 2u));
    }
}

// Not part of the test run (hidden tag): wall time of the float reference on synthetic
// BERT-Base, one sequence of 128 tokens. Run: build/bin/compiler_tests "[.bench]" -s
TEST_CASE("float reference speed: synthetic BERT-Base, sequence 128", "[.bench]") {
  const BertConfig c = load_bert_config("bert-base");
  auto t0 = std::chrono::steady_clock::now();
  const BertWeights w = synthetic_bert_weights(c, 1);
  auto t1 = std::chrono::steady_clock::now();
  const ReferenceResult r = run_float_reference(w, random_tokens(1, 128, c, 1).sequences[0]);
  auto t2 = std::chrono::steady_clock::now();
  const ReferenceResult p =
      run_float_reference(w, random_tokens(1, 128, c, 1).sequences[0], PruneSpec::dynatran(0.02));
  auto t3 = std::chrono::steady_clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  WARN(fmt::format("synthetic weights {:.2f} s; reference {:.2f} s; with DynaTran {:.2f} s",
                   secs(t0, t1), secs(t1, t2), secs(t2, t3)));
  CHECK(std::all_of(r.hidden.back().data.begin(), r.hidden.back().data.end(),
                    [](float x) { return std::isfinite(x); }));
  const bool pruning_changed_output = p.hidden.back().data != r.hidden.back().data;
  CHECK(pruning_changed_output);
}
