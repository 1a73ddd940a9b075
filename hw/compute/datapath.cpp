#include "acceltran/hw/compute/datapath.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "acceltran/compiler/parts.hpp"
#include "acceltran/config/input_error.hpp"
#include "acceltran/hw/accelerator.hpp"  // FunctionalResult
#include "acceltran/hw/compute/exact_gemm.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "acceltran/hw/control/tile_job_builder.hpp"  // loop_order_of

namespace acceltran {

namespace fx {

int32_t gelu(int32_t x) {
  // 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), tanh(|u|) = (1 - e) / (1 + e) with
  // e = exp(-2|u|) from the softmax module's exp unit; tanh = 1 for |u| >= 8.
  constexpr int64_t kC = 52290;  // sqrt(2/pi) * 2^16
  constexpr int64_t kA = 2930;   // 0.044715 * 2^16
  const int64_t x3 = shift_round(shift_round(int64_t{x} * x, kFracBits) * x, kFracBits);  // Q16
  const int64_t inner = x + shift_round(kA * x3, kFracBits);
  const int64_t u = shift_round(kC * inner, kFracBits);  // Q16
  const int64_t au = u < 0 ? -u : u;
  int64_t t;  // tanh(|u|), Q16
  if (au >= 8 * int64_t{kOne}) {
    t = kOne;
  } else {
    const int64_t e = exp_neg(static_cast<int32_t>(-2 * au));
    t = ((int64_t{kOne} - e) * kOne + (int64_t{kOne} + e) / 2) / (int64_t{kOne} + e);
  }
  if (u < 0) t = -t;
  return saturate(shift_round(int64_t{x} * (kOne + t), kFracBits + 1));
}

}  // namespace fx

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

char input_mode_of(const Op& op, size_t n) {
  if (n < op.in_rows.size()) return op.in_rows[n];
  return op.kind == OpKind::matmul && n == 1 ? 'k' : 'm';
}
int64_t input_col_of(const Op& op, size_t n) {
  return n < op.in_col.size() ? op.in_col[n] : 0;
}

// Loop-order enumeration of a block's tiles (dims with extent > 1, outermost first).
struct BlockEnum {
  int64_t origin[4], ext[4];
  int dims[4], nd = 0;
  int64_t stride[4] = {0, 0, 0, 0};  // per dim (b, i, j, k); 0 for dims of extent 1
  BlockEnum(const Op& op, uint32_t block, const LoopOrder& order) {
    const BlockBox box = block_box(op, block);
    origin[0] = box.b0, origin[1] = box.i0, origin[2] = box.j0, origin[3] = box.k0;
    ext[0] = box.eb(), ext[1] = box.ei(), ext[2] = box.ej(), ext[3] = box.ek();
    for (char c : order.dims) {
      const int d = c == 'b' ? 0 : c == 'i' ? 1 : c == 'j' ? 2 : 3;
      if (ext[d] > 1) dims[nd++] = d;
    }
    for (int p = nd - 1, acc = 1; p >= 0; --p) {
      stride[dims[p]] = acc;
      acc *= static_cast<int>(ext[dims[p]]);
    }
  }
  uint64_t tiles() const { return static_cast<uint64_t>(ext[0] * ext[1] * ext[2] * ext[3]); }
  TileIndex at(uint64_t u) const {
    int64_t c[4] = {origin[0], origin[1], origin[2], origin[3]};
    for (int p = 0; p < nd; ++p) {
      const int d = dims[p];
      c[d] += static_cast<int64_t>(u / static_cast<uint64_t>(stride[d])) % ext[d];
    }
    return TileIndex{c[0], c[1], c[2], c[3]};
  }
  // Cuts [f, e) into boxes, each a contiguous range of the enumeration: the dims inside a level
  // whole, one dim partial, the dims outside fixed. fn(lo, hi, first_u).
  template <typename Fn>
  void boxes(uint64_t f, uint64_t e, Fn&& fn) const {
    while (f < e) {
      int64_t digit[4];
      for (int p = 0; p < nd; ++p)
        digit[p] = static_cast<int64_t>(f / static_cast<uint64_t>(stride[dims[p]])) % ext[dims[p]];
      int64_t lo[4] = {origin[0], origin[1], origin[2], origin[3]};
      int64_t hi[4] = {origin[0] + 1, origin[1] + 1, origin[2] + 1, origin[3] + 1};
      if (nd == 0) {
        fn(lo, hi, f);
        ++f;
        continue;
      }
      int p = nd - 1;
      while (p > 0 && digit[p] == 0 && f + static_cast<uint64_t>(stride[dims[p - 1]]) <= e) --p;
      const uint64_t st = static_cast<uint64_t>(stride[dims[p]]);
      const int64_t c =
          std::min<int64_t>(ext[dims[p]] - digit[p], static_cast<int64_t>((e - f) / st));
      for (int q = 0; q < nd; ++q) {
        const int d = dims[q];
        if (q < p) {
          lo[d] = origin[d] + digit[q];
          hi[d] = lo[d] + 1;
        } else if (q == p) {
          lo[d] = origin[d] + digit[q];
          hi[d] = lo[d] + c;
        } else {
          lo[d] = origin[d];
          hi[d] = origin[d] + ext[d];
        }
      }
      fn(lo, hi, f);
      f += static_cast<uint64_t>(c) * st;
    }
  }
};

}  // namespace

