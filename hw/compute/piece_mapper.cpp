#include "acceltran/hw/compute/piece_mapper.hpp"

#include <algorithm>

namespace acceltran {

namespace {

// Cuts per run 1, 2, 4, ... while a cut leaves at least one tile per piece and the pieces do
// not exceed twice the lanes; `visit(piece_tiles)` for each, in that order.
template <class Visit>
void for_each_cut(const PieceMapperBlock& block, uint64_t total_lanes, Visit visit) {
  const uint64_t run_length = block.run_length_tiles;
  for (uint64_t cuts = 1; cuts <= run_length && (cuts == 1 || block.runs * cuts <= 2 * total_lanes);
       cuts *= 2)
    visit(div_up(run_length, cuts));
}

// Compares (completion, lane span, lane-cycles) in that order, each with a relative tolerance
// of 1e-9: a block that ends as early on the buffer ports still prefers the shorter lane span
// (port time and lane time do not overlap perfectly), then the fewer lane-cycles.
bool better(const PieceMapper::Cost& a, const PieceMapper::Cost& b) {
  const double fields_a[] = {a.completion_cycles, a.lane_span_cycles, a.lane_cycles};
  const double fields_b[] = {b.completion_cycles, b.lane_span_cycles, b.lane_cycles};
  for (int f = 0; f < 3; ++f) {
    if (fields_a[f] < fields_b[f] * (1 - 1e-9)) return true;
    if (fields_a[f] > fields_b[f] * (1 + 1e-9)) return false;
  }
  return false;
}

}  // namespace

double PieceMapper::port_cycles(const PieceMapperBlock& block, uint64_t pieces_per_run,
                                uint64_t lanes) const {
  const BlockTrafficTiles tiles =
      block_traffic_tiles(block.reuse, block.matmul, block.reads_per_tile, block.block_tiles,
                          block.runs, pieces_per_run, block.reduction);
  const OperandReads reads = sharing_.apply(tiles.reads_a, tiles.reads_b, lanes);
  // Partial sums and outputs go to the activation buffer; each operand comes from the buffer its
  // tensor lives in.
  const OperandTileBytes& bytes = block.bytes;
  double activation_bytes =
      static_cast<double>((tiles.psum_reads + tiles.psum_writes) * bytes.psum +
                          tiles.final_outputs * bytes.output_data);
  double weight_bytes = 0;
  (block.a_in_weight_buffer ? weight_bytes : activation_bytes) +=
      static_cast<double>(reads.a * bytes.a_data);
  (block.b_in_weight_buffer ? weight_bytes : activation_bytes) +=
      static_cast<double>(reads.b * bytes.b_data);
  return std::max(activation_bytes / array_.activation_port_bytes_per_cycle,
                  weight_bytes / array_.weight_port_bytes_per_cycle);
}

PieceMapper::Cost PieceMapper::cost_of(const PieceMapperBlock& block, uint64_t piece_tiles,
                                       uint64_t lanes, uint64_t wait_cycles) const {
  const uint64_t pieces_per_run = div_up(block.run_length_tiles, piece_tiles);
  const uint64_t pieces = block.runs * pieces_per_run;
  lanes = std::max<uint64_t>(1, std::min(lanes, pieces));
  // Lanes: the wait for `lanes` free lanes, then rounds of pieces over them.
  const uint64_t rounds = div_up(pieces, lanes);
  uint64_t lane_span_cycles = wait_cycles + rounds * piece_tiles * block.lane_cycles_per_tile;
  uint64_t additions = 0;
  if (block.reuse.psum_in_lane && pieces_per_run > 1) {
    // The reduction (docs/compute.md, "Reductions across lanes"): its tree depth after the last
    // round, or the lanes' share of all additions if longer (many rounds).
    additions = block.runs * PieceReduction::additions(pieces_per_run);
    const uint64_t levels =
        std::max(PieceReduction::depth(pieces_per_run), div_up(additions, lanes));
    lane_span_cycles += levels * block.add_cycles;
  }
  Cost cost;
  cost.lane_cycles = static_cast<double>(block.block_tiles * block.lane_cycles_per_tile +
                                         additions * block.add_cycles);
  cost.lane_span_cycles = static_cast<double>(lane_span_cycles);
  cost.completion_cycles =
      std::max(static_cast<double>(lane_span_cycles), port_cycles(block, pieces_per_run, lanes));
  return cost;
}

LaneCandidates PieceMapper::lane_candidates(const PieceMapperBlock& block) const {
  LaneCandidates candidates;
  for_each_cut(block, array_.total_lanes, [&](uint64_t piece_tiles) {
    const uint64_t pieces = block.runs * div_up(block.run_length_tiles, piece_tiles);
    const uint64_t lanes = std::min(pieces, array_.total_lanes);
    const int n = candidates.count;
    if (n < LaneCandidates::kMax && (n == 0 || lanes > candidates.lanes[n - 1]))
      candidates.lanes[candidates.count++] = lanes;
  });
  std::reverse(candidates.lanes, candidates.lanes + candidates.count);  // descending
  return candidates;
}

PieceMapper::Choice PieceMapper::choose(const PieceMapperBlock& block,
                                        const LaneCandidates& candidates) const {
  Choice best{block.run_length_tiles, candidates.count > 0 ? candidates.lanes[0] : 1};
  Cost best_cost;
  bool first = true;
  // Fewest cuts first, then fewest lanes: a later choice wins only if it is better.
  for_each_cut(block, array_.total_lanes, [&](uint64_t piece_tiles) {
    const uint64_t pieces = block.runs * div_up(block.run_length_tiles, piece_tiles);
    for (int c = candidates.count - 1; c >= 0; --c) {
      if (candidates.lanes[c] > pieces) break;
      const Cost cost = cost_of(block, piece_tiles, candidates.lanes[c], candidates.wait_cycles[c]);
      if (first || better(cost, best_cost)) {
        first = false;
        best_cost = cost;
        best = Choice{piece_tiles, candidates.lanes[c]};
      }
    }
  });
  return best;
}

}  // namespace acceltran
