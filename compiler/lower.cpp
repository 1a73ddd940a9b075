// Lowering of a transformer to the operation graph and the tiled instruction stream.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/compiler/issue_groups.hpp"
#include "acceltran/compiler/parts.hpp"
#include "acceltran/compiler/tiling.hpp"

namespace acceltran {

namespace {

struct MatmulExtra {
  TensorId bias = kNone;        // added to the output (bert profile)
  TensorId into = kNone;        // write into this tensor (a head's slice of the concatenated heads)
  int64_t col = 0;              // first column of that slice
  std::string in_rows;          // Op::in_rows ("" = default)
  std::vector<int64_t> in_col;  // Op::in_col
  char out_rows = 'm';
};

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
    reference_ = opts.profile == Profile::reference;
    B_ = info.batch;
    S_ = info.seq_len;
  }

  Program run() {
    validate();
    TensorId x = embeddings();
    int64_t width = model_.layers.empty() ? 0 : model_.layers[0].hidden;
    const size_t layers = opts_.first_layer_only ? 1 : model_.layers.size();
    for (size_t l = 0; l < layers; ++l) x = layer(static_cast<int>(l), x, width);
    // Published (dict2ops.get_ops, first_layer_only): layer 0 still ends with its projection to
    // layer 1's width when the widths differ.
    if (reference_ && layers < model_.layers.size())
      x = reference_projection(static_cast<int>(layers), x, width);
    emit_store_m(x);
    // Profile hardware: N only changes the issue bookkeeping (docs/isa.md, "Issue groups"); the
    // reference profile emitted its pieces of N tiles (the published issue batch) already.
    if (!reference_ && opts_.tiles_per_instruction > 0) {
      if (split_instruction_count(prog_, opts_.tiles_per_instruction) > opts_.max_instructions)
        throw too_many_instructions();
      split_tile_jobs(prog_, opts_.tiles_per_instruction);
    }
    return std::move(prog_);
  }

 private:
  // ---------------------------------------------------------------- checks
  void validate() {
    const auto& i = prog_.info;
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
    if (!opts_.tensor_sparsity.empty()) {  // measured by a functional run
      const auto it = opts_.tensor_sparsity.find(t.name);
      if (it == opts_.tensor_sparsity.end())
        throw InputError(fmt::format(
            "{}: sparsity profile has no entry for tensor '{}' (made for another model, "
            "accelerator or profile?)",
            opts_.tensor_sparsity_source, t.name));
      t.sparsity = it->second;
    }
    t.data_bytes = zero_free_bytes(t.elements(), prog_.info.word_bits, t.sparsity);
    t.mask_bytes = mask_bytes_for(t.elements());
    if (!reference_ && cls != TensorClass::weight && r > 1) {
      // Row panels: tile_b batches x tile_x rows x all columns, the unit a block reads/writes.
      t.part_b = b > 1 ? prog_.info.tile.b : 0;
      t.part_rows = prog_.info.tile.x;
    }
    prog_.tensors.push_back(t);
    producer_.emplace_back();
    return t.id;
  }

  TensorId weight(const std::string& name, int layer, int64_t rows, int64_t cols) {
    // Reference profile: the published simulator gives every weight the batch dimension.
    return tensor(name, TensorClass::weight, layer, reference_ ? B_ : 1, rows, cols,
                  prog_.info.weight_sparsity);
  }

  // A small per-op parameter vector (bias, LayerNorm gamma and beta): 1 x rows x cols, read whole.
  TensorId params(const std::string& name, int layer, int64_t rows, int64_t cols) {
    return tensor(name, TensorClass::weight, layer, 1, rows, cols, 0.0);
  }

  double act_sparsity(bool pruned) const {
    return (reference_ || pruned) ? prog_.info.activation_sparsity : 0.0;
  }

  // Adds a matmul (b,m,k) x (b|1,k,n) -> (b,m,n) and emits its instructions.
  TensorId matmul(const std::string& name, int layer, int head, TensorId a, TensorId w, int64_t m,
                  int64_t k, int64_t n, bool b_batched, bool prune = true,
                  const MatmulExtra& x = MatmulExtra()) {
    TensorId out = x.into != kNone ? x.into
                                   : tensor(name, TensorClass::activation, layer, B_, m, n,
                                            act_sparsity(prune));
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
    op.in_rows = x.in_rows;
    op.in_col = x.in_col;
    op.out_rows = x.out_rows;
    op.out_col = x.col;
    if (x.bias != kNone) {
      op.inputs.push_back(x.bias);
      if (op.in_rows.empty()) op.in_rows = "mka";
    }
    add_op(std::move(op));
    return out;
  }

