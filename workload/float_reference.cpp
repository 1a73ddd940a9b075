#include "acceltran/workload/float_reference.hpp"

#include "acceltran/workload/blas.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace acceltran {

const char* to_string(PrunePoint p) {
  switch (p) {
    case PrunePoint::query:
      return "query";
    case PrunePoint::key:
      return "key";
    case PrunePoint::value:
      return "value";
    case PrunePoint::scores:
      return "scores";
    case PrunePoint::probs:
      return "probs";
    case PrunePoint::context:
      return "context";
    case PrunePoint::attn_out:
      return "attn_out";
    case PrunePoint::ffn_up:
      return "ffn_up";
    case PrunePoint::ffn_down:
      return "ffn_down";
  }
  return "?";
}

PruneSpec PruneSpec::dynatran(double tau) {
  PruneSpec s;
  s.mode = Mode::threshold;
  s.tau = tau;
  return s;
}

PruneSpec PruneSpec::topk(int64_t k) {
  PruneSpec s;
  s.mode = Mode::topk;
  s.k = k;
  return s;
}

PruneSpec::PointRule PruneSpec::rule_at(PrunePoint p) const {
  if (per_point) return point[static_cast<size_t>(p)];
  PointRule r;
  if (!at[static_cast<size_t>(p)]) return r;
  r.mode = mode;
  r.tau = tau;
  r.k = k;
  return r;
}

namespace {

// Top-k of one row of n values: the k largest |x| stay (ties: the leftmost), or with above_kth
// only those above the k-th largest (a row of at most k values stays).
void topk_row(float* row, int64_t cols, int64_t k, bool above_kth, std::vector<float>& mag) {
  if (k >= cols) return;
  for (int64_t c = 0; c < cols; ++c) mag[static_cast<size_t>(c)] = std::fabs(row[c]);
  const auto kk = static_cast<size_t>(k);
  std::nth_element(mag.begin(), mag.begin() + static_cast<std::ptrdiff_t>(kk - 1),
                   mag.begin() + cols, std::greater<float>());
  const float kth = mag[kk - 1];
  if (above_kth) {
    for (int64_t c = 0; c < cols; ++c)
      if (std::fabs(row[c]) <= kth) row[c] = 0.0f;
    return;
  }
  size_t above = 0;
  for (int64_t c = 0; c < cols; ++c) above += std::fabs(row[c]) > kth;
  size_t ties_left = kk - above;
  for (int64_t c = 0; c < cols; ++c) {
    const float a = std::fabs(row[c]);
    if (a > kth) continue;
    if (a == kth && ties_left > 0)
      --ties_left;
    else
      row[c] = 0.0f;
  }
}

uint64_t prune_rule(float* x, int64_t rows, int64_t cols, int64_t ld,
                    const PruneSpec::PointRule& rule, bool above_kth) {
  if (rule.mode == PruneSpec::Mode::threshold) {
    const auto tau = static_cast<float>(rule.tau);  // compared in float, as PyTorch does
    for (int64_t r = 0; r < rows; ++r) {
      float* row = x + r * ld;
      for (int64_t c = 0; c < cols; ++c)
        if (std::fabs(row[c]) <= tau) row[c] = 0.0f;
    }
  } else if (rule.mode == PruneSpec::Mode::topk) {
    const int64_t k =
        rule.k > 0
            ? rule.k
            : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rule.k_fraction * cols - 1e-9)));
    std::vector<float> mag(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) topk_row(x + r * ld, cols, k, above_kth, mag);
  }
  uint64_t zeros = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
    for (int64_t c = 0; c < cols; ++c) zeros += row[c] == 0.0f;
  }
  return zeros;
}

}  // namespace

uint64_t prune_block(float* x, int64_t rows, int64_t cols, int64_t ld, const PruneSpec& prune) {
  PruneSpec::PointRule rule;
  rule.mode = prune.mode;
  rule.tau = prune.tau;
  rule.k = prune.k;
  return prune_rule(x, rows, cols, ld, rule, prune.topk_above_kth);
}

