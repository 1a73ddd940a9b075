// Lowering of a transformer to the operation graph and the tiled instruction stream.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "compiler.hpp"
#include "tiling.hpp"

namespace acceltran {

uint64_t zero_free_bytes(uint64_t elements, int word_bits, double sparsity) {
  // ceil(elements * word_bits * (1 - s) / 8), computed in bits to keep it exact for s = 0.
  long double bits = static_cast<long double>(elements) * word_bits * (1.0L - sparsity);
  return static_cast<uint64_t>(std::ceil(bits / 8.0L - 1e-9L));
}

namespace {

class Lowering {
 public:
  Lowering(const ModelDesc& model, const AcceleratorConfig& accel, const Technology& tech,
           const CompileOptions& opts)
      : model_(model), accel_(accel), opts_(opts) {
    auto& info = prog_.info;
    info.model = model.name;
    info.profile = opts.profile;
    info.accelerator = accel.name;
    info.seq_len = opts.seq_len;
    info.batch = opts.batch > 0 ? opts.batch : accel.batch_size;
    info.tile = accel.tile;
    info.loop_order = accel.loop_order;
    info.word_bits = tech.word_bits();
    info.activation_sparsity =
        opts.activation_sparsity >= 0 ? opts.activation_sparsity : tech.default_activation_sparsity;
    info.weight_sparsity =
        opts.weight_sparsity >= 0 ? opts.weight_sparsity : tech.default_weight_sparsity;
    info.tiles_per_instruction = opts.tiles_per_instruction;
    reference_ = opts.profile == "reference";
    B_ = info.batch;
    S_ = info.seq_len;
  }

  Program run() {
    validate();
    TensorId x = embeddings();
    int64_t width = model_.layers.empty() ? 0 : model_.layers[0].hidden;
    for (size_t l = 0; l < model_.layers.size(); ++l) x = layer(static_cast<int>(l), x, width);
    emit_store_m(x);
    return std::move(prog_);
  }

 private:
  // ---------------------------------------------------------------- checks
  void validate() {
    const auto& i = prog_.info;
    if (opts_.profile != "bert" && opts_.profile != "reference")
      throw InputError(
          fmt::format("profile '{}' unknown; allowed: bert, reference", opts_.profile));
    if (i.seq_len <= 0) throw InputError(fmt::format("seq_len {} must be > 0", i.seq_len));
    if (i.seq_len > model_.max_position)
      throw InputError(fmt::format("{}: seq_len {} exceeds max_position_embeddings {}",
                                   model_.source, i.seq_len, model_.max_position));
    if (i.batch < accel_.tile.b)
      throw InputError(
          fmt::format("batch {} is smaller than the tile's tile_b {}", i.batch, accel_.tile.b));
    for (double s : {i.activation_sparsity, i.weight_sparsity})
      if (!(s >= 0 && s < 1)) throw InputError(fmt::format("sparsity {} outside [0, 1)", s));
    if (model_.layers.empty())
      throw InputError(fmt::format("{}: model has no layers", model_.source));
  }

  // ---------------------------------------------------------------- tensors and ops
  TensorId tensor(std::string name, TensorClass cls, int layer, int64_t b, int64_t r, int64_t c,
                  double sparsity) {
    Tensor t;
    t.id = static_cast<TensorId>(prog_.tensors.size());
    t.name = std::move(name);
    t.cls = cls;
    t.layer = layer;
    t.batch = b;
    t.rows = r;
    t.cols = c;
    t.sparsity = sparsity;
    t.data_bytes = zero_free_bytes(t.elements(), prog_.info.word_bits, sparsity);
    t.mask_bytes = mask_bytes_for(t.elements());
    prog_.tensors.push_back(t);
    producer_.push_back(kNone);
    return t.id;
  }

  TensorId weight(const std::string& name, int layer, int64_t rows, int64_t cols) {
    // Reference profile: the published simulator gives every weight the batch dimension.
    return tensor(name, TensorClass::weight, layer, reference_ ? B_ : 1, rows, cols,
                  prog_.info.weight_sparsity);
  }

