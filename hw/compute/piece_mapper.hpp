// The piece mapper of the PE array (docs/compute.md, "Mapping and data movement (default
// profile)", Pieces): when a block has fewer runs than the array has lanes, its runs are cut
// into pieces so that more lanes work. A cut of a run over k costs a reduction of the pieces'
// partial sums across lanes ("Reductions across lanes"); a cut of another run costs the operand
// re-read the run saved. The mapper minimises the block's completion time on the lanes it can
// get: for each cut (halving the piece length) and each candidate lane count, the wait for that
// many lanes plus the rounds of pieces over them plus the reduction, or the buffers' port time
// if longer; among equal times the shorter lane span, then the fewer lane-cycles. Closed form, no
// allocation. Plain C++.
#pragma once
#include <algorithm>
#include <cstdint>

#include "acceltran/hw/compute/operand_traffic.hpp"

namespace acceltran {

struct PieceMapperBlock {
  uint64_t block_tiles = 0, run_length_tiles = 1, runs = 1;
  uint64_t lane_cycles_per_tile = 0;  // cycles a lane is held per tile
  uint64_t add_cycles = 0;            // one partial-sum tile addition on a lane
  bool matmul = true;
  int reads_per_tile = 2;
  RunReuse reuse;
  BlockReduction reduction;
  OperandTileBytes bytes;
  bool a_in_weight_buffer = false, b_in_weight_buffer = false;
};

struct PieceMapperArray {
  uint64_t total_lanes = 1;
  double activation_port_bytes_per_cycle = 1;  // banks x bank width
  double weight_port_bytes_per_cycle = 1;
};

// The lane counts a block may take (descending) and, filled in by the caller, the cycles from
// the block's first job until that many lanes are free.
struct LaneCandidates {
  static constexpr int kMax = 24;
  int count = 0;
  uint64_t lanes[kMax] = {};
  uint64_t wait_cycles[kMax] = {};
};

// The partial-sum reduction of a run over k cut into `pieces` pieces (docs/compute.md,
// "Reductions across lanes"): a tree across the pieces' lanes rooted at the last piece.
struct PieceReduction {
  // Tile additions of the tree (pieces - 1) and its depth (ceil(log2 pieces)).
  static uint64_t additions(uint64_t pieces) { return pieces > 0 ? pieces - 1 : 0; }
  static uint64_t depth(uint64_t pieces) { return pieces > 1 ? bit_width(pieces - 1) : 0; }
  // Additions done on the lane of piece `piece` (0-based): at level l the piece at distance
  // d = pieces - 1 - piece from the root receives from the piece 2^l before it when 2^(l+1)
  // divides d; the root (d = 0) receives at every level.
  static uint64_t additions_of_piece(uint64_t piece, uint64_t pieces) {
    const uint64_t distance = pieces - 1 - piece;
    const uint64_t partners_before = bit_width(piece);  // levels l with 2^l <= piece
    if (distance == 0) return partners_before;
    return std::min<uint64_t>(trailing_zeros(distance), partners_before);
  }

 private:
  static uint64_t bit_width(uint64_t x) {
    uint64_t width = 0;
    for (; x != 0; x >>= 1) ++width;
    return width;
  }
  static uint64_t trailing_zeros(uint64_t x) {
    uint64_t zeros = 0;
    for (; (x & 1) == 0; x >>= 1) ++zeros;
    return zeros;
  }
};

class PieceMapper {
 public:
  PieceMapper(const PieceMapperArray& array, const BroadcastSharing& sharing)
      : array_(array), sharing_(sharing) {}
  // The lane counts worth asking for: min(pieces, lanes) of every cut, descending, waits 0.
  LaneCandidates lane_candidates(const PieceMapperBlock& block) const;
  // The chosen cut: tiles per piece and lanes to take.
  struct Choice {
    uint64_t piece_tiles = 1, lanes = 1;
  };
  Choice choose(const PieceMapperBlock& block, const LaneCandidates& candidates) const;
  // The completion of cutting runs into pieces of `piece_tiles` tiles on `lanes` lanes that are
  // free after `wait_cycles`, and the lane-cycles it takes (tiles and reduction additions).
  struct Cost {
    double completion_cycles = 0, lane_span_cycles = 0, lane_cycles = 0;
  };
  Cost cost_of(const PieceMapperBlock& block, uint64_t piece_tiles, uint64_t lanes,
               uint64_t wait_cycles) const;

 private:
  double port_cycles(const PieceMapperBlock& block, uint64_t pieces_per_run, uint64_t lanes) const;
  PieceMapperArray array_;
  BroadcastSharing sharing_;
};

}  // namespace acceltran