  // A linear layer of the bert profile: x (B,m,k) x W (k,n) + bias, pruned by DynaTran.
  // out_part_cols > 0: the output's parts are that many columns wide.
  TensorId linear(const std::string& name, int layer, int head, TensorId x, int64_t m, int64_t k,
                  int64_t n, int64_t out_part_cols = 0) {
    TensorId w = weight(name + ".w", layer, k, n);
    MatmulExtra e;
    e.bias = params(name + ".b", layer, 1, n);
    if (out_part_cols > 0) {
      e.into = tensor(name, TensorClass::activation, layer, B_, m, n, act_sparsity(true));
      prog_.tensors[e.into].part_cols = out_part_cols;
    }
    return matmul(name, layer, head, x, w, m, k, n, false, true, e);
  }

  // LayerNorm of the bert profile: reads gamma and beta (one 2 x h parameter tensor).
  TensorId layer_norm(const std::string& name, int layer, TensorId x, int64_t m, int64_t h) {
    TensorId gb = params(name + ".gb", layer, 2, h);
    return unary(OpKind::layer_norm, name, layer, -1, {x, gb}, m, h, false, 0.0, "ma");
  }

  // Adds a non-matmul op over (B, m, n) blocks.
  TensorId unary(OpKind kind, const std::string& name, int layer, int head,
                 std::vector<TensorId> inputs, int64_t m, int64_t n, bool prune,
                 double out_sparsity, std::string in_rows = "") {
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
    op.in_rows = std::move(in_rows);
    add_op(std::move(op));
    return out;
  }

  void add_op(Op op) {
    op.id = static_cast<OpId>(prog_.ops.size());
    set_tile_grid(op, prog_.info.tile);
    prog_.ops.push_back(std::move(op));
    if (reference_)
      emit(prog_.ops.back());
    else
      emit_blocked(prog_.ops.back());
  }

  // ---------------------------------------------------------------- buffer-level blocks
  // Splits `op` into blocks whose working set fits block_budget of each buffer: weights are split
  // along n (then k) when the weight or mask buffer overflows, activations along b, then i (then
  // j, k for matmuls). Softmax and layer norm reduce over a whole row: never split along j.
  void choose_blocks(Op& op) {
    const double f = opts_.block_budget;
    if (f <= 0) return;  // no blocking: every op one block (size estimates)
    const uint64_t cap_a = static_cast<uint64_t>(accel_.activation_buffer_mb * 1048576.0 * f);
    const uint64_t cap_w = static_cast<uint64_t>(accel_.weight_buffer_mb * 1048576.0 * f);
    const uint64_t cap_m = static_cast<uint64_t>(accel_.mask_buffer_mb * 1048576.0 * f);
    const bool mm = op.kind == OpKind::matmul;
    const int64_t tx = prog_.info.tile.x, ty = prog_.info.tile.y;
    op.blk_b = op.grid_b;
    op.blk_i = op.grid_i;
    op.blk_j = op.grid_j;
    op.blk_k = op.grid_k;
    for (;;) {
      for (size_t n = 0; n < op.inputs.size(); ++n) {  // weights: one part per (k, n) block
        Tensor& t = prog_.tensors[op.inputs[n]];
        if (t.cls == TensorClass::weight && input_mode(op, n) == 'k' && mm) {
          t.part_rows = op.blk_k < op.grid_k ? op.blk_k * tx : 0;
          t.part_cols = op.blk_j < op.grid_j ? op.blk_j * ty : 0;
        }
      }
      const BlockBox box = block_box(op, 0);  // the first block is the largest
      const WorkingSet ws = block_working_set(prog_, op, box);
      const bool over_a = ws.activation_bytes > cap_a, over_w = ws.weight_bytes > cap_w;
      const bool over_m = ws.mask_bytes > cap_m;
      if (!over_a && !over_w && !over_m) return;
      int64_t* dims[4] = {&op.blk_b, &op.blk_i, &op.blk_j, &op.blk_k};
      std::vector<int> order;
      const bool weight_heavy = over_w || (over_m && ws.weight_bytes > ws.activation_bytes);
      if (mm && weight_heavy)
        order = {2, 3, 0, 1};
      else if (mm)
        order = {0, 1, 2, 3};
      else
        order = {0, 1};
      int pick = -1;
      for (int d : order)
        if (*dims[d] > 1) {
          pick = d;
          break;
        }
      if (pick < 0) {
        const char* which = over_a ? "activation" : over_w ? "weight" : "mask";
        const uint64_t need = over_a   ? ws.activation_bytes
                              : over_w ? ws.weight_bytes
                                       : ws.mask_bytes;
        const uint64_t cap = over_a ? cap_a : over_w ? cap_w : cap_m;
        const double mb = over_a   ? accel_.activation_buffer_mb
                          : over_w ? accel_.weight_buffer_mb
                                   : accel_.mask_buffer_mb;
        throw InputError(fmt::format(
            "{}: op '{}' cannot be split to fit the {} buffer: its smallest block (one tile, with "
            "whole rows for softmax / layer norm) needs {} bytes, but a block may use {} bytes "
            "({} of the {} MB buffer); use a larger {}_buffer_mb, a smaller tile or a shorter "
            "sequence",
            accel_.source, op.name, which, need, cap, f, mb, which));
      }
      *dims[pick] = (*dims[pick] + 1) / 2;
    }
  }