namespace {

// C[m, n] += A[m, k] B[k, n] (row-major, leading dimensions lda, ldb, ldc). Cache-blocked over
// (n, k); a 4 x 16 register tile accumulates in float in the k order.
void gemm_nn(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc) {
  constexpr int64_t kNB = 256, kKB = 256, kNR = 16;
  for (int64_t j0 = 0; j0 < n; j0 += kNB) {
    const int64_t j1 = std::min(n, j0 + kNB);
    for (int64_t p0 = 0; p0 < k; p0 += kKB) {
      const int64_t p1 = std::min(k, p0 + kKB);
      int64_t i = 0;
      for (; i + 4 <= m; i += 4) {
        float* c0 = C + i * ldc;
        float* c1 = c0 + ldc;
        float* c2 = c1 + ldc;
        float* c3 = c2 + ldc;
        const float* a0 = A + i * lda;
        const float* a1 = a0 + lda;
        const float* a2 = a1 + lda;
        const float* a3 = a2 + lda;
        int64_t j = j0;
        for (; j + kNR <= j1; j += kNR) {
          float r0[kNR], r1[kNR], r2[kNR], r3[kNR];
          for (int64_t c = 0; c < kNR; ++c) {
            r0[c] = c0[j + c];
            r1[c] = c1[j + c];
            r2[c] = c2[j + c];
            r3[c] = c3[j + c];
          }
          for (int64_t p = p0; p < p1; ++p) {
            const float* b = B + p * ldb + j;
            const float x0 = a0[p], x1 = a1[p], x2 = a2[p], x3 = a3[p];
            for (int64_t c = 0; c < kNR; ++c) {
              r0[c] += x0 * b[c];
              r1[c] += x1 * b[c];
              r2[c] += x2 * b[c];
              r3[c] += x3 * b[c];
            }
          }
          for (int64_t c = 0; c < kNR; ++c) {
            c0[j + c] = r0[c];
            c1[j + c] = r1[c];
            c2[j + c] = r2[c];
            c3[j + c] = r3[c];
          }
        }
        for (int64_t r = 0; r < 4; ++r)  // column tail
          for (int64_t jj = j; jj < j1; ++jj) {
            float s = C[(i + r) * ldc + jj];
            for (int64_t p = p0; p < p1; ++p) s += A[(i + r) * lda + p] * B[p * ldb + jj];
            C[(i + r) * ldc + jj] = s;
          }
      }
      for (; i < m; ++i)  // row tail
        for (int64_t j = j0; j < j1; ++j) {
          float s = C[i * ldc + j];
          for (int64_t p = p0; p < p1; ++p) s += A[i * lda + p] * B[p * ldb + j];
          C[i * ldc + j] = s;
        }
    }
  }
}

// dst[cols, rows] = src[rows, cols]^T (src leading dimension ld).
void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  constexpr int64_t kB = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kB)
    for (int64_t c0 = 0; c0 < cols; c0 += kB)
      for (int64_t r = r0; r < std::min(rows, r0 + kB); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + kB); ++c) dst[c * rows + r] = src[r * ld + c];
}

// Reusable buffers of one run: allocated once, before the layers.
struct Workspace {
  std::vector<float> wt;       // a transposed weight [in, out]
  std::vector<float> q, k, v;  // [S, h]
  std::vector<float> kt;       // one head's K^T [d, S]
  std::vector<float> scores;   // one head's [S, S]
  std::vector<float> ctx;      // [S, h]
  std::vector<float> attn;     // [S, h]
  std::vector<float> inter;    // [S, f]
  std::vector<float> ffn;      // [S, h]
};

