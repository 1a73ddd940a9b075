// Static statistics of an instruction stream (`acceltran compile --stats`).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "acceltran/compiler/isa.hpp"

namespace acceltran {

struct LayerStats {
  uint64_t ops = 0, tiles = 0, macs = 0;
  uint64_t weight_bytes = 0;      // LOAD_W data bytes (weights and embeddings)
  uint64_t activation_bytes = 0;  // data bytes of the activations the layer writes
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

// Bytes the program's tables take (instructions, dependency lists, tensors and ops with their
// names), without the slack of the vectors. Linear in the instruction count: the pieces of a
// block share one dependency list (docs/isa.md, "Issue groups").
uint64_t program_bytes(const Program& prog);

// One row of `acceltran compile --per-op`: an op of the program with its tiling and, where the
// op has a counterpart in the published AccelTran simulator (jha-lab/acceltran,
// simulator/src/dict2ops.py and ops.py), that op's name there. The program order of the reference
// profile is the published op order (heads, then ln_<l>_1, ff/nl pairs, ln_<l>_2 per layer);
// ops the published graph lacks (embedding layer norm, head-output and residual adds) have an
// empty published_name.
struct OpRow {
  OpId op = 0;
  std::string name;            // this project's name, e.g. "L0.H1.qk"
  std::string published_name;  // e.g. "sa_sdp_64_1_2_sdp-qk"; empty: no published counterpart
  OpKind kind = OpKind::matmul;
  int layer = -1, head = -1;
  uint64_t tiles = 0;        // tile jobs of the op (sum over its instructions)
  uint64_t macs = 0;         // unpadded multiply-accumulates (matmul only)
  uint64_t padded_macs = 0;  // tiles x tb*tx*ty*ty (matmul only): the published num_muls sum
};

// Rows in program order. Published names follow dict2ops.py: head ops
// "<type>_<layer+1>_<head+1>_<q|k|v|sdp-qk|sftm|sdp-v|o>", "ln_<layer>_<1|2>" (0-based layer),
// "ff_<layer+1>_<n>_f" for the n-th FFN product, "nl_<layer>_<n>" for the activation after it,
// "ff_<layer>_proj" for a projection between layers of different width.
std::vector<OpRow> per_op_stats(const Program& prog);

}  // namespace acceltran