  // Default profile: after the buffers are satisfied, splits the op's rows (b, then i) further
  // until it has pipeline_blocks row blocks, so that a consumer starts on the rows its producer
  // has finished, as long as a block still gives every engine unit of the op's class at least
  // two tiles (smaller blocks would leave units idle). An op whose weights are cut into blocks
  // keeps its rows whole: every row block would read every weight block again, so all of them
  // would stay live for the whole op instead of one at a time.
  void split_for_pipeline(Op& op) {
    if (opts_.pipeline_blocks <= 1 || opts_.block_budget <= 0) return;
    const uint64_t units = engine_units(op.kind);
    if (weights_cut_into_blocks(op)) return;
    for (;;) {
      const BlockGrid g = block_grid(op);
      if (g.count[0] * g.count[1] >= opts_.pipeline_blocks) return;
      if (block_box(op, g, 0).tiles() < 4 * units)
        return;  // halves would hold < 2 per unit  // halves would hold < 2 per unit
      int64_t& dim = g.size[0] > 1 ? op.blk_b : op.blk_i;
      const int64_t size = g.size[0] > 1 ? g.size[0] : g.size[1];
      if (size <= 1) return;
      dim = (size + 1) / 2;
    }
  }

  bool weights_cut_into_blocks(const Op& op) const {
    if (op.kind != OpKind::matmul) return false;
    const BlockGrid g = block_grid(op);
    if (g.count[2] * g.count[3] == 1) return false;
    for (TensorId t : op.inputs)
      if (prog_.tensors[t].cls == TensorClass::weight) return true;
    return false;
  }

  uint64_t engine_units(OpKind kind) const {
    switch (kind) {
      case OpKind::softmax:
        return static_cast<uint64_t>(accel_.pe) * static_cast<uint64_t>(accel_.softmax_per_pe);
      case OpKind::layer_norm:
        return static_cast<uint64_t>(accel_.pe) * static_cast<uint64_t>(accel_.layer_norm_per_pe);
      default:
        return static_cast<uint64_t>(accel_.total_lanes());
    }
  }

  static uint64_t part_key(TensorId t, uint32_t part) {
    return (static_cast<uint64_t>(t) << 32) | part;
  }

  // LOAD_W of one part of a weight or embedding tensor, emitted on its first use.
  InstrId load_part(TensorId t, uint32_t part, OpId consumer) {
    auto [it, fresh] = loads_.try_emplace(part_key(t, part), kNone);
    if (!fresh) return it->second;
    const Tensor& ten = prog_.tensors[t];
    const PartGrid g = part_grid(ten);
    Instruction in;
    in.opcode = Opcode::LOAD_W;
    in.op = consumer;
    in.tensor = t;
    in.part = part;
    in.data_bytes = part_data_bytes(ten, g, part, prog_.info.word_bits);
    in.mask_bytes = part_mask_bytes(ten, g, part);
    it->second = push(in, {});
    return it->second;
  }