Datapath::Datapath(const Program& prog, const FunctionalInput& in)
    : prog_(prog), in_(in), tb_(prog.info.tile.b), tx_(prog.info.tile.x), ty_(prog.info.tile.y) {
  if (prog.info.profile != Profile::hardware)
    throw InputError(
        "--functional: the data path runs the default profile only (--profile hardware)");
  if (!in.weights) throw std::logic_error("Datapath: no weights");
  if (in.prune.kind == PruneMode::Kind::dynatran) {
    if (!(in.prune.tau >= 0) || in.prune.tau >= 8.0)
      throw InputError(
          fmt::format("--threshold {}: tau must be in [0, 8) (a Q4.16 value)", in.prune.tau));
  } else if (in.prune.topk < 1) {
    throw InputError(fmt::format("--topk {}: must be >= 1", in.prune.topk));
  }
  const int64_t B = prog.info.batch, S = prog.info.seq_len;
  if (static_cast<int64_t>(in.tokens.size()) != B)
    throw InputError(
        fmt::format("{}: {} sequences for a batch of {}", in.tokens_source, in.tokens.size(), B));
  for (size_t s = 0; s < in.tokens.size(); ++s)
    if (static_cast<int64_t>(in.tokens[s].size()) != S)
      throw InputError(fmt::format("{}: sequence {} has {} tokens, the run's sequence length is {}",
                                   in.tokens_source, s + 1, in.tokens[s].size(), S));
  check_attention_mask();
  policy_ = in.policy.name.empty() ? uniform_policy(in.prune) : in.policy;
  if (policy_.weight_tau >= 0) {  // the policy's tau_w: a pruned copy of the weights
    pruned_weights_ = *in.weights;
    prune_weights(pruned_weights_, policy_);
    in_.weights = &pruned_weights_;
  }
  const size_t nt = prog.tensors.size();
  vals_.resize(nt);
  written_.resize(nt);
  acc_.resize(prog.ops.size());
  opv_.resize(prog.ops.size());
  rows_done_.resize(prog.ops.size());
  tiles_done_.assign(prog.ops.size(), 0);
  tensor_z_.assign(nt, 0);
  tensor_n_.assign(nt, 0);
  readers_left_.assign(nt, 0);
  keep_.assign(nt, false);
  for (const Op& op : prog.ops) {
    for (TensorId t : op.inputs) ++readers_left_[t];
    const bool layer_out =
        op.name == "emb.ln" ||
        (op.name.size() > 7 && op.name.compare(op.name.size() - 7, 7, ".ffn.ln") == 0);
    if (layer_out) {
      keep_[op.output] = true;
      layer_outputs_.push_back(op.output);
    }
    if (op.kind == OpKind::activation) {
      const std::string& act = in.weights->config.hidden_act;
      if (act != "gelu" && act != "gelu_new" && act != "gelu_pytorch_tanh" && act != "relu")
        throw InputError(fmt::format(
            "{}: hidden_act '{}': the functional data path computes gelu (tanh form) and relu",
            in.weights->config.source, act));
    }
    if (op.kind == OpKind::matmul && op.out_rows != 'm')
      throw InputError(fmt::format(
          "--functional: op {} writes a transposed output; only BERT encoders (sdp heads) run "
          "functionally",
          op.name));
  }
  classify_pruned_ops();
  load_parameters();
}

void Datapath::check_attention_mask() const {
  if (in_.attention == AttentionKind::causal)
    throw InputError(
        "--functional: causal attention masks are not supported yet (BERT encoders attend every "
        "unmasked key)");
  const auto& mask = in_.attention_mask;
  if (mask.empty()) return;
  const int64_t B = prog_.info.batch, S = prog_.info.seq_len;
  if (static_cast<int64_t>(mask.size()) != B)
    throw InputError(fmt::format("{}: attention mask of {} sequences for a batch of {}",
                                 in_.tokens_source, mask.size(), B));
  for (size_t s = 0; s < mask.size(); ++s) {
    if (static_cast<int64_t>(mask[s].size()) != S)
      throw InputError(
          fmt::format("{}: sequence {} has {} mask values, the run's sequence length "
                      "is {}",
                      in_.tokens_source, s + 1, mask[s].size(), S));
    for (uint8_t m : mask[s])
      if (m > 1)
        throw InputError(fmt::format("{}: sequence {}: mask value {} is not 0 or 1",
                                     in_.tokens_source, s + 1, m));
  }
}

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

constexpr int kFusedQkv = -2;

// The policy's tensor class of a pruned op of the default profile's BERT layer.
int kind_of_op(const Op& op) {
  const std::string& n = op.name;
  if (ends_with(n, ".attn.qkv")) return kFusedQkv;  // q, k, v by column
  if (ends_with(n, ".qk")) return static_cast<int>(TensorKind::scores);
  if (op.kind == OpKind::softmax) return static_cast<int>(TensorKind::probabilities);
  if (ends_with(n, ".pv")) return static_cast<int>(TensorKind::context);
  if (ends_with(n, ".attn.o")) return static_cast<int>(TensorKind::attention_output);
  if (ends_with(n, ".up")) return static_cast<int>(TensorKind::ffn_intermediate);
  if (ends_with(n, ".ffn.down")) return static_cast<int>(TensorKind::ffn_output);
  throw InputError(fmt::format(
      "--functional: op {} is pruned but is none of the tensor classes of a pruning policy", n));
}

bool same_rule(const BlockPrune& a, const BlockPrune& b) {
  return a.kind == b.kind && a.tau_q == b.tau_q && a.k == b.k && a.segment == b.segment &&
         a.above_kth == b.above_kth;
}

}  // namespace

void Datapath::classify_pruned_ops() {
  const size_t n = prog_.ops.size();
  op_kind_.assign(n, -1);
  needs_panel_.assign(n, false);
  op_rules_.resize(n);
  const int64_t head_dim = in_.weights->config.head_dim;
  for (const Op& op : prog_.ops) {
    if (!op.prune) continue;
    const int kind = kind_of_op(op);
    op_kind_[op.id] = kind;
    const Tensor& TO = prog_.tensors[op.output];
    // Top-k row segments: a head's slice of the fused Q/K/V, otherwise the op's whole row.
    const int64_t segment = op.kind == OpKind::softmax                ? op.n
                            : TO.part_cols > 0 && TO.part_cols < op.n ? TO.part_cols
                                                                      : op.n;
    for (int k = 0; k < kTensorKinds; ++k) {
      op_rules_[op.id][static_cast<size_t>(k)] =
          policy_.block_rule(static_cast<TensorKind>(k), segment, head_dim);
      const bool written = kind == kFusedQkv ? k <= static_cast<int>(TensorKind::value) : k == kind;
      if (written && op.kind == OpKind::matmul &&
          op_rules_[op.id][static_cast<size_t>(k)].kind == BlockPrune::Kind::topk)
        needs_panel_[op.id] = true;
    }
  }
}

TensorKind Datapath::column_kind(const Op& op, int64_t c) const {
  const int kind = op_kind_[op.id];
  if (kind != kFusedQkv) return static_cast<TensorKind>(kind);
  const int64_t d = in_.weights->config.head_dim;
  return static_cast<TensorKind>((c % (3 * d)) / d);
}