// C[m, n] += A[m, k] B^T for B stored [n, k] (leading dimension ldb): OpenBLAS's sgemm when
// loaded (workload/blas.hpp), else B transposed into `scratch` for gemm_nn.
void gemm_nt(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc, std::vector<float>& scratch) {
  if (blas::available()) {
    blas::sgemm(true, m, n, k, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
    return;
  }
  transpose(B, n, k, ldb, scratch.data());
  gemm_nn(m, n, k, A, lda, scratch.data(), n, C, ldc);
}

// C[m, n] += A[m, k] B[k, n]: OpenBLAS's sgemm when loaded, else gemm_nn.
void gemm_nn_fast(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc) {
  if (blas::available())
    blas::sgemm(false, m, n, k, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
  else
    gemm_nn(m, n, k, A, lda, B, ldb, C, ldc);
}

// y[m, out] = x[m, in] W^T + b, W in the Hugging Face layout [out, in].
void linear(const float* x, int64_t m, const FloatTensor& w, const FloatTensor& b, float* y,
            std::vector<float>& wt) {
  const int64_t out = w.shape[0], in = w.shape[1];
  for (int64_t i = 0; i < m; ++i) std::copy(b.data.begin(), b.data.end(), y + i * out);
  gemm_nt(m, out, in, x, in, w.data.data(), in, y, out, wt);
}

// y = LayerNorm(x) over each row of h values, in place; statistics in double.
void layer_norm(float* x, int64_t m, int64_t h, const FloatTensor& gamma, const FloatTensor& beta,
                double eps) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = x + i * h;
    double mean = 0;
    for (int64_t c = 0; c < h; ++c) mean += row[c];
    mean /= static_cast<double>(h);
    double var = 0;
    for (int64_t c = 0; c < h; ++c) var += (row[c] - mean) * (row[c] - mean);
    var /= static_cast<double>(h);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < h; ++c)
      row[c] = static_cast<float>((row[c] - mean) * inv * gamma.data[static_cast<size_t>(c)] +
                                  beta.data[static_cast<size_t>(c)]);
  }
}

// Row-wise softmax; keys with key_mask 0 get exactly 0 (a row without an unmasked key, or no
// mask: every key).
void softmax_rows(float* x, int64_t m, int64_t n, const uint8_t* key_mask) {
  bool any_real = key_mask == nullptr;
  for (int64_t c = 0; !any_real && c < n; ++c) any_real = key_mask[c] != 0;
  auto attended = [&](int64_t c) { return key_mask == nullptr || !any_real || key_mask[c]; };
  for (int64_t i = 0; i < m; ++i) {
    float* row = x + i * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < n; ++c)
      if (attended(c)) mx = std::max(mx, row[c]);
    double sum = 0;
    for (int64_t c = 0; c < n; ++c)
      if (attended(c)) sum += std::exp(static_cast<double>(row[c]) - mx);
    for (int64_t c = 0; c < n; ++c)
      row[c] =
          attended(c) ? static_cast<float>(std::exp(static_cast<double>(row[c]) - mx) / sum) : 0.0f;
  }
}

void activation(float* x, int64_t n, const std::string& act) {
  const double kSqrt2OverPi = 0.79788456080286535587989211986876;
  if (act == "gelu") {  // exact: x * Phi(x)
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[i];
      x[i] = static_cast<float>(0.5 * v * (1.0 + std::erf(v * 0.70710678118654752440084436210485)));
    }
  } else if (act == "gelu_new" || act == "gelu_fast" || act == "gelu_pytorch_tanh") {
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[i];
      x[i] = static_cast<float>(0.5 * v *
                                (1.0 + std::tanh(kSqrt2OverPi * (v + 0.044715 * v * v * v))));
    }
  } else if (act == "relu") {
    for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
  } else {  // silu / swish
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[i];
      x[i] = static_cast<float>(v / (1.0 + std::exp(-v)));
    }
  }
}

void check_reference_inputs(const BertConfig& c, const std::vector<int32_t>& tokens,
                            const PruneSpec& prune) {
  const int64_t S = static_cast<int64_t>(tokens.size());
  if (S == 0) throw InputError("float reference: empty token sequence");
  if (S > c.max_position)
    throw InputError(
        fmt::format("float reference: sequence of {} tokens exceeds "
                    "max_position_embeddings {}",
                    S, c.max_position));
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocab_size)
      throw InputError(fmt::format("float reference: token id {} outside the vocabulary [0, {})", t,
                                   c.vocab_size));
  if (prune.mode == PruneSpec::Mode::threshold && !(prune.tau >= 0))
    throw InputError(fmt::format("prune threshold tau {} must be >= 0", prune.tau));
  if (prune.mode == PruneSpec::Mode::topk && prune.k < 1)
    throw InputError(fmt::format("top-k: k {} must be >= 1", prune.k));
}

size_t as_size(int64_t n) {
  return static_cast<size_t>(n);
}

