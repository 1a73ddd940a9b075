// Static statistics of an instruction stream (`acceltran compile --stats`).
#pragma once
#include <array>
#include <cstdint>
#include <map>

#include "isa.hpp"

namespace acceltran {

struct LayerStats {
  uint64_t ops = 0, tiles = 0, macs = 0;
  uint64_t weight_bytes = 0;      // LOAD_W data bytes (weights and embeddings)
  uint64_t activation_bytes = 0;  // STORE_A data bytes
};

struct ProgramStats {
  std::array<uint64_t, kOpcodeCount> instructions{};  // per opcode
  std::array<uint64_t, kOpcodeCount> tiles{};         // per compute opcode
  uint64_t ops = 0;
  uint64_t macs = 0;         // unpadded multiply-accumulates
  uint64_t padded_macs = 0;  // tiles x tb*tx*ty*ty (what the lanes are occupied for)
  uint64_t weight_bytes = 0, embedding_bytes = 0, activation_store_bytes = 0, output_bytes = 0;
  uint64_t mask_bytes = 0;           // all transfers
  std::map<int, LayerStats> layers;  // -1: embeddings and output
};

ProgramStats compute_stats(const Program& prog);

}  // namespace acceltran
