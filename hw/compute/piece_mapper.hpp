// The piece mapper of the PE array (docs/compute.md, "Mapping and data movement (default
// profile)", Pieces): when a block has fewer runs than the array has lanes, its runs are cut
// into pieces so that more lanes work. Each cut costs what the run saved (a partial-sum round
// trip or an operand re-read). The mapper tries piece lengths halving from the run length and
// keeps the one with the smallest cost: the larger of the block's share of lane-cycles and its
// buffer-port time; among equal costs the shorter lane time. Plain C++.
#pragma once
#include <cstdint>

#include "acceltran/hw/compute/operand_traffic.hpp"

namespace acceltran {

struct PieceMapperBlock {
  uint64_t block_tiles = 0, run_length_tiles = 1, runs = 1;
  uint64_t lane_cycles_per_tile = 0;  // cycles a lane is held per tile
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

class PieceMapper {
 public:
  PieceMapper(const PieceMapperArray& array, const BroadcastSharing& sharing)
      : array_(array), sharing_(sharing) {}
  // Tiles per piece (divides a run into ceil(run length / piece) pieces).
  uint64_t piece_length_tiles(const PieceMapperBlock& block) const;
  // The cost of cutting runs into pieces of `piece_tiles` tiles, and its lane time.
  struct Cost {
    double cost_cycles = 0, lane_cycles = 0;
  };
  Cost cost_of(const PieceMapperBlock& block, uint64_t piece_tiles) const;

 private:
  PieceMapperArray array_;
  BroadcastSharing sharing_;
};

}  // namespace acceltran