Workspace make_workspace(const BertConfig& c, int64_t S) {
  const int64_t h = c.hidden, d = c.head_dim, f = c.intermediate;
  Workspace ws;
  ws.wt.resize(as_size(h * std::max(h, f)));
  ws.q.resize(as_size(S * h));
  ws.k.resize(as_size(S * h));
  ws.v.resize(as_size(S * h));
  ws.kt.resize(as_size(d * S));
  ws.scores.resize(as_size(S * S));
  ws.ctx.resize(as_size(S * h));
  ws.attn.resize(as_size(S * h));
  ws.inter.resize(as_size(S * f));
  ws.ffn.resize(as_size(S * h));
  return ws;
}

// Embeddings: (word + token type 0) + position, then layer norm.
FloatTensor embeddings(const BertWeights& w, const std::vector<int32_t>& tokens) {
  const BertConfig& c = w.config;
  const int64_t S = static_cast<int64_t>(tokens.size()), h = c.hidden;
  FloatTensor x({S, h});
  for (int64_t s = 0; s < S; ++s)
    for (int64_t j = 0; j < h; ++j)
      x.data[as_size(s * h + j)] =
          (w.word_emb.data[as_size(tokens[as_size(s)] * h + j)] + w.type_emb.data[as_size(j)]) +
          w.pos_emb.data[as_size(s * h + j)];
  layer_norm(x.data.data(), S, h, w.emb_ln_gamma, w.emb_ln_beta, c.layer_norm_eps);
  return x;
}

// The prune points of one layer: each prunes its block (when the spec says so), counts the
// block's zeros (all, and without padding) and shows it to the observer.
struct LayerPrunePoints {
  int64_t layer;
  const PruneSpec& prune;
  const TensorObserver& observe;
  std::array<ZeroCount, kPrunePoints>& zeros;
  std::array<ZeroCount, kPrunePoints>& zeros_unpadded;
  const uint8_t* mask;  // per token, 1 = real; nullptr: every token real
  double query_scale;   // 1/sqrt(head_dim), folded into the query

  // A block at point p of head `head` (-1: not a per-head tensor); rows are tokens, and for
  // scores and probs the columns are keys.
  void at(PrunePoint p, int64_t head, float* data, int64_t rows, int64_t cols, int64_t ld) const {
    PruneSpec::PointRule rule = prune.rule_at(p);
    if (prune.tau_before_scale && (p == PrunePoint::query || p == PrunePoint::scores))
      rule.tau *= query_scale;
    auto& z = zeros[static_cast<size_t>(p)];
    z.zeros += prune_rule(data, rows, cols, ld, rule, prune.topk_above_kth);
    z.elements += static_cast<uint64_t>(rows * cols);
    const bool keys = p == PrunePoint::scores || p == PrunePoint::probs;
    auto& u = zeros_unpadded[static_cast<size_t>(p)];
    for (int64_t r = 0; r < rows; ++r) {
      if (mask && !mask[r]) continue;
      for (int64_t c = 0; c < cols; ++c) {
        if (keys && mask && !mask[c]) continue;
        ++u.elements;
        u.zeros += data[r * ld + c] == 0.0f;
      }
    }
    if (observe) observe(layer, head, p, data, rows, cols, ld);
  }
  // Per-head points: each head's d columns of an [S, h] tensor.
  void per_head(PrunePoint p, std::vector<float>& t, int64_t heads, int64_t S, int64_t d,
                int64_t h) const {
    for (int64_t head = 0; head < heads; ++head) at(p, head, t.data() + head * d, S, d, h);
  }
};

