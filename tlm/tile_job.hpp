// The hardware job descriptor: what a compute engine (PE array, softmax, layer norm) needs to
// run a tile job, with no compiler type in it (docs/architecture.md, "The job descriptor").
// Any initiator can fill one by hand; our control block fills it from the compiled program
// (hw/control/tile_job_builder.hpp). The ids (op, output tensor) are opaque to the engines: only
// the functional data path, which holds the program, resolves them.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace acceltran::proto {

// What the job computes, and so which engine runs it.
enum class JobKind : uint8_t {
  matmul,       // MAC lanes: tb x tx x ty x ty multiply-accumulates per tile
  elementwise,  // MAC lanes: element-wise add (residual add, sum of head outputs)
  activation,   // MAC lanes: activation function (GELU / ReLU)
  softmax,      // softmax modules: one tb x tx x ty block per tile
  layer_norm,   // layer-norm modules: one tb x tx x ty block per tile
};
inline const char* to_string(JobKind kind) {
  switch (kind) {
    case JobKind::matmul:
      return "MATMUL";
    case JobKind::elementwise:
      return "EWISE";
    case JobKind::activation:
      return "ACT";
    case JobKind::softmax:
      return "SOFTMAX";
    case JobKind::layer_norm:
      return "LAYERNORM";
  }
  return "?";
}

// The on-chip buffer a tensor lives in.
enum class Buffer : uint8_t { activation, weight, mask };
inline const char* to_string(Buffer b) {
  switch (b) {
    case Buffer::activation:
      return "activation";
    case Buffer::weight:
      return "weight";
    case Buffer::mask:
      return "mask";
  }
  return "?";
}

// What a transfer between main memory and the buffers does (the memory instructions of
// docs/isa.md: LOAD_W, LOAD_A, STORE_A, SPILL, STORE_M).
enum class TransferKind : uint8_t {
  load_weights,       // main memory -> weight buffer
  load_activations,   // main memory -> activation buffer (reload of a spilled activation)
  store_activations,  // PE outputs -> activation buffer (reference profile)
  spill,              // activation buffer -> main memory (eviction of live data)
  store_output,       // activation buffer -> main memory (final model output)
  fetch_program,      // main memory -> the requester's data array (the instruction stream)
};
constexpr size_t kTransferKindCount = 6;
inline bool is_load(TransferKind kind) {
  return kind == TransferKind::load_weights || kind == TransferKind::load_activations;
}

// Tile-loop dimensions: batch b, output rows i, output columns j, reduction k.
enum LoopDim : int { kLoopB = 0, kLoopI = 1, kLoopJ = 2, kLoopK = 3 };

// A loop order over the tile indices, outermost first: 'b', 'i', 'j', 'k' in some order.
struct LoopNestOrder {
  std::array<char, 4> dims{'b', 'i', 'j', 'k'};
  static int dim_of(char d) {
    return d == 'b' ? kLoopB : d == 'i' ? kLoopI : d == 'j' ? kLoopJ : kLoopK;
  }
};

// Problem dims: (b, m, k) x (b or 1, k, n) -> (b, m, n); k = 1 for non-matmul jobs.
struct ProblemDims {
  int64_t b = 1, m = 1, k = 1, n = 1;
};

// Tiles along b, i, j, k of the whole op (edge tiles padded). All zero: not described.
struct TileGrid {
  int64_t b = 0, i = 0, j = 0, k = 0;
  uint64_t tiles() const { return static_cast<uint64_t>(b * i * j * k); }
};

// A tile's position in the grid.
struct TileCoord {
  int64_t b = 0, i = 0, j = 0, k = 0;
};

// A box of tiles [b0, b1) x [i0, i1) x [j0, j1) x [k0, k1): a buffer-level block.
struct TileBox {
  int64_t b0 = 0, b1 = 1, i0 = 0, i1 = 1, j0 = 0, j1 = 1, k0 = 0, k1 = 1;
  int64_t extent(int dim) const {
    return dim == kLoopB ? b1 - b0 : dim == kLoopI ? i1 - i0 : dim == kLoopJ ? j1 - j0 : k1 - k0;
  }
  uint64_t tiles() const {
    return static_cast<uint64_t>((b1 - b0) * (i1 - i0) * (j1 - j0) * (k1 - k0));
  }
};

// One tile job: the tiles [first_tile, first_tile + tile_count) of a block (hardware profile)
// or of the op's whole grid (reference profile), in loop order.
struct TileJob {
  JobKind kind = JobKind::matmul;
  // Ids resolved by the functional data path only.
  uint32_t op_id = 0;
  uint32_t output_tensor = ~uint32_t{0};
  // Shape.
  ProblemDims dims;
  TileGrid grid;
  bool b_operand_batched = false;  // the second matmul operand has a batch dimension
  uint32_t block = 0;              // index of the block (hardware profile)
  TileBox block_box;               // its tiles (hardware profile; whole grid otherwise)
  LoopNestOrder loop_order;
  uint64_t first_tile = 0;
  uint64_t tile_count = 0;
  // Operands and output: zero fractions and placement. Byte counts follow from the engine's
  // tile shape, the word width and these sparsities (zero-free data + 1-bit masks).
  double activation_sparsity = 0.5;           // zeros in the first operand
  double weight_sparsity = 0.5;               // zeros in the second operand
  double output_sparsity = 0;                 // zeros in the output tile after DynaTran
  Buffer a_buffer = Buffer::activation;       // first operand (weight buffer: embeddings)
  Buffer b_buffer = Buffer::activation;       // second operand (weight buffer: weights)
  Buffer output_buffer = Buffer::activation;  // partial sums and outputs
  uint32_t param_words_per_tile = 0;          // bias / gamma-beta words read per output tile
  // Issue.
  uint32_t issue_width = 0;  // tiles issued per cycle from the request time (0: all at once)
  int pe = -1;               // PE to run on; -1: the target chooses
  bool described() const { return grid.tiles() > 0; }
};

}  // namespace acceltran::proto