uint64_t Datapath::prune_output(const Op& op, int64_t b, int64_t r0, int64_t r1, int64_t c0,
                                int64_t c1, PostSparsity* post) {
  const Tensor& TO = prog_.tensors[op.output];
  int32_t* base = out_ptr(op, b, r0, 0);
  const auto& rules = op_rules_[op.id];
  uint64_t zeros = 0;
  for (int64_t c = c0; c < c1;) {  // runs of columns with one rule
    const BlockPrune& rule = rules[static_cast<size_t>(column_kind(op, c))];
    int64_t e = c + 1;
    while (e < c1 && same_rule(rules[static_cast<size_t>(column_kind(op, e))], rule)) ++e;
    if (rule.kind == BlockPrune::Kind::none || !post)
      zeros += output_zeros(op, b, b + 1, r0, r1, c, e);
    else
      zeros += post->prune_block(base + c, static_cast<int>(r1 - r0), static_cast<int>(e - c),
                                 static_cast<int>(TO.cols), rule);
    c = e;
  }
  count_classes(op, b, r0, r1, c0, c1);
  return zeros;
}

void Datapath::count_classes(const Op& op, int64_t b, int64_t r0, int64_t r1, int64_t c0,
                             int64_t c1) {
  const uint8_t* mask = in_.attention_mask.empty() ? nullptr : in_.attention_mask[b].data();
  for (int64_t c = c0; c < c1;) {  // runs of columns of one class
    const TensorKind kind = column_kind(op, c);
    int64_t e = c + 1;
    while (e < c1 && column_kind(op, e) == kind) ++e;
    const bool keys = kind == TensorKind::scores || kind == TensorKind::probabilities;
    ClassCount& cc = class_counts_[static_cast<size_t>(kind)];
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t* o = out_ptr(op, b, r, 0);
      uint64_t zeros = 0, real_zeros = 0, real = 0;
      const bool real_row = !mask || mask[r];
      for (int64_t x = c; x < e; ++x) {
        const uint64_t zero = o[x] == 0 ? 1 : 0;
        const uint64_t counted = real_row && (!keys || !mask || mask[x]) ? 1 : 0;
        zeros += zero;
        real += counted;
        real_zeros += zero & counted;
      }
      cc.elements += static_cast<uint64_t>(e - c);
      cc.zeros += zeros;
      cc.unpadded_elements += real;
      cc.unpadded_zeros += real_zeros;
    }
    c = e;
  }
}

void Datapath::mark_written(TensorId t, int64_t b0, int64_t b1, int64_t r0, int64_t r1, int64_t c0,
                            int64_t c1) {
  const Tensor& T = prog_.tensors[t];
  const int64_t rt = ceil_div(T.rows, tx_), ct = ceil_div(T.cols, ty_);
  auto& w = written_[t];
  if (w.empty()) w.assign(static_cast<size_t>(T.batch * rt * ct), 0);
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t r = r0 / tx_; r < ceil_div(r1, tx_); ++r)
      for (int64_t c = c0 / ty_; c < ceil_div(c1, ty_); ++c)
        w[static_cast<size_t>((b * rt + r) * ct + c)] = 1;
}

void Datapath::check_written(const Op& op, TensorId t, int64_t b0, int64_t b1, int64_t r0,
                             int64_t r1, int64_t c0, int64_t c1) const {
  const Tensor& T = prog_.tensors[t];
  const int64_t rt = ceil_div(T.rows, tx_), ct = ceil_div(T.cols, ty_);
  const auto& w = written_[t];
  bool ok = !w.empty() && !vals_[t].empty();
  for (int64_t b = b0; ok && b < b1; ++b)
    for (int64_t r = r0 / tx_; ok && r < ceil_div(r1, tx_); ++r)
      for (int64_t c = c0 / ty_; ok && c < ceil_div(c1, ty_); ++c)
        ok = w[static_cast<size_t>((b * rt + r) * ct + c)] != 0;
  if (!ok)
    throw std::logic_error(fmt::format(
        "functional data path: op {} read {} [batch {}..{}, rows {}..{}, cols {}..{}] before "
        "it was written (a missing dependency)",
        op.name, T.name, b0, b1 - 1, r0, r1 - 1, c0, c1 - 1));
}

namespace {

// A parameter tensor being filled from the checkpoint: its values and the shape check.
struct ParameterFill {
  const Tensor& tensor;
  std::vector<int32_t>& values;
  const std::string& source;  // the weights' source, for messages
  void expect(int64_t batch, int64_t rows, int64_t cols) const {
    if (tensor.batch != batch || tensor.rows != rows || tensor.cols != cols)
      throw InputError(
          fmt::format("{}: tensor {} is {}x{}x{} in the program, the weights give {}x{}x{}", source,
                      tensor.name, tensor.batch, tensor.rows, tensor.cols, batch, rows, cols));
  }
};

int32_t to_q16(float x) {
  return fx::from_double(static_cast<double>(x));
}

// Linear layer: program weight (k x n) = HF weight [n, k] transposed; bias 1 x n.
void fill_linear(const ParameterFill& fill, const FloatTensor& weight, const FloatTensor& bias,
                 bool is_bias) {
  const int64_t outputs = weight.shape[0], inputs = weight.shape[1];
  if (is_bias) {
    fill.expect(1, 1, outputs);
    for (int64_t c = 0; c < outputs; ++c)
      fill.values[static_cast<size_t>(c)] = to_q16(bias.data[c]);
    return;
  }
  fill.expect(1, inputs, outputs);
  for (int64_t r = 0; r < inputs; ++r)
    for (int64_t c = 0; c < outputs; ++c)
      fill.values[static_cast<size_t>(r * outputs + c)] =
          to_q16(weight.data[static_cast<size_t>(c * inputs + r)]);
}

// LayerNorm parameters: gamma in row 0, beta in row 1.
void fill_gamma_beta(const ParameterFill& fill, int64_t hidden, const FloatTensor& gamma,
                     const FloatTensor& beta) {
  fill.expect(1, 2, hidden);
  for (int64_t c = 0; c < hidden; ++c) {
    fill.values[static_cast<size_t>(c)] = to_q16(gamma.data[c]);
    fill.values[static_cast<size_t>(hidden + c)] = to_q16(beta.data[c]);
  }
}

// The fused Q/K/V projection: per head, d query columns, then key, then value; the
// 1/sqrt(head_dim) attention scale is folded into the query weights and bias.
void fill_qkv(const ParameterFill& fill, const BertConfig& cfg, const BertLayerWeights& layer,
              bool is_bias) {
  const int64_t hidden = cfg.hidden, head_dim = cfg.head_dim;
  const double query_scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  if (is_bias)
    fill.expect(1, 1, 3 * hidden);
  else
    fill.expect(1, hidden, 3 * hidden);
  const FloatTensor* weights[3] = {&layer.query_w, &layer.key_w, &layer.value_w};
  const FloatTensor* biases[3] = {&layer.query_b, &layer.key_b, &layer.value_b};
  for (int64_t head = 0; head < cfg.heads; ++head)
    for (int part = 0; part < 3; ++part) {
      const double scale = part == 0 ? query_scale : 1.0;
      const int64_t first_col = 3 * head_dim * head + part * head_dim;
      for (int64_t c = 0; c < head_dim; ++c) {
        const int64_t feature = head * head_dim + c;  // HF output feature
        if (is_bias) {
          fill.values[static_cast<size_t>(first_col + c)] =
              fx::from_double(biases[part]->data[feature] * scale);
          continue;
        }
        for (int64_t r = 0; r < hidden; ++r)
          fill.values[static_cast<size_t>(r * 3 * hidden + first_col + c)] = fx::from_double(
              weights[part]->data[static_cast<size_t>(feature * hidden + r)] * scale);
      }
    }
}

// Layer index and layer-local name of "L<n>.<local>"; -1 and the whole name otherwise.
int split_layer_name(const std::string& name, std::string* local) {
  *local = name;
  if (name.size() <= 1 || name[0] != 'L') return -1;
  const size_t dot = name.find('.');
  *local = name.substr(dot + 1);
  return std::stoi(name.substr(1, dot - 1));
}

}  // namespace