  // Default profile: the op's blocks, each with the LOAD_W of its weight parts and one tile-job
  // instruction (split into pieces of --tiles-per-instruction tiles once the stream is complete:
  // issue_groups.hpp). A block depends on the tile jobs that write the input parts it reads (so
  // a consumer block can start as soon as its rows exist) and, for k > 0, on the previous k
  // block (partial sums). Outputs are written tile by tile into the activation buffer: no
  // STORE_A.
  void emit_blocked(Op& op) {
    choose_blocks(op);
    split_for_pipeline(op);
    const BlockGrid g = block_grid(op);
    std::vector<InstrId> deps;
    InstrId previous_block = kNone;
    for (uint64_t blk = 0; blk < g.blocks(); ++blk) {
      const BlockBox box = block_box(op, g, blk);
      block_dependencies(op, box, deps);
      if (box.k0 > 0) deps.push_back(previous_block);
      std::sort(deps.begin(), deps.end());
      deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
      Instruction in;
      in.opcode = opcode_of(op.kind);
      in.op = op.id;
      in.tensor = op.output;
      in.block = static_cast<uint32_t>(blk);
      in.first_tile = 0;
      in.tile_count = box.tiles();
      previous_block = push(in, deps);
      // Writers are registered after the block: its tiles never wait for each other.
      for_each_part(
          part_grid(prog_.tensors[op.output]), output_box(prog_, op, box),
          [&](uint32_t p) { writers_[part_key(op.output, p)].push_back(previous_block); });
    }
  }

  // The instructions the tiles of `box` wait for: the LOAD_W of every weight or embedding part
  // they read (emitted on its first use), the tile jobs that write every activation part.
  void block_dependencies(const Op& op, const BlockBox& box, std::vector<InstrId>& deps) {
    deps.clear();
    for (size_t n = 0; n < op.inputs.size(); ++n) {
      const TensorId t = op.inputs[n];
      const bool act = prog_.tensors[t].cls == TensorClass::activation;
      for_each_part(part_grid(prog_.tensors[t]), input_box(prog_, op, n, box), [&](uint32_t p) {
        if (!act) {
          deps.push_back(load_part(t, p, op.id));
          return;
        }
        auto it = writers_.find(part_key(t, p));
        if (it == writers_.end())
          throw std::logic_error(fmt::format("compiler bug: {} part {} read before written",
                                             prog_.tensors[t].name, p));
        deps.insert(deps.end(), it->second.begin(), it->second.end());
      });
    }
  }

  // ---------------------------------------------------------------- instruction emission
  InstrId push(const Instruction& in, const std::vector<InstrId>& deps) {
    const InstrId id = append_instruction(prog_, in, deps.data(), deps.data() + deps.size());
    if (prog_.instrs.size() > opts_.max_instructions) throw too_many_instructions();
    return id;
  }

  InputError too_many_instructions() const {
    return InputError(fmt::format(
        "the instruction stream exceeds {} instructions; use a larger --tiles-per-instruction "
        "(0 = one instruction per op)",
        opts_.max_instructions));
  }

  // Instructions that make tensor t available: its LOAD_W (emitted on first use), the STORE_A
  // of its producer or, for an output the published graph never stores, its tile jobs.
  const std::vector<InstrId>& ready(TensorId t, OpId consumer) {
    if (!producer_[t].empty()) return producer_[t];
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
    producer_[t] = {push(in, {})};
    return producer_[t];
  }