  double act_sparsity(bool pruned) const {
    return (reference_ || pruned) ? prog_.info.activation_sparsity : 0.0;
  }

  // Adds a matmul (b,m,k) x (b|1,k,n) -> (b,m,n) and emits its instructions.
  TensorId matmul(const std::string& name, int layer, int head, TensorId a, TensorId w, int64_t m,
                  int64_t k, int64_t n, bool b_batched, bool prune = true) {
    TensorId out = tensor(name, TensorClass::activation, layer, B_, m, n, act_sparsity(prune));
    Op op;
    op.kind = OpKind::matmul;
    op.name = name;
    op.layer = layer;
    op.head = head;
    op.inputs = {a, w};
    op.output = out;
    op.b = B_;
    op.m = m;
    op.k = k;
    op.n = n;
    op.b_operand_batched = b_batched || prog_.tensors[w].batch > 1;
    op.prune = prune;
    add_op(std::move(op));
    return out;
  }

  // Adds a non-matmul op over (B, m, n) blocks.
  TensorId unary(OpKind kind, const std::string& name, int layer, int head,
                 std::vector<TensorId> inputs, int64_t m, int64_t n, bool prune,
                 double out_sparsity) {
    TensorId out = tensor(name, TensorClass::activation, layer, B_, m, n, out_sparsity);
    Op op;
    op.kind = kind;
    op.name = name;
    op.layer = layer;
    op.head = head;
    op.inputs = std::move(inputs);
    op.output = out;
    op.b = B_;
    op.m = m;
    op.k = 1;
    op.n = n;
    op.prune = prune;
    add_op(std::move(op));
    return out;
  }

  void add_op(Op op) {
    op.id = static_cast<OpId>(prog_.ops.size());
    set_tile_grid(op, prog_.info.tile);
    prog_.ops.push_back(std::move(op));
    emit(prog_.ops.back());
  }

  // ---------------------------------------------------------------- instruction emission
  InstrId push(Instruction in, const std::vector<InstrId>& deps) {
    in.id = static_cast<InstrId>(prog_.instrs.size());
    in.dep_begin = static_cast<uint32_t>(prog_.deps.size());
    in.dep_count = static_cast<uint32_t>(deps.size());
    prog_.deps.insert(prog_.deps.end(), deps.begin(), deps.end());
    prog_.instrs.push_back(in);
    if (prog_.instrs.size() > opts_.max_instructions)
      throw InputError(fmt::format(
          "the instruction stream exceeds {} instructions; use a larger --tiles-per-instruction "
          "(0 = one instruction per op)",
          opts_.max_instructions));
    return in.id;
  }

  // Instruction that makes tensor t available: its LOAD_W (emitted on first use) or the
  // STORE_A of its producer.
  InstrId ready(TensorId t, OpId consumer) {
    if (producer_[t] != kNone) return producer_[t];
    const Tensor& ten = prog_.tensors[t];
    if (ten.cls == TensorClass::activation)
      throw std::logic_error(
          fmt::format("compiler bug: activation {} read before written", ten.name));
    Instruction in;
    in.opcode = Opcode::LOAD_W;
    in.op = consumer;
    in.tensor = t;
    in.data_bytes = ten.data_bytes;
    in.mask_bytes = ten.mask_bytes;
    producer_[t] = push(in, {});
    return producer_[t];
  }

  void emit(const Op& op) {
    std::vector<InstrId> deps;
    for (TensorId t : op.inputs) {
      InstrId d = ready(t, op.id);
      if (std::find(deps.begin(), deps.end(), d) == deps.end()) deps.push_back(d);
    }
    const uint64_t total = op.tile_count();
    const uint64_t chunk = opts_.tiles_per_instruction == 0 ? total : opts_.tiles_per_instruction;
    std::vector<InstrId> parts;
    for (uint64_t first = 0; first < total; first += chunk) {
      Instruction in;
      in.opcode = opcode_of(op.kind);
      in.op = op.id;
      in.tensor = op.output;
      in.first_tile = first;
      in.tile_count = std::min(chunk, total - first);
      parts.push_back(push(in, deps));
    }
    const Tensor& out = prog_.tensors[op.output];
    Instruction st;
    st.opcode = Opcode::STORE_A;
    st.op = op.id;
    st.tensor = op.output;
    st.data_bytes = out.data_bytes;
    st.mask_bytes = out.mask_bytes;
    producer_[op.output] = push(st, parts);
  }

