#include "acceltran/workload/weights.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "acceltran/config/input_text.hpp"

namespace acceltran {

namespace {

const std::vector<std::string> kActivations = {"gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh",
                                               "relu", "silu",     "swish"};

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// FNV-1a of the name, mixed with the seed: one independent stream per tensor.
uint64_t stream_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return splitmix64(seed ^ splitmix64(h));
}

std::string layer_prefix(int64_t l) {
  return fmt::format("encoder.layer.{}.", l);
}

}  // namespace

BertConfig bert_config(const ModelDesc& m, double layer_norm_eps) {
  auto bad = [&](const std::string& why) {
    return InputError(fmt::format(
        "{}: {}; functional runs support uniform BERT encoders only (every layer alike, sa_sdp "
        "heads whose dimensions sum to the hidden size, one feed-forward size)",
        m.source, why));
  };
  if (m.layers.empty()) throw bad("no layers");
  const LayerDesc& l0 = m.layers[0];
  if (l0.heads.empty()) throw bad("layer 0 has no heads");
  for (size_t n = 0; n < m.layers.size(); ++n) {
    const LayerDesc& L = m.layers[n];
    if (L.hidden != l0.hidden || L.heads.size() != l0.heads.size() || L.ffn != l0.ffn)
      throw bad(fmt::format("layer {} differs from layer 0", n));
    for (const HeadDesc& h : L.heads)
      if (h.type != HeadType::sdp || h.dim != l0.heads[0].dim)
        throw bad(fmt::format("layer {} head '{}' is not sa_sdp_{}", n, h.text, l0.heads[0].dim));
  }
  if (l0.ffn.size() != 1) throw bad(fmt::format("{} stacked feed-forward sizes", l0.ffn.size()));
  const auto heads = static_cast<int64_t>(l0.heads.size());
  if (heads * l0.heads[0].dim != l0.hidden)
    throw bad(fmt::format("{} heads of dimension {} do not make the hidden size {}", heads,
                          l0.heads[0].dim, l0.hidden));
  if (std::find(kActivations.begin(), kActivations.end(), m.hidden_act) == kActivations.end())
    throw InputError(fmt::format("{}: hidden_act '{}' not supported; allowed: {}", m.source,
                                 m.hidden_act, fmt::join(kActivations, ", ")));
  if (!(layer_norm_eps > 0))
    throw InputError(fmt::format("{}: layer_norm_eps {} must be > 0", m.source, layer_norm_eps));
  BertConfig c;
  c.source = m.source;
  c.layers = static_cast<int64_t>(m.layers.size());
  c.hidden = l0.hidden;
  c.heads = heads;
  c.head_dim = l0.heads[0].dim;
  c.intermediate = l0.ffn[0];
  c.vocab_size = m.vocab_size;
  c.max_position = m.max_position;
  c.type_vocab = m.type_vocab;
  c.layer_norm_eps = layer_norm_eps;
  c.hidden_act = m.hidden_act;
  return c;
}

BertConfig load_bert_config(const std::string& name_or_path) {
  ModelDesc m = load_model(name_or_path);
  double eps = 1e-12;
  if (m.format == "hf-config") {
    std::ifstream in(m.source);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str());  // load_model() parsed it already
    if (j.contains("layer_norm_eps")) {
      const auto& v = j["layer_norm_eps"];
      if (!v.is_number() || !(v.get<double>() > 0))
        throw InputError(fmt::format("{}: key 'layer_norm_eps': value {} is not a positive number",
                                     m.source, quoted_value(v.dump())));
      eps = v.get<double>();
    }
  }
  return bert_config(m, eps);
}

std::vector<std::string> bert_tensor_names(const BertConfig& c) {
  std::vector<std::string> names = {"embeddings.word_embeddings.weight",
                                    "embeddings.position_embeddings.weight",
                                    "embeddings.token_type_embeddings.weight",
                                    "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"};
  for (int64_t l = 0; l < c.layers; ++l)
    for (const char* s :
         {"attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
          "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
          "attention.output.dense.weight", "attention.output.dense.bias",
          "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
          "intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight",
          "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias"})
      names.push_back(layer_prefix(l) + s);
  return names;
}

