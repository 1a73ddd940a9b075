// Operand traffic of the PE array's tile jobs (docs/compute.md, "Mapping and data movement
// (default profile)"): the bytes of one operand, output and partial-sum tile; which operand a
// run keeps in the lane FIFO; the reads the dataflow module's broadcast saves; and the operand
// reads, partial-sum round trips and final outputs of a block cut into pieces. Plain C++.
#pragma once
#include <algorithm>
#include <cstdint>

#include "acceltran/tlm/tile_job.hpp"

namespace acceltran {

// ceil(a / b) for tile, lane and block counts (b > 0).
inline uint64_t div_up(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

// Words of one tile: A (tb x tx x tx for a matmul), B (tx x ty, or tb x tx x ty when batched or
// element-wise), output (tb x tx x ty).
struct OperandTileWords {
  uint64_t a = 0, b = 0, output = 0;
};
OperandTileWords operand_tile_words(int tile_b, int tile_x, int tile_y, bool matmul,
                                    bool b_operand_batched);

// Bytes of one tile in the buffers: zero-free data at the tile's sparsity plus its 1-bit mask;
// partial sums are dense words.
struct OperandTileBytes {
  uint64_t a_data = 0, a_mask = 0, b_data = 0, b_mask = 0;
  uint64_t output_data = 0, output_mask = 0, psum = 0;
};
OperandTileBytes operand_tile_bytes(const OperandTileWords& words, int word_bits, double a_sparsity,
                                    double b_sparsity, double output_sparsity);

// What a run (consecutive tiles of one lane along the innermost loop) keeps: along j the A tile
// (b, i, k) is unchanged, along i (or b for an unbatched weight) the B tile (k, j); the lane
// keeps it only if it fits the FIFO. Along k the partial sum stays in the lane.
struct RunReuse {
  bool keep_a = false, keep_b = false, psum_in_lane = false;
};
RunReuse run_reuse(bool matmul, int inner_dim, bool b_depends_on_batch, bool a_fits_fifo,
                   bool b_fits_fifo);

// Operand tile reads: left after the dataflow broadcast, and saved by it.
struct OperandReads {
  uint64_t a = 0, b = 0, broadcast_a = 0, broadcast_b = 0;
};

// The dataflow module of a PE: the lanes of a PE start their pieces together and neighbouring
// lanes' pieces differ in the loop index just outside the run (`outer_dim`); an operand that
// does not depend on that index is read once per group of lanes that share it.
class BroadcastSharing {
 public:
  BroadcastSharing() = default;  // no sharing
  BroadcastSharing(bool matmul, int outer_dim, int64_t outer_extent, uint64_t lanes_per_pe,
                   bool b_depends_on_batch)
      : matmul_(matmul),
        outer_dim_(outer_dim),
        outer_extent_(outer_extent),
        lanes_per_pe_(lanes_per_pe),
        b_depends_on_batch_(b_depends_on_batch) {}
  // Reads of A and B tiles by `lanes_used` lanes, before and after sharing.
  OperandReads apply(uint64_t reads_a, uint64_t reads_b, uint64_t lanes_used) const {
    OperandReads reads{reads_a, reads_b, 0, 0};
    const uint64_t per_pe = std::min(lanes_per_pe_, lanes_used);
    if (!matmul_ || outer_dim_ < 0 || per_pe <= 1) return reads;
    const uint64_t extent = static_cast<uint64_t>(outer_extent_);
    const uint64_t groups = (per_pe + extent - 1) / extent;
    auto saved = [&](uint64_t n) { return n - (n * groups + per_pe - 1) / per_pe; };
    if (outer_dim_ == proto::kLoopJ) reads.broadcast_a = saved(reads_a);  // A: (b, i, k)
    if (outer_dim_ == proto::kLoopI || (outer_dim_ == proto::kLoopB && !b_depends_on_batch_))
      reads.broadcast_b = saved(reads_b);  // B: (k, j) [, b]
    reads.a -= reads.broadcast_a;
    reads.b -= reads.broadcast_b;
    return reads;
  }

 private:
  bool matmul_ = false;
  int outer_dim_ = -1;
  int64_t outer_extent_ = 1;
  uint64_t lanes_per_pe_ = 1;
  bool b_depends_on_batch_ = false;
};

// Where a block sits along k: its k tiles [k0, k1) of the op's grid_k.
struct BlockReduction {
  int64_t k0 = 0, k1 = 1, grid_k = 1;
  bool first_k() const { return k0 == 0; }
  bool last_k() const { return k1 == grid_k; }
};

// Tile counts of a whole block whose runs are cut into `pieces_per_run` pieces.
struct BlockTrafficTiles {
  uint64_t reads_a = 0, reads_b = 0;
  uint64_t psum_reads = 0, psum_writes = 0, final_outputs = 0;
};
BlockTrafficTiles block_traffic_tiles(const RunReuse& reuse, bool matmul, int reads_per_tile,
                                      uint64_t block_tiles, uint64_t runs, uint64_t pieces_per_run,
                                      const BlockReduction& reduction);

// A stretch of consecutive tiles of one piece: [first, end) of the piece [piece_first,
// piece_end) of run `run` (block enumeration).
struct PieceSpan {
  uint64_t run = 0, piece_in_run = 0;
  uint64_t piece_first = 0, piece_end = 0;
  uint64_t first = 0, end = 0;
  uint64_t tiles() const { return end - first; }
  bool starts_piece() const { return first == piece_first; }
  bool ends_piece() const { return end == piece_end; }
};

// Operand reads, partial-sum round trips and final outputs of the tiles a job runs, counted
// piece span by piece span (closed form per span, no per-tile loop).
struct PieceTrafficCounter {
  uint64_t reads_a = 0, reads_b = 0, psum_reads = 0, psum_writes = 0, final_outputs = 0;
  uint64_t psum_in_lane_tiles = 0;
  uint64_t reduction_additions = 0;  // partial-sum tile additions across lanes (set by the caller)
  void count_matmul(const PieceSpan& span, const RunReuse& reuse, uint64_t run_length_tiles,
                    const BlockReduction& reduction, int64_t k_of_last_tile) {
    const uint64_t tiles = span.tiles();
    reads_a += reuse.keep_a ? (span.starts_piece() ? 1 : 0) : tiles;
    reads_b += reuse.keep_b ? (span.starts_piece() ? 1 : 0) : tiles;
    if (reuse.psum_in_lane) {  // k varies along the piece: global k = k0 + position in the run
      psum_in_lane_tiles += tiles - (span.starts_piece() ? 1 : 0);
      const auto piece_k = static_cast<int64_t>(span.piece_first - span.run * run_length_tiles);
      if (span.starts_piece() && reduction.k0 + piece_k > 0) ++psum_reads;
      if (span.ends_piece()) {
        const bool run_done = span.piece_end == (span.run + 1) * run_length_tiles;
        (run_done && reduction.last_k() ? final_outputs : psum_writes) += 1;
      }
    } else {  // k is fixed along the piece
      if (k_of_last_tile > 0) psum_reads += tiles;
      (k_of_last_tile == reduction.grid_k - 1 ? final_outputs : psum_writes) += tiles;
    }
  }
};

}  // namespace acceltran