// Self-attention of layer L over x [S, h]: ws.attn = LayerNorm(attention output + x).
void attention(const BertConfig& c, const BertLayerWeights& L, const FloatTensor& x, int64_t S,
               Workspace& ws, const LayerPrunePoints& point) {
  const int64_t h = c.hidden, d = c.head_dim;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  linear(x.data.data(), S, L.query_w, L.query_b, ws.q.data(), ws.wt);
  for (float& v : ws.q) v *= scale;
  linear(x.data.data(), S, L.key_w, L.key_b, ws.k.data(), ws.wt);
  linear(x.data.data(), S, L.value_w, L.value_b, ws.v.data(), ws.wt);
  point.per_head(PrunePoint::query, ws.q, c.heads, S, d, h);
  point.per_head(PrunePoint::key, ws.k, c.heads, S, d, h);
  point.per_head(PrunePoint::value, ws.v, c.heads, S, d, h);

  std::fill(ws.ctx.begin(), ws.ctx.end(), 0.0f);
  for (int64_t head = 0; head < c.heads; ++head) {
    std::fill(ws.scores.begin(), ws.scores.end(), 0.0f);
    gemm_nt(S, S, d, ws.q.data() + head * d, h, ws.k.data() + head * d, h, ws.scores.data(), S,
            ws.kt);
    point.at(PrunePoint::scores, head, ws.scores.data(), S, S, S);
    softmax_rows(ws.scores.data(), S, S, point.mask);
    point.at(PrunePoint::probs, head, ws.scores.data(), S, S, S);
    gemm_nn_fast(S, d, S, ws.scores.data(), S, ws.v.data() + head * d, h, ws.ctx.data() + head * d,
                 h);
  }
  point.per_head(PrunePoint::context, ws.ctx, c.heads, S, d, h);

  linear(ws.ctx.data(), S, L.attn_out_w, L.attn_out_b, ws.attn.data(), ws.wt);
  point.at(PrunePoint::attn_out, -1, ws.attn.data(), S, h, h);
  for (int64_t i = 0; i < S * h; ++i) ws.attn[as_size(i)] += x.data[as_size(i)];
  layer_norm(ws.attn.data(), S, h, L.attn_ln_gamma, L.attn_ln_beta, c.layer_norm_eps);
}

// Feed-forward of layer L over ws.attn: x = LayerNorm(FFN(ws.attn) + ws.attn).
void feed_forward(const BertConfig& c, const BertLayerWeights& L, FloatTensor& x, int64_t S,
                  Workspace& ws, const LayerPrunePoints& point) {
  const int64_t h = c.hidden, f = c.intermediate;
  linear(ws.attn.data(), S, L.inter_w, L.inter_b, ws.inter.data(), ws.wt);
  point.at(PrunePoint::ffn_up, -1, ws.inter.data(), S, f, f);
  activation(ws.inter.data(), S * f, c.hidden_act);
  linear(ws.inter.data(), S, L.out_w, L.out_b, ws.ffn.data(), ws.wt);
  point.at(PrunePoint::ffn_down, -1, ws.ffn.data(), S, h, h);
  for (int64_t i = 0; i < S * h; ++i) x.data[as_size(i)] = ws.ffn[as_size(i)] + ws.attn[as_size(i)];
  layer_norm(x.data.data(), S, h, L.out_ln_gamma, L.out_ln_beta, c.layer_norm_eps);
}

}  // namespace

ReferenceResult run_float_reference(const BertWeights& w, const std::vector<int32_t>& tokens,
                                    const PruneSpec& prune, const TensorObserver& observe) {
  return run_float_reference(w, tokens, {}, prune, observe);
}

ReferenceResult run_float_reference(const BertWeights& w, const std::vector<int32_t>& tokens,
                                    const std::vector<uint8_t>& attention_mask,
                                    const PruneSpec& prune, const TensorObserver& observe,
                                    AttentionKind attention_kind) {
  const BertConfig& c = w.config;
  check_reference_inputs(c, tokens, prune);
  check_bert_weights(w);
  if (attention_kind == AttentionKind::causal)
    throw InputError(
        "float reference: causal attention masks are not supported yet (BERT encoders attend "
        "every unmasked key)");
  if (!attention_mask.empty() && attention_mask.size() != tokens.size())
    throw InputError(fmt::format("float reference: attention mask of {} values for {} tokens",
                                 attention_mask.size(), tokens.size()));
  const int64_t S = static_cast<int64_t>(tokens.size());
  ReferenceResult res;
  res.zeros.resize(static_cast<size_t>(c.layers));
  res.zeros_unpadded.resize(static_cast<size_t>(c.layers));
  Workspace ws = make_workspace(c, S);
  FloatTensor x = embeddings(w, tokens);
  res.hidden.push_back(x);
  const uint8_t* mask = attention_mask.empty() ? nullptr : attention_mask.data();
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  for (int64_t l = 0; l < c.layers; ++l) {
    const LayerPrunePoints point{
        l, prune, observe, res.zeros[as_size(l)], res.zeros_unpadded[as_size(l)], mask, scale};
    attention(c, w.layers[as_size(l)], x, S, ws, point);
    feed_forward(c, w.layers[as_size(l)], x, S, ws, point);
    res.hidden.push_back(x);
  }
  return res;
}

}  // namespace acceltran
