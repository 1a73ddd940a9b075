// Reference-profile timing of the PE array (docs/compute.md, "Tile-to-lane mapping (reference
// profile)", "Operand reuse and buffer reads (reference profile)"): the tiles of a job, in
// loop-order enumeration of the op's grid, are dealt round-robin over the lanes of one PE; an
// operand tile is reused from the lane's FIFO, else broadcast by the PE's dataflow module, else
// read from its buffer. All state is per tile and persists across jobs. Also runs hardware-profile
// jobs that come with per-tile effectual MACs (then the sparsity units are charged too).
#pragma once
#include <cstdint>
#include <vector>

#include "acceltran/hw/compute/lane_assignment.hpp"
#include "acceltran/hw/compute/operand_traffic.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/pe_array_timing.hpp"

namespace acceltran {

class PeArrayTileTiming : public PeArrayTiming {
 public:
  explicit PeArrayTileTiming(PeArray& array);
  LaneJobResult dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                         const uint64_t* effectual_macs) override;

 private:
  // The job's operand tiles: bytes and 64-byte buffer blocks per read.
  struct JobOperands {
    OperandTileBytes bytes;
    bool second_is_weight = false;
    uint64_t first_blocks = 0, first_mask_blocks = 0, second_blocks = 0, second_mask_blocks = 0;
  };
  JobOperands job_operands(const proto::TileJobExt& job) const;
  struct LaneSlot {
    size_t pe = 0, lane = 0;  // lane: index in the array's pool
    uint64_t start_cycle = 0;
  };
  LaneSlot reserve_lane(int requested_pe, uint64_t request_cycle, uint64_t held_cycles,
                        LaneJobResult& result);
  void count_buffer_reads(const JobOperands& operands, uint64_t first_reads, uint64_t second_reads,
                          LaneJobResult& result);
  // An operand tile the dataflow module fetched from a buffer, and when.
  struct Broadcast {
    uint32_t op_id = ~uint32_t{0};
    proto::TileCoord tile;
    uint64_t cycle = ~0ULL;
  };
  // Per PE a ring of lanes_per_pe entries (index pe * lanes + slot): the operand tiles fetched
  // most recently; a tile starting in the same cycle on the same PE that needs one of them
  // receives it by broadcast.
  struct BroadcastRing {
    std::vector<Broadcast> entries;
    std::vector<int> next_slot;  // per PE
  };
  // Reads of operand `first` (A) or second (B) for `tile` on lane `lane` of `pe`: 0 when reused
  // from the FIFO or broadcast (counted), else 1 (recorded for broadcast).
  uint64_t operand_read(bool first, size_t pe, size_t lane, uint32_t op_id,
                        const proto::TileCoord& tile, uint64_t start);
  bool broadcast_hit(const BroadcastRing& ring, size_t pe, uint32_t op_id,
                     const proto::TileCoord& tile, uint64_t start, bool first) const;

  PeArray& array_;
  RoundRobinLanes round_robin_;
  // Per lane: the previous tile and its op (+1; 0: the FIFO holds other data).
  std::vector<proto::TileCoord> lane_previous_tile_;
  std::vector<uint32_t> lane_previous_op_;
  BroadcastRing broadcast_first_, broadcast_second_;
};

}  // namespace acceltran