  void emit(const Op& op) {
    std::vector<InstrId> deps;
    // Published bug (ops.py), when asked for: layer norms wait for nothing and the Q/K/V
    // projections only for their weights.
    const std::string& nm = op.name;
    const bool qkv =
        op.head >= 0 && nm.size() > 2 &&
        (nm.compare(nm.size() - 2, 2, ".q") == 0 || nm.compare(nm.size() - 2, 2, ".k") == 0 ||
         nm.compare(nm.size() - 2, 2, ".v") == 0);
    const bool skip_inputs =
        opts_.published.published_deps && (op.kind == OpKind::layer_norm || qkv);
    for (TensorId t : op.inputs) {
      if (skip_inputs && prog_.tensors[t].cls != TensorClass::weight) {
        if (producer_[t].empty()) ready(t, op.id);  // an embedding table is still loaded
        continue;
      }
      for (InstrId d : ready(t, op.id))
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
    // Published bug (dict2ops.py), when asked for: layer-norm, activation and add outputs are
    // never stored; their readers wait for the tile jobs.
    const bool stored =
        !opts_.published.unstored_outputs ||
        (op.kind != OpKind::layer_norm && op.kind != OpKind::activation && op.kind != OpKind::add);
    if (!stored) {
      producer_[op.output] = parts;
      return;
    }
    const Tensor& out = prog_.tensors[op.output];
    Instruction st;
    st.opcode = Opcode::STORE_A;
    st.op = op.id;
    st.tensor = op.output;
    st.data_bytes = out.data_bytes;
    st.mask_bytes = out.mask_bytes;
    producer_[op.output] = {push(st, parts)};
  }

  void emit_store_m(TensorId t) {
    const Tensor& ten = prog_.tensors[t];
    if (!reference_) {  // one STORE_M per part, as soon as the tiles writing it are done
      const PartGrid g = part_grid(ten);
      for (uint32_t p = 0; p < g.parts(); ++p) {
        Instruction in;
        in.opcode = Opcode::STORE_M;
        in.tensor = t;
        in.part = p;
        in.data_bytes = part_data_bytes(ten, g, p, prog_.info.word_bits);
        in.mask_bytes = part_mask_bytes(ten, g, p);
        push(in, writers_[part_key(t, p)]);
      }
      return;
    }
    // Published: nothing is written back; the run ends with the last compute op.
    if (!fixes().store_output) return;
    Instruction in;
    in.opcode = Opcode::STORE_M;
    in.tensor = t;
    in.data_bytes = ten.data_bytes;
    in.mask_bytes = ten.mask_bytes;
    push(in, producer_[t]);
  }

  // ---------------------------------------------------------------- the model
  TensorId embeddings() {
    const int64_t h = model_.layers[0].hidden;
    const double ws = prog_.info.weight_sparsity;
    if (reference_) {
      // The published simulator loads the whole word-embedding table and the S position rows
      // as one tensor, without the batch dimension, and has no embedding layer norm: the first
      // layer reads the table.
      TensorId table =
          tensor("emb.table", TensorClass::embedding, -1, 1, model_.vocab_size + S_, h, ws);
      if (!fixes().emb_ln) {
        // Published: `emb` is the first memory op; its consumer is the next op (the first
        // layer's first projection).
        ready(table, static_cast<OpId>(prog_.ops.size()));
        return table;
      }
      return unary(OpKind::layer_norm, "emb.ln", -1, -1, {table}, S_, h, false,
                   act_sparsity(false));
    }
    // Gather of the B*S word rows actually used, S position rows, the token-type rows.
    TensorId word = tensor("emb.word_rows", TensorClass::embedding, -1, B_, S_, h, ws);
    TensorId pos = tensor("emb.position_rows", TensorClass::embedding, -1, 1, S_, h, ws);
    TensorId type =
        tensor("emb.type_rows", TensorClass::embedding, -1, 1, model_.type_vocab, h, ws);
    prog_.tensors[type].part_rows = 0;  // two rows: read whole by every block
    if (opts_.attention_mask)  // one bit per token: all its bytes are mask bytes (sparsity 1)
      attn_mask_ = tensor("attn.mask", TensorClass::weight, -1, 1, B_, S_, 1.0);
    TensorId sum =
        unary(OpKind::add, "emb.add", -1, -1, {word, pos, type}, S_, h, false, 0.0, "mma");
    return layer_norm("emb.ln", -1, sum, S_, h);
  }

  TensorId layer(int l, TensorId x, int64_t& width) {
    if (reference_) return reference_layer(l, x, width);
    const LayerDesc& L = model_.layers[l];
    const int64_t h = L.hidden;
    auto nm = [&](const std::string& s) { return fmt::format("L{}.{}", l, s); };
    if (width != h) {  // projection between layers of different hidden size
      x = linear(nm("proj_in"), l, -1, x, S_, width, h);
      width = h;
    }
    // One fused projection computes Q, K and V of every head (x . [Wq Wk Wv ...]); every head
    // reads its slices and writes its context into its slice of one concatenated tensor; one
    // h x h output projection (pruned once), the residual add and LayerNorm follow.
    int64_t cat = 0, proj = 0;
    for (const auto& hd : L.heads) {
      cat += hd.dim;
      proj += (hd.type == HeadType::sdp || hd.type == HeadType::wma ? 3 : 1) * hd.dim;
    }
    // Heads read and write their own column slices: both tensors are cut into parts one head
    // slice wide (the gcd of the head dims), so a head loads only its slices.
    int64_t slice = 0;
    for (const auto& hd : L.heads) slice = std::gcd(slice, hd.dim);
    TensorId qkv = linear(nm("attn.qkv"), l, -1, x, S_, h, proj, slice);
    TensorId ctx =
        tensor(nm("attn.ctx"), TensorClass::activation, l, B_, S_, cat, act_sparsity(true));
    prog_.tensors[ctx].part_cols = slice;
    int64_t col = 0, qcol = 0;
    for (size_t hh = 0; hh < L.heads.size(); ++hh) {
      const HeadDesc& hd = L.heads[hh];
      head(l, static_cast<int>(hh), hd, qkv, h, ctx, col, qcol);
      col += hd.dim;
      qcol += (hd.type == HeadType::sdp || hd.type == HeadType::wma ? 3 : 1) * hd.dim;
    }
    TensorId o = linear(nm("attn.o"), l, -1, ctx, S_, cat, h);
    TensorId attn = unary(OpKind::add, nm("attn.add"), l, -1, {x, o}, S_, h, false, 0.0);
    TensorId y = layer_norm(nm("attn.ln"), l, attn, S_, h);
    // Feed-forward stack h -> f1 -> ... -> fn -> h, GELU after each up-projection.
    TensorId cur = y;
    int64_t in_w = h;
    for (size_t n = 0; n < L.ffn.size() + 1; ++n) {
      const bool down = n == L.ffn.size();
      const int64_t out_w = down ? h : L.ffn[n];
      const std::string base = down ? nm("ffn.down") : nm(fmt::format("ffn{}.up", n));
      TensorId prod = linear(base, l, -1, cur, S_, in_w, out_w);
      // GELU(0) = 0: the output keeps the pruned product's zeros.
      cur = down ? prod
                 : unary(OpKind::activation, base + ".act", l, -1, {prod}, S_, out_w, false,
                         prog_.tensors[prod].sparsity);
      in_w = out_w;
    }
    TensorId res = unary(OpKind::add, nm("ffn.add"), l, -1, {y, cur}, S_, h, false, 0.0);
    return layer_norm(nm("ffn.ln"), l, res, S_, h);
  }

  // Reference profile: the projection into layer l when its width differs from `width` (the
  // published ff_<l>_proj after ln_<l-1>_2), followed by an activation sized from its input.
  TensorId reference_projection(int l, TensorId x, int64_t& width) {
    const int64_t h = model_.layers[l].hidden;
    if (width == h) return x;
    auto nm = [&](const std::string& s) { return fmt::format("L{}.{}", l, s); };
    TensorId w = weight(nm("proj_in.w"), l, width, h);
    x = matmul(nm("proj_in"), l, -1, x, w, S_, width, h, false);
    x = unary(OpKind::activation, nm("proj_in.act"), l, -1, {x}, S_, width, false,
              act_sparsity(false));
    width = h;
    return x;
  }

  // The published simulator's layer (reference profile): per-head output projections summed by
  // element-wise adds, no residual adds, an activation after every FFN product.
  TensorId reference_layer(int l, TensorId x, int64_t& width) {
    const LayerDesc& L = model_.layers[l];
    const int64_t h = L.hidden;
    auto nm = [&](const std::string& s) { return fmt::format("L{}.{}", l, s); };
    x = reference_projection(l, x, width);
    std::vector<TensorId> head_outs;
    const InstrId heads_begin = static_cast<InstrId>(prog_.instrs.size());
    const size_t heads_deps_begin = prog_.deps.size();
    for (size_t hh = 0; hh < L.heads.size(); ++hh)
      head_outs.push_back(head(l, static_cast<int>(hh), L.heads[hh], x, h, kNone, 0, 0));
    if (!fixes().serial_heads) interleave_heads(heads_begin, heads_deps_begin);
    std::vector<TensorId> sum_in = head_outs;
    // Published: the head outputs are not summed; ln_<l>_1 follows the heads (it reads the last
    // head's output here).
    if (!fixes().head_sum) sum_in = {head_outs.back()};
    // Sum of the head outputs as a tree of two-input adds: each add needs only three tensors on
    // chip, and the tree is log2(heads) adds deep.
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
    // Published convention: an activation after every FFN product, sized from its input.
    TensorId cur = y;
    int64_t in_w = h;
    for (size_t n = 0; n < L.ffn.size() + 1; ++n) {
      bool down = n == L.ffn.size();
      int64_t out_w = down ? h : L.ffn[n];
      std::string base = down ? nm("ffn.down") : nm(fmt::format("ffn{}.up", n));
      TensorId w = weight(base + ".w", l, in_w, out_w);
      TensorId prod = matmul(base, l, -1, cur, w, S_, in_w, out_w, false);
      cur = unary(OpKind::activation, base + ".act", l, -1, {prod}, S_, in_w, false,
                  act_sparsity(false));
      in_w = out_w;
    }
    return unary(OpKind::layer_norm, nm("ffn.ln"), l, -1, {cur}, S_, h, false, act_sparsity(false));
  }

  // One attention head. Reference profile: projects `x` and returns the head's own h-wide output
  // projection. Default profile: `x` is the fused Q/K/V tensor; writes the head's context into
  // columns [col, col + d) of `ctx` and returns it (the output projection is shared).
  TensorId head(int l, int hh, const HeadDesc& hd, TensorId x, int64_t h, TensorId ctx_all,
                int64_t col, int64_t qcol) {
    const int64_t d = hd.dim;
    auto nm = [&](const std::string& s) { return fmt::format("L{}.H{}.{}", l, hh, s); };
    std::vector<TensorId> early_w;  // q, k, v weights loaded ahead (reference profile)
    // Reference profile: one projection per head and matrix. Default profile: the slices of the
    // layer's fused Q/K/V projection `x`.
    auto proj = [&](const char* what) {
      if (!reference_) return x;
      const std::string wn = nm(std::string(what) + ".w");
      auto it = std::find_if(early_w.begin(), early_w.end(),
                             [&](TensorId t) { return prog_.tensors[t].name == wn; });
      TensorId w = it != early_w.end() ? *it : weight(wn, l, h, d);
      return matmul(nm(what), l, hh, x, w, S_, h, d, false);
    };
    // Published memory order (ops.py): a head loads its q, k and v weights before its first
    // store, so k and v load while q computes.
    if (reference_ && !fixes().loads_per_op &&
        (hd.type == HeadType::sdp || hd.type == HeadType::wma)) {
      const OpId first = static_cast<OpId>(prog_.ops.size());  // q, k, v are the next three ops
      for (const char* what : {"q", "k", "v"}) {
        early_w.push_back(weight(nm(std::string(what) + ".w"), l, h, d));
        ready(early_w.back(), first + static_cast<OpId>(early_w.size() - 1));
      }
    }
    MatmulExtra into;  // the last product of the head writes its slice of the concatenation
    into.into = ctx_all;
    into.col = col;
    TensorId ctx = kNone;
    switch (hd.type) {
      case HeadType::sdp:
      case HeadType::wma: {
        // Default profile: Q, K, V are columns [qcol, +d), [qcol + d, +d), [qcol + 2d, +d) of
        // the fused tensor.
        TensorId q = proj("q");
        TensorId k = proj("k");
        TensorId v = proj("v");
        int64_t q_col = qcol;
        const int64_t k_col = qcol + d, v_col = qcol + 2 * d;
        if (hd.type == HeadType::wma) {  // weighted multiplicative: (Q Wa) K^T
          TensorId wa = weight(nm("wa.w"), l, d, d);
          MatmulExtra qw;
          if (!reference_) qw.in_col = {q_col, 0};
          q = matmul(nm("qwa"), l, hh, q, wa, S_, d, d, false, true, qw);
          q_col = 0;
        }
        // Q K^T: (B,S,d) x (B,d,S); the 1/sqrt(d) scaling is folded into Wq. K is read
        // transposed: its rows follow the output columns.
        MatmulExtra qk;
        qk.in_rows = "mn";
        if (!reference_) qk.in_col = {q_col, k_col};
        TensorId s = matmul(nm("qk"), l, hh, q, k, S_, d, S_, true, true, qk);
        // With padding, the softmax also reads the attention mask, whole (its bits only).
        TensorId p = attn_mask_ != kNone
                         ? unary(OpKind::softmax, nm("softmax"), l, hh, {s, attn_mask_}, S_, S_,
                                 true, act_sparsity(true), "ma")
                         : unary(OpKind::softmax, nm("softmax"), l, hh, {s}, S_, S_, true,
                                 act_sparsity(true));
        into.in_rows = "mk";
        if (!reference_) into.in_col = {0, v_col};
        ctx = matmul(nm("pv"), l, hh, p, v, S_, S_, d, true, true, into);
        break;
      }
      case HeadType::conv: {
        // Value projection, then a 1-D convolution over the sequence lowered by im2col:
        // (B,S,kernel*d) x (kernel*d,d).
        TensorId v = proj("v");
        TensorId wc = weight(nm("conv.w"), l, hd.kernel * d, d);
        into.in_rows = "mk";
        if (!reference_) into.in_col = {qcol, 0};
        ctx = matmul(nm("conv"), l, hh, v, wc, S_, hd.kernel * d, d, false, true, into);
        break;
      }
      case HeadType::dft:
      case HeadType::dct: {
        // Value projection, then the sequence transform (real part for the DFT), computed
        // transposed: (B,d,S) x (S,S) with the constant transform matrix as a weight.
        TensorId v = proj("v");
        TensorId f = weight(nm(hd.type == HeadType::dft ? "dft.w" : "dct.w"), l, S_, S_);
        into.in_rows = "ak";  // V (its slice of the fused tensor) read whole, transposed
        into.out_rows = 'a';  // the transposed result lands across the whole slice
        ctx = matmul(nm(hd.type == HeadType::dft ? "dft" : "dct"), l, hh, v, f, d, S_, S_, false,
                     true, into);
        break;
      }
    }
    if (!reference_) return ctx;
    TensorId wo = weight(nm("o.w"), l, d, h);
    return matmul(nm("o"), l, hh, ctx, wo, S_, d, h, false);
  }

  const ModelDesc& model_;
  const AcceleratorConfig& accel_;
  const CompileOptions& opts_;
  Program prog_;
  TensorId attn_mask_ = kNone;  // the attention mask (CompileOptions::attention_mask)
  const PublishedBehaviours& fixes() const { return opts_.published; }

  // Published: the heads of a layer are concurrent lists, each issuing one memory op and a batch
  // of tiles per cycle. Here: the instructions [begin, end) of the layer's heads interleaved,
  // one instruction of each head in turn, each head's own order kept (heads share no data, so
  // every dependency still points backwards). Their dependency lists start at `deps_begin`.
  void interleave_heads(InstrId begin, size_t deps_begin) {
    const InstrId end = static_cast<InstrId>(prog_.instrs.size());
    const std::vector<InstrId> order = head_round_robin(begin, end);
    if (order.empty()) return;
    std::vector<InstrId> new_id(end - begin);
    for (size_t n = 0; n < order.size(); ++n) new_id[order[n] - begin] = begin + n;
    auto remap = [&](InstrId d) { return d >= begin && d < end ? new_id[d - begin] : d; };
    // The instructions in their new order, their lists remapped; then stored again.
    std::vector<Instruction> instrs;
    std::vector<InstrId> deps;
    std::vector<size_t> list_begin;
    for (InstrId old : order) {
      const Instruction& in = prog_.instrs[old];
      list_begin.push_back(deps.size());
      for (auto d = prog_.deps_begin(in); d != prog_.deps_end(in); ++d) deps.push_back(remap(*d));
      instrs.push_back(in);
    }
    list_begin.push_back(deps.size());
    prog_.instrs.resize(begin);
    prog_.deps.resize(deps_begin);
    for (size_t n = 0; n < instrs.size(); ++n)
      append_instruction(prog_, instrs[n], deps.data() + list_begin[n],
                         deps.data() + list_begin[n + 1]);
    for (auto& ids : producer_)
      for (InstrId& d : ids) d = remap(d);
  }

  // The instructions [begin, end), one of each head in turn (empty: fewer than two heads).
  std::vector<InstrId> head_round_robin(InstrId begin, InstrId end) const {
    std::vector<std::vector<InstrId>> lists;
    std::vector<int> heads;
    for (InstrId i = begin; i < end; ++i) {
      const int hh = prog_.ops[prog_.instrs[i].op].head;
      auto it = std::find(heads.begin(), heads.end(), hh);
      if (it == heads.end()) {
        heads.push_back(hh);
        lists.emplace_back();
        it = heads.end() - 1;
      }
      lists[it - heads.begin()].push_back(i);
    }
    std::vector<InstrId> order;
    if (lists.size() < 2) return order;
    for (size_t n = 0; order.size() < end - begin; ++n)
      for (const auto& li : lists)
        if (n < li.size()) order.push_back(li[n]);
    return order;
  }

  // Per tensor: the instructions that make it available (reference profile).
  std::vector<std::vector<InstrId>> producer_;
  std::unordered_map<uint64_t, std::vector<InstrId>> writers_;  // (tensor, part) -> tile jobs
  std::unordered_map<uint64_t, InstrId> loads_;                 // (tensor, part) -> its LOAD_W
  bool reference_ = false;
  int64_t B_ = 1, S_ = 1;
};

}  // namespace

Program compile_program(const ModelDesc& model, const AcceleratorConfig& accel,
                        const Technology& tech, const CompileOptions& opts) {
  return Lowering(model, accel, tech, opts).run();
}

}  // namespace acceltran