// Word-embedding rows of the run's tokens: row (sequence, position) = embedding of its token.
void Datapath::fill_token_rows(std::vector<int32_t>& values) const {
  const BertWeights& weights = *in_.weights;
  const int64_t hidden = weights.config.hidden;
  for (size_t s = 0; s < in_.tokens.size(); ++s)
    for (size_t p = 0; p < in_.tokens[s].size(); ++p) {
      const int64_t id = in_.tokens[s][p];
      if (id < 0 || id >= weights.config.vocab_size)
        throw InputError(fmt::format("{}: token id {} outside the vocabulary [0, {})",
                                     in_.tokens_source, id, weights.config.vocab_size));
      const int64_t row = static_cast<int64_t>(s) * prog_.info.seq_len + static_cast<int64_t>(p);
      for (int64_t c = 0; c < hidden; ++c)
        values[static_cast<size_t>(row * hidden + c)] =
            to_q16(weights.word_emb.data[static_cast<size_t>(id * hidden + c)]);
    }
}

// The embedding tables and the embedding LayerNorm.
bool Datapath::fill_embedding(const Tensor& tensor, std::vector<int32_t>& values) const {
  const BertWeights& weights = *in_.weights;
  const BertConfig& cfg = weights.config;
  const ParameterFill fill{tensor, values, weights.source};
  const std::string& name = tensor.name;
  if (name == "emb.word_rows") {
    fill.expect(prog_.info.batch, prog_.info.seq_len, cfg.hidden);
    fill_token_rows(values);
  } else if (name == "emb.position_rows") {
    fill.expect(1, prog_.info.seq_len, cfg.hidden);
    if (prog_.info.seq_len > cfg.max_position)
      throw InputError(fmt::format("{}: sequence length {} exceeds max_position_embeddings {}",
                                   cfg.source, prog_.info.seq_len, cfg.max_position));
    for (size_t i = 0; i < values.size(); ++i) values[i] = to_q16(weights.pos_emb.data[i]);
  } else if (name == "emb.type_rows") {
    fill.expect(1, cfg.type_vocab, cfg.hidden);
    for (size_t i = 0; i < values.size(); ++i) values[i] = to_q16(weights.type_emb.data[i]);
  } else if (name == "attn.mask") {  // its values are all 0: the attention mask is its bit mask
    fill.expect(1, prog_.info.batch, prog_.info.seq_len);
  } else if (name == "emb.ln.gb") {
    fill_gamma_beta(fill, cfg.hidden, weights.emb_ln_gamma, weights.emb_ln_beta);
  } else {
    return false;
  }
  return true;
}

// The parameters of encoder layer `layer` (tensor name "L<layer>.<local>").
bool Datapath::fill_layer_parameter(const Tensor& tensor, int layer, const std::string& local,
                                    std::vector<int32_t>& values) const {
  const BertWeights& weights = *in_.weights;
  if (layer >= static_cast<int>(weights.layers.size()))
    throw InputError(fmt::format("{}: the program has layer {}, the weights {} layers",
                                 weights.source, layer, weights.layers.size()));
  const BertLayerWeights& l = weights.layers[static_cast<size_t>(layer)];
  const ParameterFill fill{tensor, values, weights.source};
  const int64_t hidden = weights.config.hidden;
  if (local == "attn.qkv.w" || local == "attn.qkv.b")
    fill_qkv(fill, weights.config, l, local == "attn.qkv.b");
  else if (local == "attn.o.w" || local == "attn.o.b")
    fill_linear(fill, l.attn_out_w, l.attn_out_b, local == "attn.o.b");
  else if (local == "ffn0.up.w" || local == "ffn0.up.b")
    fill_linear(fill, l.inter_w, l.inter_b, local == "ffn0.up.b");
  else if (local == "ffn.down.w" || local == "ffn.down.b")
    fill_linear(fill, l.out_w, l.out_b, local == "ffn.down.b");
  else if (local == "attn.ln.gb")
    fill_gamma_beta(fill, hidden, l.attn_ln_gamma, l.attn_ln_beta);
  else if (local == "ffn.ln.gb")
    fill_gamma_beta(fill, hidden, l.out_ln_gamma, l.out_ln_beta);
  else
    return false;
  return true;
}

void Datapath::load_parameters() {
  for (const Tensor& tensor : prog_.tensors) {
    if (tensor.cls == TensorClass::activation) continue;
    std::vector<int32_t>& values = vals_[tensor.id];
    values.assign(tensor.elements(), 0);
    std::string local;
    const int layer = split_layer_name(tensor.name, &local);
    const bool filled = layer >= 0 ? fill_layer_parameter(tensor, layer, local, values)
                                   : fill_embedding(tensor, values);
    if (!filled)
      throw InputError(
          fmt::format("--functional: no weights for tensor {} (only BERT encoders: sdp heads, one "
                      "feed-forward layer, equal hidden sizes)",
                      tensor.name));
    mark_written(tensor.id, 0, tensor.batch, 0, tensor.rows, 0, tensor.cols);
    tensor_n_[tensor.id] = values.size();
    tensor_z_[tensor.id] = static_cast<uint64_t>(std::count(values.begin(), values.end(), 0));
    if (local == "attn.qkv.w" || local == "attn.o.w" || local == "ffn0.up.w" ||
        local == "ffn.down.w") {  // the linear layers' weight matrices (tau_w prunes them)
      weight_count_.elements += tensor_n_[tensor.id];
      weight_count_.zeros += tensor_z_[tensor.id];
      weight_count_.unpadded_elements = weight_count_.elements;
      weight_count_.unpadded_zeros = weight_count_.zeros;
    }
  }
}