namespace {

// Visits every parameter of `w` with its name (as bert_tensor_names) and expected shape.
template <typename Weights, typename Fn>
void for_each_tensor(Weights& w, const BertConfig& c, Fn fn) {
  const int64_t h = c.hidden, f = c.intermediate;
  fn("embeddings.word_embeddings.weight", w.word_emb, std::vector<int64_t>{c.vocab_size, h});
  fn("embeddings.position_embeddings.weight", w.pos_emb, std::vector<int64_t>{c.max_position, h});
  fn("embeddings.token_type_embeddings.weight", w.type_emb, std::vector<int64_t>{c.type_vocab, h});
  fn("embeddings.LayerNorm.weight", w.emb_ln_gamma, std::vector<int64_t>{h});
  fn("embeddings.LayerNorm.bias", w.emb_ln_beta, std::vector<int64_t>{h});
  for (int64_t l = 0; l < c.layers; ++l) {
    auto& L = w.layers[static_cast<size_t>(l)];
    const std::string p = layer_prefix(l);
    fn(p + "attention.self.query.weight", L.query_w, std::vector<int64_t>{h, h});
    fn(p + "attention.self.query.bias", L.query_b, std::vector<int64_t>{h});
    fn(p + "attention.self.key.weight", L.key_w, std::vector<int64_t>{h, h});
    fn(p + "attention.self.key.bias", L.key_b, std::vector<int64_t>{h});
    fn(p + "attention.self.value.weight", L.value_w, std::vector<int64_t>{h, h});
    fn(p + "attention.self.value.bias", L.value_b, std::vector<int64_t>{h});
    fn(p + "attention.output.dense.weight", L.attn_out_w, std::vector<int64_t>{h, h});
    fn(p + "attention.output.dense.bias", L.attn_out_b, std::vector<int64_t>{h});
    fn(p + "attention.output.LayerNorm.weight", L.attn_ln_gamma, std::vector<int64_t>{h});
    fn(p + "attention.output.LayerNorm.bias", L.attn_ln_beta, std::vector<int64_t>{h});
    fn(p + "intermediate.dense.weight", L.inter_w, std::vector<int64_t>{f, h});
    fn(p + "intermediate.dense.bias", L.inter_b, std::vector<int64_t>{f});
    fn(p + "output.dense.weight", L.out_w, std::vector<int64_t>{h, f});
    fn(p + "output.dense.bias", L.out_b, std::vector<int64_t>{h});
    fn(p + "output.LayerNorm.weight", L.out_ln_gamma, std::vector<int64_t>{h});
    fn(p + "output.LayerNorm.bias", L.out_ln_beta, std::vector<int64_t>{h});
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

BertWeights load_bert_weights(const std::string& path, const BertConfig& c) {
  SafetensorsFile file(path);
  const std::string first = "embeddings.word_embeddings.weight";
  std::string prefix;
  if (file.contains(first))
    prefix = "";
  else if (file.contains("bert." + first))
    prefix = "bert.";
  else
    throw InputError(
        fmt::format("{}: missing tensor '{}' (also looked for 'bert.{}'): not a BERT checkpoint",
                    path, first, first));
  BertWeights w;
  w.config = c;
  w.source = path;
  w.layers.resize(static_cast<size_t>(c.layers));
  const std::string why = fmt::format("the model config ({})", c.source);
  for_each_tensor(
      w, c, [&](const std::string& name, FloatTensor& t, const std::vector<int64_t>& shape) {
        std::string full = prefix + name;
        if (!file.contains(full)) {  // pre-2019 checkpoints name LayerNorm parameters gamma/beta
          std::string old;
          if (ends_with(name, "LayerNorm.weight"))
            old = full.substr(0, full.size() - 6) + "gamma";
          else if (ends_with(name, "LayerNorm.bias"))
            old = full.substr(0, full.size() - 4) + "beta";
          if (!old.empty() && file.contains(old)) full = old;
        }
        t = file.read(full, shape, why);
      });
  return w;
}

void check_bert_weights(const BertWeights& w) {
  const BertConfig& c = w.config;
  if (static_cast<int64_t>(w.layers.size()) != c.layers)
    throw InputError(fmt::format("weights '{}': {} layers; the model config ({}) has {}", w.source,
                                 w.layers.size(), c.source, c.layers));
  for_each_tensor(
      w, c, [&](const std::string& name, const FloatTensor& t, const std::vector<int64_t>& shape) {
        if (t.shape != shape || t.numel() != shape_numel(shape))
          throw InputError(fmt::format(
              "weights '{}': tensor '{}' has shape {} ({} values); the model "
              "config ({}) requires {}",
              w.source, name, shape_string(t.shape), t.numel(), c.source, shape_string(shape)));
      });
}

std::vector<float> seeded_normal(uint64_t seed, const std::string& name, size_t n, double mean,
                                 double stddev) {
  // Marsaglia's polar form of the Box-Muller transform: two normals per accepted pair of
  // uniforms in the unit disc (no trigonometry).
  std::mt19937_64 g(stream_seed(seed, name));
  auto uniform_pm1 = [&g] { return static_cast<double>(g() >> 11) * 0x1p-52 - 1.0; };
  std::vector<float> out(n);
  for (size_t i = 0; i < n; i += 2) {
    double u, v, s;
    do {
      u = uniform_pm1();
      v = uniform_pm1();
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = stddev * std::sqrt(-2.0 * std::log(s) / s);
    out[i] = static_cast<float>(mean + u * f);
    if (i + 1 < n) out[i + 1] = static_cast<float>(mean + v * f);
  }
  return out;
}

BertWeights synthetic_bert_weights(const BertConfig& c, uint64_t seed) {
  BertWeights w;
  w.config = c;
  w.synthetic = true;
  w.seed = seed;
  w.source = fmt::format("synthetic (seed {})", seed);
  w.layers.resize(static_cast<size_t>(c.layers));
  for_each_tensor(
      w, c, [&](const std::string& name, FloatTensor& t, const std::vector<int64_t>& shape) {
        if (ends_with(name, "LayerNorm.weight")) {
          t = FloatTensor(shape, 1.0f);
        } else if (ends_with(name, ".bias")) {
          t = FloatTensor(shape, 0.0f);
        } else {
          t.shape = shape;
          t.data = seeded_normal(seed, name, static_cast<size_t>(shape_numel(shape)), 0.0, 0.02);
        }
      });
  // Hugging Face zeroes the padding token's embedding (pad_token_id 0).
  std::fill(w.word_emb.data.begin(), w.word_emb.data.begin() + c.hidden, 0.0f);
  return w;
}

namespace {

bool is_id(const std::string& tok) {
  return tok.size() <= 10 &&
         std::all_of(tok.begin(), tok.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// One line of a token file: ids, then optionally "|" and one 0/1 mask value per id.
void parse_token_line(const std::string& line, const std::string& path, int64_t line_no,
                      const BertConfig& c, std::vector<int32_t>& seq, std::vector<uint8_t>& mask,
                      bool& has_mask) {
  std::istringstream ls(line);
  std::string tok;
  has_mask = false;
  while (ls >> tok) {
    if (tok == "|") {
      if (has_mask)
        throw InputError(fmt::format("{}:{}: a second '|' (expected: ids | mask)", path, line_no));
      has_mask = true;
      continue;
    }
    if (has_mask) {
      if (tok != "0" && tok != "1")
        throw InputError(
            fmt::format("{}:{}: mask value '{}' after '|' is not 0 (padding) or 1 (a real token)",
                        path, line_no, tok));
      mask.push_back(tok == "1" ? 1 : 0);
      continue;
    }
    if (!is_id(tok))
      throw InputError(
          fmt::format("{}:{}: token '{}' is not a non-negative integer id", path, line_no, tok));
    const long long id = std::stoll(tok);
    if (id >= c.vocab_size)
      throw InputError(fmt::format("{}:{}: token id {} is outside the vocabulary [0, {}) of {}",
                                   path, line_no, id, c.vocab_size, c.source));
    seq.push_back(static_cast<int32_t>(id));
  }
  if (has_mask && mask.size() != seq.size())
    throw InputError(
        fmt::format("{}:{}: {} mask values after '|' for {} token ids (one 0/1 per id)", path,
                    line_no, mask.size(), seq.size()));
}

}  // namespace

TokenBatch read_tokens(const std::string& path, const BertConfig& c) {
  std::error_code ec;
  std::ifstream in(path);
  if (!in || !std::filesystem::is_regular_file(path, ec))
    throw InputError(fmt::format("{}: token file not found or not readable", path));
  TokenBatch b;
  b.source = path;
  std::vector<std::vector<uint8_t>> masks;
  bool any_mask = false;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    std::vector<int32_t> seq;
    std::vector<uint8_t> mask;
    bool has_mask = false;
    parse_token_line(line, path, line_no, c, seq, mask, has_mask);
    if (seq.empty()) continue;
    if (static_cast<int64_t>(seq.size()) > c.max_position)
      throw InputError(
          fmt::format("{}:{}: sequence of {} tokens exceeds max_position_embeddings {} of {}", path,
                      line_no, seq.size(), c.max_position, c.source));
    if (!has_mask) mask.assign(seq.size(), 1);
    any_mask = any_mask || has_mask;
    b.sequences.push_back(std::move(seq));
    masks.push_back(std::move(mask));
  }
  if (b.sequences.empty())
    throw InputError(
        fmt::format("{}: no token sequences (expected one line of ids per sequence)", path));
  if (any_mask) b.attention_mask = std::move(masks);
  return b;
}

void pad_token_batch(TokenBatch& b, int64_t batch, int64_t seq_len) {
  if (static_cast<int64_t>(b.sequences.size()) > batch)
    throw InputError(
        fmt::format("{}: {} sequences for a batch of {}", b.source, b.sequences.size(), batch));
  bool ragged = static_cast<int64_t>(b.sequences.size()) != batch;
  for (const auto& seq : b.sequences) {
    if (static_cast<int64_t>(seq.size()) > seq_len)
      throw InputError(fmt::format("{}: a sequence of {} tokens for a sequence length of {}",
                                   b.source, seq.size(), seq_len));
    ragged = ragged || static_cast<int64_t>(seq.size()) != seq_len;
  }
  if (!ragged && b.attention_mask.empty()) return;  // every token real: no mask
  if (b.attention_mask.empty())
    for (const auto& seq : b.sequences) b.attention_mask.emplace_back(seq.size(), 1);
  b.sequences.resize(static_cast<size_t>(batch));
  b.attention_mask.resize(static_cast<size_t>(batch));
  for (size_t s = 0; s < b.sequences.size(); ++s) {  // [PAD] = id 0, masked
    b.sequences[s].resize(static_cast<size_t>(seq_len), 0);
    b.attention_mask[s].resize(static_cast<size_t>(seq_len), 0);
  }
}

TokenBatch random_tokens(int64_t batch, int64_t seq_len, const BertConfig& c, uint64_t seed) {
  if (batch <= 0 || seq_len <= 0)
    throw InputError(
        fmt::format("random tokens: batch {} and sequence length {} must be > 0", batch, seq_len));
  if (seq_len > c.max_position)
    throw InputError(
        fmt::format("random tokens: sequence length {} exceeds "
                    "max_position_embeddings {} of {}",
                    seq_len, c.max_position, c.source));
  std::mt19937_64 g(stream_seed(seed, "tokens"));
  const auto vocab = static_cast<uint64_t>(c.vocab_size);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % vocab;  // reject the biased top
  TokenBatch b;
  b.source = fmt::format("random (seed {})", seed);
  b.sequences.assign(static_cast<size_t>(batch),
                     std::vector<int32_t>(static_cast<size_t>(seq_len)));
  for (auto& seq : b.sequences)
    for (auto& id : seq) {
      uint64_t x;
      do x = g();
      while (x >= limit);
      id = static_cast<int32_t>(x % vocab);
    }
  return b;
}

}  // namespace acceltran
