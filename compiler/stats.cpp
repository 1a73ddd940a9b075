#include "acceltran/compiler/stats.hpp"

#include <fmt/format.h>

#include <cctype>
#include <string>

namespace acceltran {

ProgramStats compute_stats(const Program& p) {
  ProgramStats s;
  s.ops = p.ops.size();
  const auto& t = p.info.tile;
  const uint64_t tile_macs = static_cast<uint64_t>(t.b) * t.x * t.y * t.y;
  for (const auto& op : p.ops) {
    auto& L = s.layers[op.layer];
    L.ops += 1;
    L.macs += op.macs();
    s.macs += op.macs();
  }
  // Activations: every op output written once into the activation buffer (as a whole STORE_A
  // in the reference profile, tile by tile in the default profile).
  for (const auto& ten : p.tensors)
    if (ten.cls == TensorClass::activation) {
      s.activation_store_bytes += ten.data_bytes;
      s.layers[ten.layer].activation_bytes += ten.data_bytes;
    }
  for (const auto& in : p.instrs) {
    s.instructions[static_cast<int>(in.opcode)] += 1;
    if (is_compute(in.opcode)) {
      s.tiles[static_cast<int>(in.opcode)] += in.tile_count;
      const Op& op = p.ops[in.op];
      s.layers[op.layer].tiles += in.tile_count;
      if (in.opcode == Opcode::MATMUL) s.padded_macs += in.tile_count * tile_macs;
      continue;
    }
    const Tensor& ten = p.tensors[in.tensor];
    s.mask_bytes += in.mask_bytes;
    auto& L = s.layers[ten.layer];
    switch (in.opcode) {
      case Opcode::LOAD_W:
        (ten.cls == TensorClass::embedding ? s.embedding_bytes : s.weight_bytes) += in.data_bytes;
        L.weight_bytes += in.data_bytes;
        break;
      case Opcode::STORE_M:
        s.output_bytes += in.data_bytes;
        break;
      default:
        break;
    }
  }
  return s;
}

uint64_t program_bytes(const Program& p) {
  uint64_t bytes = sizeof(Program) + p.instrs.size() * sizeof(Instruction) +
                   p.deps.size() * sizeof(InstrId) + p.tensors.size() * sizeof(Tensor) +
                   p.ops.size() * sizeof(Op);
  for (const Tensor& t : p.tensors) bytes += t.name.size();
  for (const Op& op : p.ops)
    bytes += op.name.size() + op.in_rows.size() + op.inputs.size() * sizeof(TensorId) +
             op.in_col.size() * sizeof(int64_t);
  return bytes;
}

}  // namespace acceltran