int32_t* Datapath::out_ptr(const Op& op, int64_t b, int64_t r, int64_t c) {
  const Tensor& T = prog_.tensors[op.output];
  auto& v = vals_[op.output];
  if (v.empty()) v.assign(T.elements(), 0);
  return v.data() + ((b * T.rows + r) * T.cols + op.out_col + c);
}

uint64_t Datapath::output_zeros(const Op& op, int64_t b0, int64_t b1, int64_t r0, int64_t r1,
                                int64_t c0, int64_t c1) {
  uint64_t zeros = 0;
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t* p = out_ptr(op, b, r, c0);
      for (int64_t c = 0; c < c1 - c0; ++c) zeros += p[c] == 0;
    }
  return zeros;
}

void Datapath::record_output(const Op& op, uint64_t n, uint64_t zeros, JobData& jd) {
  jd.out_elements += n;
  jd.out_zeros += zeros;
  opv_[op.id].elements += n;
  opv_[op.id].zeros += zeros;
  tensor_n_[op.output] += n;
  tensor_z_[op.output] += zeros;
}

JobData Datapath::run_lane_job(const Op& op, uint32_t block, const LoopOrder& order, uint64_t first,
                               uint64_t count, uint64_t* eff, PostSparsity* post) {
  JobData jd;
  const BlockEnum be(op, block, order);
  if (first + count > be.tiles()) throw std::invalid_argument("Datapath: tiles beyond the block");
  if (op.kind == OpKind::matmul) {
    if (eff) std::fill(eff, eff + count, 0);
    Acc& a = acc_[op.id];
    if (a.sum.empty()) {
      a.sum.assign(static_cast<size_t>(op.b * op.m * op.n), 0.0);
      a.kdone.assign(static_cast<size_t>(op.grid_b * op.grid_i * op.grid_j), 0);
      if (op.prune && needs_panel_[op.id])
        a.jdone.assign(static_cast<size_t>(op.grid_b * op.grid_i), 0);
    }
    read_a_ = read_b_ = zeros_a_ = zeros_b_ = 0;
    be.boxes(first, first + count, [&](const int64_t* lo, const int64_t* hi, uint64_t u0) {
      matmul_box(op, lo, hi, u0, be.stride, eff, first, jd, post);
    });
    jd.a_sparsity = read_a_ ? zeros_a_ / read_a_ : 0;
    jd.b_sparsity = read_b_ ? zeros_b_ / read_b_ : 0;
  } else {
    double za = 0, zb = 0, rd = 0;
    for (uint64_t u = first; u < first + count; ++u) elementwise_tile(op, be.at(u), jd, za, zb, rd);
    jd.a_sparsity = rd ? za / rd : 0;
    jd.b_sparsity = rd ? zb / rd : 0;
  }
  op_progress(op, count);
  return jd;
}

// Packs B's rows [k0, k0 + K) x columns [j0, j0 + N) of batch element bB (op columns from
// `col`) into pb_ as doubles: as stored for mode 'n' (B held output-major: N x K, for
// exact_gemm_accumulate_transposed), else K x N; counts the non-zeros per (j tile, k) into
// nnz_b_. Returns B's zeros.
uint64_t Datapath::pack_matmul_b(const Tensor& TB, char mode, int64_t bB, int64_t col, int64_t j0,
                                 int64_t N, int64_t k0, int64_t K) {
  const int32_t* Bv = vals_[TB.id].data();
  std::fill(nnz_b_.begin(), nnz_b_.end(), 0);
  uint64_t zeros = 0;
  if (mode == 'n') {
    for (int64_t c = 0; c < N; ++c) {
      const int32_t* src = Bv + (bB * TB.rows + j0 + c) * TB.cols + col + k0;
      double* dst = pb_.data() + c * K;
      int32_t* cnt = nnz_b_.data() + (c / ty_) * K;
      for (int64_t kk = 0; kk < K; ++kk) {
        dst[kk] = src[kk];
        cnt[kk] += src[kk] != 0;
        zeros += src[kk] == 0;
      }
    }
    return zeros;
  }
  for (int64_t kk = 0; kk < K; ++kk) {
    const int32_t* src = Bv + (bB * TB.rows + k0 + kk) * TB.cols + col + j0;
    double* dst = pb_.data() + kk * N;
    for (int64_t c = 0; c < N; ++c) {
      dst[c] = src[c];
      nnz_b_[static_cast<size_t>((c / ty_) * K + kk)] += src[c] != 0;
      zeros += src[c] == 0;
    }
  }
  return zeros;
}

