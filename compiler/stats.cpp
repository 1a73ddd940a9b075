#include "stats.hpp"

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
      case Opcode::STORE_A:
        s.activation_store_bytes += in.data_bytes;
        L.activation_bytes += in.data_bytes;
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

}  // namespace acceltran
