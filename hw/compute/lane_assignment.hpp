// Which lane runs which tiles (docs/compute.md). Plain C++.
//  * Hardware profile ("Mapping and data movement"): a block takes the lanes free the earliest
//    (ties: lowest index; as many as the piece mapper chose) when its first job arrives; piece g
//    of run q goes to lane slot (g * runs + q) mod lanes, so neighbouring lanes hold the same
//    piece of neighbouring runs.
//  * Reference profile ("Tile-to-lane mapping"): tiles are dealt round-robin over the lanes of
//    one PE; without a requested PE, chunks of lanes_per_pe tiles go to the least-loaded PE.
#pragma once
#include <cstdint>
#include <vector>

#include "acceltran/hw/compute/operand_traffic.hpp"

namespace acceltran {

// For lane counts given in descending order, the free cycle of the last of the `counts[i]`
// lanes free the earliest (ties: lowest index) into `last_free_cycles[i]`. Leaves
// `order_scratch` with, for every i, those `counts[i]` lanes first (nested selections, so the
// whole call costs about one pass over the lanes plus the largest count), ready for
// take_earliest_lanes with any of the counts. `order_scratch` holds a permutation of all lane
// indices (kept between calls; no allocation).
void select_earliest_free(const std::vector<uint64_t>& lane_free_cycle, const uint64_t* counts,
                          int n, std::vector<uint32_t>& order_scratch, uint64_t* last_free_cycles);
// The first `count` lanes of `order_scratch`, in index order, into `lanes`.
void take_earliest_lanes(const std::vector<uint32_t>& order_scratch, size_t count,
                         std::vector<uint32_t>& lanes);

// Runs of `run_length_tiles` tiles cut into pieces of `piece_tiles` tiles.
struct PieceLayout {
  uint64_t run_length_tiles = 1, piece_tiles = 1, runs = 1;
  // The span of the piece holding tile `first`, ending at `job_end` at the latest.
  PieceSpan span(uint64_t first, uint64_t job_end) const {
    PieceSpan s;
    s.run = first / run_length_tiles;
    s.piece_in_run = (first - s.run * run_length_tiles) / piece_tiles;
    s.piece_first = s.run * run_length_tiles + s.piece_in_run * piece_tiles;
    s.piece_end = std::min(s.piece_first + piece_tiles, (s.run + 1) * run_length_tiles);
    s.first = first;
    s.end = std::min(job_end, s.piece_end);
    return s;
  }
  // Lane slot of a piece: piece-major, so neighbouring slots share the piece index.
  uint64_t lane_slot(const PieceSpan& s) const { return s.piece_in_run * runs + s.run; }
  uint64_t pieces_per_run() const { return div_up(run_length_tiles, piece_tiles); }
};

// Reference profile: round-robin lanes per PE, chunks of lanes_per_pe tiles per least-loaded PE.
class RoundRobinLanes {
 public:
  RoundRobinLanes(int pes, int lanes_per_pe)
      : pes_(pes), lanes_per_pe_(lanes_per_pe), next_lane_(static_cast<size_t>(pes), 0) {}
  // The PE of the next tile: `requested` if >= 0 (throws std::invalid_argument when out of
  // range), else the chunk's PE (a new chunk picks the PE free the earliest).
  int pick_pe(int requested, const std::vector<uint64_t>& pe_free_cycle);
  // The next lane of `pe` (its persistent pointer advances).
  int next_lane(int pe) {
    int& next = next_lane_[static_cast<size_t>(pe)];
    const int lane = next;
    next = lane + 1 == lanes_per_pe_ ? 0 : lane + 1;
    return lane;
  }

 private:
  int pes_, lanes_per_pe_;
  std::vector<int> next_lane_;
  int chunk_pe_ = 0, chunk_tiles_left_ = 0;
};

}  // namespace acceltran