  void emit_store_m(TensorId t) {
    const Tensor& ten = prog_.tensors[t];
    Instruction in;
    in.opcode = Opcode::STORE_M;
    in.tensor = t;
    in.data_bytes = ten.data_bytes;
    in.mask_bytes = ten.mask_bytes;
    push(in, {producer_[t]});
  }

  // ---------------------------------------------------------------- the model
  TensorId embeddings() {
    const int64_t h = model_.layers[0].hidden;
    const double ws = prog_.info.weight_sparsity;
    if (reference_) {
      // The published simulator loads the whole word-embedding table.
      TensorId table = tensor("emb.table", TensorClass::embedding, -1, 1, model_.vocab_size, h, ws);
      return unary(OpKind::layer_norm, "emb.ln", -1, -1, {table}, S_, h, false,
                   act_sparsity(false));
    }
    // Gather of the B*S word rows actually used, S position rows, the token-type rows.
    TensorId word = tensor("emb.word_rows", TensorClass::embedding, -1, B_, S_, h, ws);
    TensorId pos = tensor("emb.position_rows", TensorClass::embedding, -1, 1, S_, h, ws);
    TensorId type =
        tensor("emb.type_rows", TensorClass::embedding, -1, 1, model_.type_vocab, h, ws);
    TensorId sum = unary(OpKind::add, "emb.add", -1, -1, {word, pos, type}, S_, h, false, 0.0);
    return unary(OpKind::layer_norm, "emb.ln", -1, -1, {sum}, S_, h, false, 0.0);
  }

  TensorId layer(int l, TensorId x, int64_t& width) {
    const LayerDesc& L = model_.layers[l];
    const int64_t h = L.hidden;
    auto nm = [&](const std::string& s) { return fmt::format("L{}.{}", l, s); };
    if (width != h) {  // projection between layers of different hidden size
      TensorId w = weight(nm("proj_in.w"), l, width, h);
      x = matmul(nm("proj_in"), l, -1, x, w, S_, width, h, false);
      width = h;
    }
    std::vector<TensorId> head_outs;
    for (size_t hh = 0; hh < L.heads.size(); ++hh)
      head_outs.push_back(head(l, static_cast<int>(hh), L.heads[hh], x, h));
    std::vector<TensorId> sum_in;
    if (!reference_) sum_in.push_back(x);  // residual
    sum_in.insert(sum_in.end(), head_outs.begin(), head_outs.end());
    // Sum of the head outputs (and the residual) as a tree of two-input adds: each add needs
    // only three tensors on chip, and the tree is log2(heads) adds deep.
    int adds = 0;
    while (sum_in.size() > 1) {
      std::vector<TensorId> next;
      for (size_t n = 0; n + 1 < sum_in.size(); n += 2) {
        const bool last = sum_in.size() == 2;
        const std::string name = last ? nm("attn.add") : nm(fmt::format("attn.add{}", ++adds));
        next.push_back(unary(OpKind::add, name, l, -1, {sum_in[n], sum_in[n + 1]}, S_, h, false,
                             act_sparsity(false)));
      }
      if (sum_in.size() % 2) next.push_back(sum_in.back());
      sum_in.swap(next);
    }
    TensorId attn = sum_in[0];
    TensorId y =
        unary(OpKind::layer_norm, nm("attn.ln"), l, -1, {attn}, S_, h, false, act_sparsity(false));
    // Feed-forward stack h -> f1 -> ... -> fn -> h, GELU after each up-projection.
    TensorId cur = y;
    int64_t in_w = h;
    for (size_t n = 0; n < L.ffn.size() + 1; ++n) {
      bool down = n == L.ffn.size();
      int64_t out_w = down ? h : L.ffn[n];
      std::string base = down ? nm("ffn.down") : nm(fmt::format("ffn{}.up", n));
      TensorId w = weight(base + ".w", l, in_w, out_w);
      TensorId prod = matmul(base, l, -1, cur, w, S_, in_w, out_w, false);
      if (reference_) {
        // Published convention: an activation after every FFN product, sized from its input.
        cur = unary(OpKind::activation, base + ".act", l, -1, {prod}, S_, in_w, false,
                    act_sparsity(false));
      } else if (!down) {
        // GELU(0) = 0: the output keeps the pruned product's zeros.
        cur = unary(OpKind::activation, base + ".act", l, -1, {prod}, S_, out_w, false,
                    prog_.tensors[prod].sparsity);
      } else {
        cur = prod;
      }
      in_w = out_w;
    }
    TensorId res =
        reference_ ? cur : unary(OpKind::add, nm("ffn.add"), l, -1, {y, cur}, S_, h, false, 0.0);
    return unary(OpKind::layer_norm, nm("ffn.ln"), l, -1, {res}, S_, h, false, act_sparsity(false));
  }

