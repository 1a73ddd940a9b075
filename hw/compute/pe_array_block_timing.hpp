// Hardware-profile timing of the PE array (docs/compute.md, "Mapping and data movement (default
// profile)"): a tile job covers tiles of one buffer-level block. The block's loop nest gives runs
// of the innermost loop (LoopNest); the piece mapper cuts runs into pieces when there are fewer
// runs than lanes (PieceMapper); the block takes the lanes free the earliest and piece g of run q
// goes to lane slot (g * runs + q) mod lanes (lane_assignment.hpp); the pieces of a run over k
// add their partial sums in a tree across their lanes ("Reductions across lanes"); operand
// reads, broadcast and partial sums are counted per piece in closed form (operand_traffic.hpp);
// the job's bytes go through the buffers' ports and the job ends when lanes and ports are done.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "acceltran/hw/compute/lane_assignment.hpp"
#include "acceltran/hw/compute/loop_nest.hpp"
#include "acceltran/hw/compute/operand_traffic.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/pe_array_tile_timing.hpp"
#include "acceltran/hw/compute/pe_array_timing.hpp"
#include "acceltran/hw/compute/piece_mapper.hpp"

namespace acceltran {

class PeArrayBlockTiming : public PeArrayTiming {
 public:
  explicit PeArrayBlockTiming(PeArray& array);
  LaneJobResult dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                         const uint64_t* effectual_macs) override;

 private:
  // A block in flight: its lanes and pieces (chosen at its first job), the tiles still to come
  // and its operand reads so far (broadcast savings are rounded over the whole block).
  struct BlockPlan {
    std::vector<uint32_t> lanes;
    PieceLayout layout;
    uint64_t tiles_left = 0;
    OperandReads cumulative;  // a, b: reads before broadcast; broadcast_*: saved so far
    // The run whose pieces are being reduced and the cycle its non-root sums are ready.
    uint64_t reduction_run = ~0ULL, run_sums_ready_cycle = 0;
  };
  // What one job derives from its descriptor.
  struct JobGeometry {
    bool matmul = true;
    int reads_per_tile = 2;
    double a_sparsity = 0, b_sparsity = 0, output_sparsity = 0;
    LaneTileTiming tile;           // per tile (sparsity estimate)
    bool per_tile_cycles = false;  // functional matmul: cycles per tile from the data
    uint64_t effectual_macs = 0;   // of the job's tiles
    uint64_t dense_macs = 0;       // of the job's tiles (matmul)
    LoopNest nest;
    RunReuse reuse;
    BlockReduction reduction;
    OperandTileBytes bytes;
    BroadcastSharing sharing;
  };
  // Bytes of a job per buffer and direction.
  struct BufferBytes {
    uint64_t activation_read = 0, activation_write = 0, weight_read = 0;
    uint64_t mask_read = 0, mask_write = 0;
    uint64_t operand = 0, params = 0;
  };

  void check(const proto::TileJobExt& job) const;
  JobGeometry geometry(const proto::TileJobExt& job);
  PieceMapperBlock mapper_block(const proto::TileJobExt& job, const JobGeometry& g) const;
  BlockPlan& plan(const proto::TileJobExt& job, const JobGeometry& g, uint64_t request_cycle);
  uint64_t reduce_after_piece(BlockPlan& plan, const PieceSpan& span, uint64_t& lane_free);
  uint64_t held_cycles(const JobGeometry& g, const proto::TileJobExt& job, uint64_t first,
                       uint64_t end) const;
  PieceTrafficCounter run_pieces(const proto::TileJobExt& job, const JobGeometry& g,
                                 BlockPlan& plan, uint64_t request_cycle, LaneJobResult& result);
  OperandReads count_reads(const proto::TileJobExt& job, const JobGeometry& g, BlockPlan& plan,
                           const PieceTrafficCounter& traffic, LaneJobResult& result);
  BufferBytes buffer_bytes(const proto::TileJobExt& job, const JobGeometry& g,
                           const OperandReads& reads, const PieceTrafficCounter& traffic);
  void finish_on_ports(const BufferBytes& bytes, uint64_t request_cycle, uint64_t lanes_used,
                       LaneJobResult& result);
  void charge(proto::TileJobExt& job, const JobGeometry& g, const OperandReads& reads,
              const BufferBytes& bytes, const PieceTrafficCounter& traffic,
              const LaneJobResult& result);

  PeArray& array_;
  uint64_t add_cycles_;                                 // one partial-sum tile addition on a lane
  PeArrayTileTiming per_tile_;                          // jobs that bring per-tile effectual MACs
  std::unordered_map<uint64_t, BlockPlan> blocks_;      // (op, block) -> plan, while in flight
  std::vector<uint32_t> lane_order_, touched_;          // scratch (allocated once)
  std::vector<uint64_t> effectual_macs_, held_prefix_;  // functional: per tile of a job
};

}  // namespace acceltran