namespace acceltran {

namespace {

// "L<l>.H<h>.<what>" -> (l, h, what); "L<l>.<what>" -> (l, -1, what). False for "emb.*".
bool split_name(const std::string& name, int* layer, int* head, std::string* what) {
  if (name.size() < 3 || name[0] != 'L') return false;
  size_t dot = name.find('.');
  if (dot == std::string::npos) return false;
  *layer = std::stoi(name.substr(1, dot - 1));
  *head = -1;
  std::string rest = name.substr(dot + 1);
  if (rest.size() > 1 && rest[0] == 'H' && std::isdigit(static_cast<unsigned char>(rest[1]))) {
    size_t d2 = rest.find('.');
    if (d2 == std::string::npos) return false;
    *head = std::stoi(rest.substr(1, d2 - 1));
    rest = rest.substr(d2 + 1);
  }
  *what = rest;
  return true;
}

// The published head-type string ("sa_sdp_64", "sa_wma_64", "c_5_64", "l_dft_64"), read back
// from the ops the lowering emitted for that head.
std::string head_type(const Program& p, int layer, int head) {
  std::map<std::string, const Op*> ops;
  for (const auto& op : p.ops) {
    int l = 0, h = 0;
    std::string what;
    if (op.head == head && op.layer == layer && split_name(op.name, &l, &h, &what)) ops[what] = &op;
  }
  const int64_t d = ops.count("v") ? ops["v"]->n : 0;
  if (ops.count("qwa")) return fmt::format("sa_wma_{}", d);
  if (ops.count("softmax")) return fmt::format("sa_sdp_{}", d);
  if (ops.count("conv")) return fmt::format("c_{}_{}", d > 0 ? ops["conv"]->k / d : 0, d);
  if (ops.count("dft")) return fmt::format("l_dft_{}", d);
  if (ops.count("dct")) return fmt::format("l_dct_{}", d);
  return "";
}

std::string published_name(const Program& p, const Op& op, int ffn_products_in_layer,
                           int ffn_products_in_previous_layer,
                           std::map<std::pair<int, int>, std::string>& types) {
  int l = 0, h = 0;
  std::string w;
  if (!split_name(op.name, &l, &h, &w)) return "";  // embeddings: a memory load ("emb") only
  if (h >= 0) {
    auto key = std::make_pair(l, h);
    if (!types.count(key)) types[key] = head_type(p, l, h);
    const std::string& t = types[key];
    const std::string prefix = fmt::format("{}_{}_{}_", t, l + 1, h + 1);
    const bool attention = t.rfind("sa_", 0) == 0;
    static const std::map<std::string, std::string> kAttention = {
        {"q", "q"},       {"k", "k"},          {"v", "v"},      {"qwa", "wma"},
        {"qk", "sdp-qk"}, {"softmax", "sftm"}, {"pv", "sdp-v"}, {"o", "o"}};
    if (attention) {
      auto it = kAttention.find(w);
      return it == kAttention.end() ? "" : prefix + it->second;
    }
    // Convolution and linear-transform heads: published as one product (c / l) with no
    // value or output projection.
    if (w == "conv") return prefix + "c";
    if (w == "dft" || w == "dct") return prefix + "l";
    return "";
  }
  if (w == "attn.ln") return fmt::format("ln_{}_1", l);
  if (w == "ffn.ln") return fmt::format("ln_{}_2", l);
  if (w == "proj_in") return fmt::format("ff_{}_proj", l);
  // dict2ops.py names the projection's activation after the previous layer's last FFN product
  // (nl_<l-1>_<number of its up projections>).
  if (w == "proj_in.act") return fmt::format("nl_{}_{}", l - 1, ffn_products_in_previous_layer - 1);
  const bool act = w.size() > 4 && w.compare(w.size() - 4, 4, ".act") == 0;
  const std::string base = act ? w.substr(0, w.size() - 4) : w;
  int n = 0;  // 1-based FFN product number
  if (base == "ffn.down") {
    n = ffn_products_in_layer;
  } else if (base.rfind("ffn", 0) == 0 && base.size() > 6 &&
             base.compare(base.size() - 3, 3, ".up") == 0) {
    n = std::stoi(base.substr(3, base.size() - 6)) + 1;
  } else {
    return "";  // head-output sum, residual add
  }
  return act ? fmt::format("nl_{}_{}", l, n) : fmt::format("ff_{}_{}_f", l + 1, n);
}

}  // namespace

std::vector<OpRow> per_op_stats(const Program& p) {
  std::vector<OpRow> rows(p.ops.size());
  const auto& t = p.info.tile;
  const uint64_t tile_macs = static_cast<uint64_t>(t.b) * t.x * t.y * t.y;
  std::map<int, int> products;  // FFN products (up projections + the down projection) per layer
  for (const auto& op : p.ops) {
    int l = 0, h = 0;
    std::string w;
    if (op.kind == OpKind::matmul && split_name(op.name, &l, &h, &w) && h < 0 &&
        w.rfind("ffn", 0) == 0)
      products[l] += 1;
  }
  std::map<std::pair<int, int>, std::string> types;
  for (const auto& op : p.ops) {
    OpRow& r = rows[op.id];
    r.op = op.id;
    r.name = op.name;
    r.kind = op.kind;
    r.layer = op.layer;
    r.head = op.head;
    r.macs = op.macs();
    r.published_name = published_name(p, op, products[op.layer], products[op.layer - 1], types);
  }
  for (const auto& in : p.instrs)
    if (is_compute(in.opcode)) rows[in.op].tiles += in.tile_count;
  for (auto& r : rows)
    if (r.kind == OpKind::matmul) r.padded_macs = r.tiles * tile_macs;
  return rows;
}

}  // namespace acceltran