  TensorId head(int l, int hh, const HeadDesc& hd, TensorId x, int64_t h) {
    const int64_t d = hd.dim;
    auto nm = [&](const std::string& s) { return fmt::format("L{}.H{}.{}", l, hh, s); };
    auto proj = [&](const char* what) {
      TensorId w = weight(nm(std::string(what) + ".w"), l, h, d);
      return matmul(nm(what), l, hh, x, w, S_, h, d, false);
    };
    TensorId ctx = kNone;
    switch (hd.type) {
      case HeadType::sdp:
      case HeadType::wma: {
        TensorId q = proj("q");
        TensorId k = proj("k");
        TensorId v = proj("v");
        if (hd.type == HeadType::wma) {  // weighted multiplicative: (Q Wa) K^T
          TensorId wa = weight(nm("wa.w"), l, d, d);
          q = matmul(nm("qwa"), l, hh, q, wa, S_, d, d, false);
        }
        // Q K^T: (B,S,d) x (B,d,S); the 1/sqrt(d) scaling is folded into Wq.
        TensorId s = matmul(nm("qk"), l, hh, q, k, S_, d, S_, true);
        TensorId p =
            unary(OpKind::softmax, nm("softmax"), l, hh, {s}, S_, S_, true, act_sparsity(true));
        ctx = matmul(nm("pv"), l, hh, p, v, S_, S_, d, true);
        break;
      }
      case HeadType::conv: {
        // Value projection, then a 1-D convolution over the sequence lowered by im2col:
        // (B,S,kernel*d) x (kernel*d,d).
        TensorId v = proj("v");
        TensorId wc = weight(nm("conv.w"), l, hd.kernel * d, d);
        ctx = matmul(nm("conv"), l, hh, v, wc, S_, hd.kernel * d, d, false);
        break;
      }
      case HeadType::dft:
      case HeadType::dct: {
        // Value projection, then the sequence transform (real part for the DFT), computed
        // transposed: (B,d,S) x (S,S) with the constant transform matrix as a weight.
        TensorId v = proj("v");
        TensorId f = weight(nm(hd.type == HeadType::dft ? "dft.w" : "dct.w"), l, S_, S_);
        ctx = matmul(nm(hd.type == HeadType::dft ? "dft" : "dct"), l, hh, v, f, d, S_, S_, false);
        break;
      }
    }
    TensorId wo = weight(nm("o.w"), l, d, h);
    return matmul(nm("o"), l, hh, ctx, wo, S_, d, h, false);
  }

  const ModelDesc& model_;
  const AcceleratorConfig& accel_;
  const CompileOptions& opts_;
  Program prog_;
  std::vector<InstrId> producer_;  // per tensor: instruction that makes it available
  bool reference_ = false;
  int64_t B_ = 1, S_ = 1;
};

}  // namespace

Program compile_program(const ModelDesc& model, const AcceleratorConfig& accel,
                        const Technology& tech, const CompileOptions& opts) {
  return Lowering(model, accel, tech, opts).run();
}

}  // namespace acceltran
