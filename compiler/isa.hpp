// The AccelTran instruction stream: what the compiler front end produces and the control block
// executes. See docs/isa.md for the text form.
//
// A Program has three tables:
//  * tensors: every weight, embedding and activation tensor, with its shape and its size in
//    bytes in zero-free format (20-bit Q4.16 words x (1 - sparsity)) plus its 1-bit-per-element
//    mask;
//  * ops: the operation graph (matmul, softmax, layer norm, element-wise add, activation), each
//    with its problem dimensions and its tile grid;
//  * instructions: memory transfers (LOAD_W, LOAD_A, STORE_A, SPILL, STORE_M) of one part of a
//    tensor, and tile jobs (MATMUL, SOFTMAX, LAYERNORM, EWISE, ACT). A tile-job instruction covers
//    a contiguous range of the tiles of one buffer-level block of its op, in the configured loop
//    order (tile_count >= 1); `--tiles-per-instruction 1` gives one instruction per tile. In
//    profile hardware the instructions of one block form an issue group (issue_groups.hpp).
//    Dependencies are instruction ids that come earlier.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/config/profile.hpp"

namespace acceltran {

enum class Opcode : uint8_t {
  LOAD_W,     // main memory -> weight buffer (weights, embedding rows)
  LOAD_A,     // main memory -> activation buffer (reload of a spilled activation)
  STORE_A,    // PE outputs -> activation buffer after an op's last tile (reference profile only;
              // the default profile writes each output tile into the buffer as it completes)
  SPILL,      // activation buffer -> main memory (eviction of live data; issued at run time)
  STORE_M,    // activation buffer -> main memory (final model output)
  MATMUL,     // MAC-lane tile job: tb x tx x ty x ty multiply-accumulates
  SOFTMAX,    // softmax-module job over a tb x tx x ty block
  LAYERNORM,  // layer-norm-module job over a tb x tx x ty block
  EWISE,      // element-wise add on MAC lanes (residual add, sum of head outputs)
  ACT,        // activation function (GELU / ReLU) on MAC lanes
};
constexpr int kOpcodeCount = 10;
const char* to_string(Opcode op);
bool parse_opcode(const std::string& text, Opcode* out);
inline bool is_memory(Opcode op) {
  return op <= Opcode::STORE_M;
}
inline bool is_compute(Opcode op) {
  return op >= Opcode::MATMUL;
}

enum class TensorClass : uint8_t { weight, embedding, activation };
const char* to_string(TensorClass c);

using TensorId = uint32_t;
using OpId = uint32_t;
using InstrId = uint32_t;
constexpr uint32_t kNone = 0xffffffffu;

struct Tensor {
  TensorId id = 0;
  std::string name;  // e.g. "L0.H1.q", "L3.ffn0.w", "emb.word_rows"
  TensorClass cls = TensorClass::activation;
  int layer = -1;                         // -1: embeddings / model output
  int64_t batch = 1, rows = 0, cols = 0;  // logical shape (batch, rows, cols)
  double sparsity = 0;                    // fraction of zeros assumed for its zero-free size
  uint64_t data_bytes = 0;                // ceil(elements * word_bits * (1 - sparsity) / 8)
  uint64_t mask_bytes = 0;                // ceil(elements / 8)
  // Residency parts (compiler/parts.hpp): the tensor is cut into a grid of parts of
  // part_b x part_rows x part_cols elements (0 = the whole extent). A part is what the buffers
  // hold, evict, spill and reload as one unit: a row panel of an activation, a (k, n) block of a
  // weight. All zeros: the whole tensor is one part.
  int64_t part_b = 0, part_rows = 0, part_cols = 0;
  uint64_t elements() const { return static_cast<uint64_t>(batch * rows * cols); }
};

enum class OpKind : uint8_t { matmul, softmax, layer_norm, add, activation };
const char* to_string(OpKind k);
Opcode opcode_of(OpKind k);

// Tile index of one tile job. Non-matmul ops have k = 0.
struct TileIndex {
  int64_t b = 0, i = 0, j = 0, k = 0;
  bool operator==(const TileIndex& o) const { return b == o.b && i == o.i && j == o.j && k == o.k; }
};

struct Op {
  OpId id = 0;
  OpKind kind = OpKind::matmul;
  std::string name;  // e.g. "L0.H0.qk", "L1.ffn0.up"
  int layer = -1, head = -1;
  std::vector<TensorId> inputs;  // matmul: {A (b,m,k), B (b|1,k,n)}; others: operands
  TensorId output = kNone;
  // Problem: matmul (b,m,k) x (b or 1,k,n) -> (b,m,n); other ops act on (b,m,n) with k = 1.
  int64_t b = 1, m = 1, k = 1, n = 1;
  bool b_operand_batched = false;  // second matmul operand has a batch dimension
  bool prune = false;              // DynaTran prunes the output (post-sparsity unit)
  // How each input is read, one letter per input (compiler/parts.hpp): 'm' its rows follow the
  // op's rows (tile index i), 'k' they follow the reduction (k; an unbatched weight's columns
  // follow j), 'n' they follow the op's columns (j; a transposed operand such as K in Q.K^T),
  // 'a' the whole tensor (biases, LayerNorm gamma/beta). Empty: 'm' for every input except a
  // matmul's second operand, 'k'.
  std::string in_rows;
  // First column each input is read from (a head's slice of the fused Q/K/V tensor); empty: 0.
  std::vector<int64_t> in_col;
  // Where the output goes: 'm' rows follow i and columns follow j, offset by out_col (a head
  // writing its slice of the concatenated heads); 'a' the whole output tensor (transposed).
  char out_rows = 'm';
  int64_t out_col = 0;
  // Buffer-level blocks: tiles per block along b, i, j, k (0 = the whole grid). Blocks are
  // enumerated b, i, j, k with k fastest; each block's working set fits the buffers.
  int64_t blk_b = 0, blk_i = 0, blk_j = 0, blk_k = 0;
  // Tile grid: ceil(b/tb), ceil(m/tx), ceil(n/ty), ceil(k/tx) (k grid is 1 for non-matmul).
  int64_t grid_b = 1, grid_i = 1, grid_j = 1, grid_k = 1;
  uint64_t tile_count() const { return static_cast<uint64_t>(grid_b * grid_i * grid_j * grid_k); }
  uint64_t macs() const {  // unpadded multiply-accumulates (matmul only)
    return kind == OpKind::matmul ? static_cast<uint64_t>(b * m * k * n) : 0;
  }
};

struct Instruction {
  InstrId id = 0;
  Opcode opcode = Opcode::MATMUL;
  OpId op = kNone;          // compute: the op; memory: the op it serves (kNone if none)
  TensorId tensor = kNone;  // memory: tensor moved; compute: output tensor
  uint32_t block = 0;       // compute: buffer-level block of the op (compiler/parts.hpp)
  uint32_t part = 0;        // memory: part of the tensor moved (Tensor::part_*)
  uint64_t first_tile = 0;  // compute: range [first_tile, first_tile + tile_count)
  uint64_t tile_count = 0;  //          in the loop-order enumeration of the block's tiles
  uint64_t data_bytes = 0;  // memory: data bytes moved (zero-free format)
  uint64_t mask_bytes = 0;  // memory: mask bytes moved alongside
  uint32_t dep_begin = 0;   // into Program::deps
  uint32_t dep_count = 0;
};

struct ProgramInfo {
  std::string model;        // model name or file
  Profile profile = Profile::hardware;
  std::string accelerator;  // accelerator name
  int64_t seq_len = 128, batch = 4;
  TileShape tile;
  LoopOrder loop_order;
  int word_bits = 20;
  double activation_sparsity = 0.5, weight_sparsity = 0.5;
  uint64_t tiles_per_instruction = 0;  // 0 = one instruction per block (docs/isa.md)
  // What the program was compiled for (the `compiled_for` record, filled by
  // compile_within_limits): `simulate --program` refuses an accelerator, model or option that
  // differs. Empty settings or fingerprint: not recorded (compile_program alone).
  std::vector<Setting> accelerator_settings;
  std::string model_fingerprint;  // model_fingerprint(ModelDesc), 16 hex digits
  std::vector<std::string> reference_bugs, reference_fixes;  // switch names
  bool first_layer_only = false;
};

struct Program {
  ProgramInfo info;
  std::vector<Tensor> tensors;
  std::vector<Op> ops;
  std::vector<Instruction> instrs;
  std::vector<InstrId> deps;

  // Dependencies of `in`. Instructions may share one list: a list equal to the previous
  // instruction's is stored once (append_instruction), as the pieces of a block do.
  const InstrId* deps_begin(const Instruction& in) const { return deps.data() + in.dep_begin; }
  const InstrId* deps_end(const Instruction& in) const {
    return deps.data() + in.dep_begin + in.dep_count;
  }
};

// Appends `in` as instruction number prog.instrs.size() (its id) with the dependencies
// [first, last); the list is stored once when it equals the previous instruction's. Returns
// the id.
InstrId append_instruction(Program& prog, Instruction in, const InstrId* first,
                           const InstrId* last);

}  // namespace acceltran