void Datapath::matmul_box(const Op& op, const int64_t lo[4], const int64_t hi[4], uint64_t u0,
                          const int64_t ustride[4], uint64_t* eff, uint64_t first, JobData& jd,
                          PostSparsity* post) {
  const Tensor& TA = prog_.tensors[op.inputs[0]];
  const Tensor& TB = prog_.tensors[op.inputs[1]];
  const char mb = input_mode_of(op, 1);
  const int64_t ca = input_col_of(op, 0), cb = input_col_of(op, 1);
  const int64_t r0 = lo[1] * tx_, r1 = std::min(hi[1] * tx_, op.m);
  const int64_t j0 = lo[2] * ty_, j1 = std::min(hi[2] * ty_, op.n);
  const int64_t k0 = lo[3] * tx_, k1 = std::min(hi[3] * tx_, op.k);
  const int64_t R = r1 - r0, N = j1 - j0, K = k1 - k0;
  const int64_t nit = hi[1] - lo[1], njt = hi[2] - lo[2];
  std::vector<int32_t>& cA = nnz_a_;  // non-zeros per (i tile, k) of A and (j tile, k) of B
  std::vector<int32_t>& cB = nnz_b_;
  cA.resize(static_cast<size_t>(nit * K));
  cB.resize(static_cast<size_t>(njt * K));
  pa_.resize(static_cast<size_t>(R * K));
  pb_.resize(static_cast<size_t>(K * N));
  Acc& acc = acc_[op.id];
  uint64_t zb = 0;  // zeros of the packed B
  for (int64_t b = lo[0] * tb_; b < std::min(hi[0] * tb_, op.b); ++b) {
    const int64_t bA = TA.batch > 1 ? b : 0, bB = TB.batch > 1 ? b : 0;
    check_written(op, TA.id, bA, bA + 1, r0, r1, ca + k0, ca + k1);
    if (mb == 'n')
      check_written(op, TB.id, bB, bB + 1, j0, j1, cb + k0, cb + k1);
    else
      check_written(op, TB.id, bB, bB + 1, k0, k1, cb + j0, cb + j1);
    const int32_t* A = vals_[TA.id].data();
    std::fill(cA.begin(), cA.end(), 0);
    uint64_t za = 0;
    for (int64_t r = 0; r < R; ++r) {
      const int32_t* src = A + ((bA * TA.rows + r0 + r) * TA.cols + ca + k0);
      int32_t* cnt = cA.data() + (r / tx_) * K;
      double* dst = pa_.data() + r * K;
      for (int64_t kk = 0; kk < K; ++kk) {
        dst[kk] = src[kk];
        cnt[kk] += src[kk] != 0;
        za += src[kk] == 0;
      }
    }
    // B once per box when every batch element multiplies the same one (a weight).
    if (b == lo[0] * tb_ || TB.batch > 1) zb = pack_matmul_b(TB, mb, bB, cb, j0, N, k0, K);
    read_a_ += static_cast<double>(R * K);
    read_b_ += static_cast<double>(K * N);
    zeros_a_ += static_cast<double>(za);
    zeros_b_ += static_cast<double>(zb);
    // The lanes: exact integer products summed in double (|sum| < 2^53).
    double* out = acc.sum.data() + (b * op.m + r0) * op.n + j0;
    if (mb == 'n')  // B packed as stored, output-major (N x K)
      exact_gemm_accumulate_transposed(R, K, N, op.k, pa_.data(), pb_.data(), out, op.n);
    else
      exact_gemm_accumulate(R, K, N, op.k, pa_.data(), pb_.data(), out, op.n);
    // The pre-sparsity units: effectual MACs per tile from the two masks.
    if (eff) {
      const int64_t bt = b / tb_;
      for (int64_t it = lo[1]; it < hi[1]; ++it)
        for (int64_t jt = lo[2]; jt < hi[2]; ++jt)
          for (int64_t kt = lo[3]; kt < hi[3]; ++kt) {
            const int64_t kb = kt * tx_ - k0, ke = std::min(kb + tx_, K);
            uint64_t e = 0;
            const int32_t* pa = cA.data() + (it - lo[1]) * K;
            const int32_t* pb = cB.data() + (jt - lo[2]) * K;
            for (int64_t kk = kb; kk < ke; ++kk)
              e += static_cast<uint64_t>(pa[kk]) * static_cast<uint64_t>(pb[kk]);
            const uint64_t u =
                u0 + static_cast<uint64_t>((bt - lo[0]) * ustride[0] + (it - lo[1]) * ustride[1] +
                                           (jt - lo[2]) * ustride[2] + (kt - lo[3]) * ustride[3]);
            eff[u - first] += e;
            opv_[op.id].effectual_macs += e;
          }
    }
  }
  // Output tiles that have all their k tiles are final.
  for (int64_t bt = lo[0]; bt < hi[0]; ++bt)
    for (int64_t it = lo[1]; it < hi[1]; ++it)
      for (int64_t jt = lo[2]; jt < hi[2]; ++jt) {
        uint16_t& kd = acc.kdone[static_cast<size_t>((bt * op.grid_i + it) * op.grid_j + jt)];
        kd = static_cast<uint16_t>(kd + (hi[3] - lo[3]));
        if (kd == op.grid_k) finalize_tile(op, bt, it, jt, jd, post);
      }
}

void Datapath::finalize_tile(const Op& op, int64_t bt, int64_t it, int64_t jt, JobData& jd,
                             PostSparsity* post) {
  const Acc& acc = acc_[op.id];
  const int64_t b0 = bt * tb_, b1 = std::min(b0 + tb_, op.b);
  const int64_t r0 = it * tx_, r1 = std::min(r0 + tx_, op.m);
  const int64_t c0 = jt * ty_, c1 = std::min(c0 + ty_, op.n);
  const int32_t* bias = op.inputs.size() > 2 ? vals_[op.inputs[2]].data() : nullptr;
  OpValues& ov = opv_[op.id];
  uint64_t zeros = 0;
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t r = r0; r < r1; ++r) {
      int32_t* o = out_ptr(op, b, r, 0);
      const double* s = acc.sum.data() + (b * op.m + r) * op.n;
      for (int64_t c = c0; c < c1; ++c) {
        int64_t v = fx::shift_round(static_cast<int64_t>(s[c]), fx::kFracBits);
        if (bias) v += bias[c];
        ov.saturated += !fx::in_range(v);
        o[c] = fx::saturate(v);
        zeros += o[c] == 0;
      }
    }
    mark_written(op.output, b, b + 1, r0, r1, op.out_col + c0, op.out_col + c1);
  }
  if (op.prune && needs_panel_[op.id]) {  // top-k needs the whole row panel
    uint16_t& jd_ = acc_[op.id].jdone[static_cast<size_t>(bt * op.grid_i + it)];
    if (++jd_ == op.grid_j) topk_panel(op, bt, it, jd, post);
    return;
  }
  if (op.prune) {  // the post-sparsity units count the zeros they leave
    zeros = 0;
    for (int64_t b = b0; b < b1; ++b) zeros += prune_output(op, b, r0, r1, c0, c1, post);
  }
  record_output(op, static_cast<uint64_t>((b1 - b0) * (r1 - r0) * (c1 - c0)), zeros, jd);
}

void Datapath::topk_panel(const Op& op, int64_t bt, int64_t it, JobData& jd, PostSparsity* post) {
  const int64_t b0 = bt * tb_, b1 = std::min(b0 + tb_, op.b);
  const int64_t r0 = it * tx_, r1 = std::min(r0 + tx_, op.m);
  uint64_t zeros = 0;
  for (int64_t b = b0; b < b1; ++b) zeros += prune_output(op, b, r0, r1, 0, op.n, post);
  record_output(op, static_cast<uint64_t>((b1 - b0) * (r1 - r0) * op.n), zeros, jd);
}

