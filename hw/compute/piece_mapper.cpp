#include "acceltran/hw/compute/piece_mapper.hpp"

#include <algorithm>

namespace acceltran {

PieceMapper::Cost PieceMapper::cost_of(const PieceMapperBlock& block, uint64_t piece_tiles) const {
  const uint64_t run_length = block.run_length_tiles;
  const uint64_t pieces_per_run = (run_length + piece_tiles - 1) / piece_tiles;
  const uint64_t pieces = block.runs * pieces_per_run;
  const uint64_t lanes_used = std::min(pieces, array_.total_lanes);
  // Lane time: rounds of pieces over the lanes used.
  const double lane_cycles = static_cast<double>((pieces + lanes_used - 1) / lanes_used *
                                                 piece_tiles * block.lane_cycles_per_tile);
  const BlockTrafficTiles tiles =
      block_traffic_tiles(block.reuse, block.matmul, block.reads_per_tile, block.block_tiles,
                          block.runs, pieces_per_run, block.reduction);
  const OperandReads reads = sharing_.apply(tiles.reads_a, tiles.reads_b, lanes_used);
  // Port time per buffer: partial sums and outputs go to the activation buffer; each operand
  // comes from the buffer its tensor lives in.
  const OperandTileBytes& bytes = block.bytes;
  double activation_bytes =
      static_cast<double>((tiles.psum_reads + tiles.psum_writes) * bytes.psum +
                          tiles.final_outputs * bytes.output_data);
  double weight_bytes = 0;
  (block.a_in_weight_buffer ? weight_bytes : activation_bytes) +=
      static_cast<double>(reads.a * bytes.a_data);
  (block.b_in_weight_buffer ? weight_bytes : activation_bytes) +=
      static_cast<double>(reads.b * bytes.b_data);
  // Other blocks run beside this one: what the block costs the array is its share of the
  // lane-cycles, or its port time.
  const double share_cycles =
      lane_cycles * static_cast<double>(lanes_used) / static_cast<double>(array_.total_lanes);
  Cost cost;
  cost.lane_cycles = lane_cycles;
  cost.cost_cycles =
      std::max({share_cycles, activation_bytes / array_.activation_port_bytes_per_cycle,
                weight_bytes / array_.weight_port_bytes_per_cycle});
  return cost;
}

uint64_t PieceMapper::piece_length_tiles(const PieceMapperBlock& block) const {
  const uint64_t run_length = block.run_length_tiles;
  uint64_t best_piece = run_length;
  double best_cost = -1, best_lane_cycles = 0;
  // Cuts per run 1, 2, 4, ... while the pieces do not exceed twice the lanes.
  for (uint64_t cuts = 1;
       cuts <= run_length && (cuts == 1 || block.runs * cuts <= 2 * array_.total_lanes);
       cuts *= 2) {
    const uint64_t piece = (run_length + cuts - 1) / cuts;
    const Cost c = cost_of(block, piece);
    // A lower cost wins (relative tolerance 1e-9); among equal costs, the shorter lane time.
    if (best_cost < 0 || c.cost_cycles < best_cost * (1 - 1e-9) ||
        (c.cost_cycles <= best_cost * (1 + 1e-9) && c.lane_cycles < best_lane_cycles)) {
      best_cost = std::min(best_cost < 0 ? c.cost_cycles : best_cost, c.cost_cycles);
      best_lane_cycles = c.lane_cycles;
      best_piece = piece;
    }
  }
  return best_piece;
}

}  // namespace acceltran