void Datapath::elementwise_tile(const Op& op, const TileIndex& t, JobData& jd, double& zeros_a,
                                double& zeros_b, double& read) {
  const int64_t b0 = t.b * tb_, b1 = std::min(b0 + tb_, op.b);
  const int64_t r0 = t.i * tx_, r1 = std::min(r0 + tx_, op.m);
  const int64_t c0 = t.j * ty_, c1 = std::min(c0 + ty_, op.n);
  const bool act = op.kind == OpKind::activation;
  const bool relu = act && in_.weights->config.hidden_act == "relu";
  OpValues& ov = opv_[op.id];
  // Per input, looked up once per tile: the row r of batch b starts at base + b * bstride +
  // r * rstride (an 'a' input, the token-type rows, is read at row 0: token type 0).
  struct In {
    const int32_t* base;
    int64_t bstride, rstride;
  };
  const size_t ni = op.inputs.size();
  In ins[4];
  if (ni > 4) throw std::logic_error("Datapath: an element-wise op with more than 4 inputs");
  for (size_t n = 0; n < ni; ++n) {
    const Tensor& T = prog_.tensors[op.inputs[n]];
    const bool whole = input_mode_of(op, n) == 'a';
    const int64_t ci = input_col_of(op, n);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t bi = T.batch > 1 ? b : 0;
      if (whole)
        check_written(op, T.id, 0, 1, 0, 1, ci + c0, ci + c1);
      else
        check_written(op, T.id, bi, bi + 1, r0, r1, ci + c0, ci + c1);
    }
    ins[n] = In{vals_[T.id].data() + ci, T.batch > 1 ? T.rows * T.cols : 0, whole ? 0 : T.cols};
  }
  uint64_t zeros = 0;
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t r = r0; r < r1; ++r) {
      int32_t* o = out_ptr(op, b, r, 0);
      for (int64_t c = c0; c < c1; ++c) {
        int64_t sum = 0;
        for (size_t n = 0; n < ni; ++n) {
          const int32_t x = ins[n].base[b * ins[n].bstride + r * ins[n].rstride + c];
          (n == 0 ? zeros_a : zeros_b) += x == 0;
          sum += x;
        }
        if (act) {
          const int32_t x = static_cast<int32_t>(sum);
          o[c] = relu ? (x > 0 ? x : 0) : fx::gelu(x);
        } else {
          ov.saturated += !fx::in_range(sum);
          o[c] = fx::saturate(sum);
        }
        zeros += o[c] == 0;
      }
    }
    mark_written(op.output, b, b + 1, r0, r1, op.out_col + c0, op.out_col + c1);
  }
  const uint64_t n = static_cast<uint64_t>((b1 - b0) * (r1 - r0) * (c1 - c0));
  read += static_cast<double>(n);
  record_output(op, n, zeros, jd);
}

const Op& Datapath::op_of(const proto::TileJob& job) const {
  if (job.op_id >= prog_.ops.size() || prog_.ops[job.op_id].id != job.op_id)
    throw std::invalid_argument("Datapath: the job's op id is not an op of the program");
  return prog_.ops[job.op_id];
}

JobData Datapath::run_lane_job(const proto::TileJob& job, uint64_t* effectual_macs,
                               PostSparsity* post) {
  return run_lane_job(op_of(job), job.block, loop_order_of(job.loop_order), job.first_tile,
                      job.tile_count, effectual_macs, post);
}

JobData Datapath::run_row_job(const proto::TileJob& job, PostSparsity* post) {
  return run_row_job(op_of(job), job.block, loop_order_of(job.loop_order), job.first_tile,
                     job.tile_count, post);
}

JobData Datapath::run_row_job(const Op& op, uint32_t block, const LoopOrder& order, uint64_t first,
                              uint64_t count, PostSparsity* post) {
  JobData jd;
  const BlockEnum be(op, block, order);
  if (first + count > be.tiles()) throw std::invalid_argument("Datapath: tiles beyond the block");
  auto& done = rows_done_[op.id];
  if (done.empty()) done.assign(static_cast<size_t>(op.grid_b * op.grid_i), 0);
  double zin = 0, rd = 0;
  for (uint64_t u = first; u < first + count; ++u) {
    const TileIndex t = be.at(u);
    uint8_t& d = done[static_cast<size_t>(t.b * op.grid_i + t.i)];
    if (d) continue;
    d = 1;
    row_panel(op, t.b, t.i, jd, zin, rd, post);
  }
  jd.a_sparsity = rd ? zin / rd : 0;
  op_progress(op, count);
  return jd;
}

void Datapath::row_panel(const Op& op, int64_t bt, int64_t it, JobData& jd, double& zeros_in,
                         double& read, PostSparsity* post) {
  const int64_t b0 = bt * tb_, b1 = std::min(b0 + tb_, op.b);
  const int64_t r0 = it * tx_, r1 = std::min(r0 + tx_, op.m);
  const int64_t R = r1 - r0, n = op.n;
  const Tensor& TI = prog_.tensors[op.inputs[0]];
  const Tensor& TO = prog_.tensors[op.output];
  scratch_.resize(static_cast<size_t>(R * n));
  uint64_t zeros = 0;
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t bi = TI.batch > 1 ? b : 0;
    check_written(op, TI.id, bi, bi + 1, r0, r1, 0, n);
    const int32_t* x = vals_[TI.id].data() + (bi * TI.rows + r0) * TI.cols;
    for (int64_t e = 0; e < R * n; ++e) zeros_in += x[e] == 0;
    read += static_cast<double>(R * n);
    int32_t* y = out_ptr(op, b, r0, 0);
    if (op.kind == OpKind::softmax) {  // padding keys (mask 0) get probability 0
      fx::softmax(x, y, static_cast<int>(R), static_cast<int>(n),
                  in_.attention_mask.empty() ? nullptr : in_.attention_mask[b].data());
    } else {
      const double eps = in_.weights->config.layer_norm_eps * std::ldexp(1.0, 48);
      fx::layer_norm(x, scratch_.data(), static_cast<int>(R), static_cast<int>(n),
                     std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(eps))));
      const int32_t* gb = vals_[op.inputs[1]].data();  // gamma row 0, beta row 1
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < n; ++c) {
          const int64_t v =
              int64_t{fx::mul(gb[c], scratch_[static_cast<size_t>(r * n + c)])} + gb[n + c];
          opv_[op.id].saturated += !fx::in_range(v);
          y[r * TO.cols + c] = fx::saturate(v);
        }
    }
    mark_written(op.output, b, b + 1, r0, r1, 0, n);
    zeros += op.prune ? prune_output(op, b, r0, r1, 0, n, post)
                      : output_zeros(op, b, b + 1, r0, r1, 0, n);
  }
  record_output(op, static_cast<uint64_t>((b1 - b0) * R * n), zeros, jd);
}

void Datapath::op_progress(const Op& op, uint64_t tiles) {
  tiles_done_[op.id] += tiles;
  if (tiles_done_[op.id] < op.tile_count()) return;
  acc_[op.id] = Acc{};
  rows_done_[op.id].clear();
  rows_done_[op.id].shrink_to_fit();
  for (TensorId t : op.inputs) {
    if (--readers_left_[t] > 0 || keep_[t]) continue;
    if (prog_.tensors[t].cls != TensorClass::activation) continue;
    vals_[t].clear();
    vals_[t].shrink_to_fit();
  }
}

void Datapath::pack_part(TensorId t, uint32_t part, std::vector<unsigned char>& out,
                         uint64_t& data_bytes, uint64_t& mask_bytes) const {
  const Tensor& T = prog_.tensors[t];
  const std::vector<int32_t>& v = vals_[t];
  if (v.empty())
    throw std::logic_error(fmt::format("functional data path: no values of {} to pack", T.name));
  const PartGrid g = part_grid(T);
  int64_t at[3];
  int64_t rest = part;
  for (int d = 2; d >= 0; --d) {
    at[d] = rest % g.count[d];
    rest /= g.count[d];
  }
  const int64_t b0 = at[0] * g.size[0], b1 = std::min(T.batch, b0 + g.size[0]);
  const int64_t r0 = at[1] * g.size[1], r1 = std::min(T.rows, r0 + g.size[1]);
  const int64_t c0 = at[2] * g.size[2], c1 = std::min(T.cols, c0 + g.size[2]);
  const uint64_t n = static_cast<uint64_t>((b1 - b0) * (r1 - r0) * (c1 - c0));
  uint64_t nnz = 0;
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c)
        nnz += v[static_cast<size_t>((b * T.rows + r) * T.cols + c)] != 0;
  data_bytes = (nnz * fx::kWordBits + 7) / 8;
  mask_bytes = (n + 7) / 8;
  out.assign(data_bytes + mask_bytes, 0);
  uint64_t acc = 0, e = 0;
  int held = 0;  // bits in acc
  size_t pos = 0;
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c, ++e) {
        const int32_t x = v[static_cast<size_t>((b * T.rows + r) * T.cols + c)];
        if (x == 0) continue;
        out[data_bytes + e / 8] |= static_cast<unsigned char>(1u << (e % 8));
        acc |= uint64_t{static_cast<uint32_t>(x) & ((1u << fx::kWordBits) - 1)} << held;
        for (held += fx::kWordBits; held >= 8; held -= 8, acc >>= 8)
          out[pos++] = static_cast<unsigned char>(acc & 0xff);
      }
  if (held > 0) out[pos] = static_cast<unsigned char>(acc & 0xff);
}

PruneSpec reference_spec(const PrunePolicy& p) {
  PruneSpec s;
  s.per_point = true;
  s.tau_before_scale = p.tau_before_fold;
  s.topk_above_kth = p.topk_above_kth;
  for (int k = 0; k < kTensorKinds; ++k) {
    const KindRule& r = p.rules[static_cast<size_t>(k)];
    PruneSpec::PointRule& q = s.point[static_cast<size_t>(k)];
    q.mode = r.mode == KindRule::Mode::off         ? PruneSpec::Mode::none
             : r.mode == KindRule::Mode::threshold ? PruneSpec::Mode::threshold
                                                   : PruneSpec::Mode::topk;
    q.tau = r.tau;
    q.k = r.k;
    q.k_fraction = r.k_fraction;
  }
  return s;
}

void prune_weights(BertWeights& w, const PrunePolicy& p) {
  if (p.weight_tau < 0) return;
  const auto tau = static_cast<float>(p.weight_tau);
  auto prune = [tau](FloatTensor& t) {
    for (float& x : t.data)
      if (std::fabs(x) <= tau) x = 0.0f;
  };
  for (BertLayerWeights& l : w.layers)
    for (FloatTensor* t : {&l.query_w, &l.key_w, &l.value_w, &l.attn_out_w, &l.inter_w, &l.out_w})
      prune(*t);
}

void add_class_sparsity(const Datapath& dp, FunctionalResult& f) {
  const PrunePolicy& policy = dp.policy();
  f.policy = policy.describe();
  uint64_t zeros = 0, elements = 0, unpadded_zeros = 0, unpadded_elements = 0;
  for (int k = 0; k < kTensorKinds; ++k) {
    const ClassCount& c = dp.class_counts()[static_cast<size_t>(k)];
    f.classes.push_back({tensor_kind_name(static_cast<TensorKind>(k)), c.elements, c.zeros,
                         c.unpadded_elements, c.unpadded_zeros});
    zeros += c.zeros;
    elements += c.elements;
    unpadded_zeros += c.unpadded_zeros;
    unpadded_elements += c.unpadded_elements;
  }
  if (policy.weight_tau >= 0) {  // the published code counts the pruned weights too
    const ClassCount& w = dp.weight_count();
    f.classes.push_back({"weights", w.elements, w.zeros, w.unpadded_elements, w.unpadded_zeros});
    zeros += w.zeros;
    elements += w.elements;
  }
  f.published_sparsity = elements ? static_cast<double>(zeros) / static_cast<double>(elements) : 0;
  f.unpadded_sparsity = unpadded_elements ? static_cast<double>(unpadded_zeros) /
                                                static_cast<double>(unpadded_elements)
                                          : 0;
  f.padding_tokens = 0;
  for (const auto& seq : dp.input().attention_mask)
    for (uint8_t m : seq) f.padding_tokens += m == 0;
}

void run_datapath(Datapath& dp, PostSparsity& post) {
  const Program& prog = dp.program();
  for (const Op& op : prog.ops) {
    const BlockGrid g = block_grid(op);
    for (uint32_t blk = 0; blk < g.blocks(); ++blk) {
      const uint64_t n = block_box(op, g, blk).tiles();
      if (op.kind == OpKind::softmax || op.kind == OpKind::layer_norm)
        dp.run_row_job(op, blk, prog.info.loop_order, 0, n, &post);
      else
        dp.run_lane_job(op, blk, prog.info.loop_order, 0, n, nullptr, &post);
    }
  }
}

}  // namespace acceltran
