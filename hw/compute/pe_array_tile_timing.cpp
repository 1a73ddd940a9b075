#include "acceltran/hw/compute/pe_array_tile_timing.hpp"

#include <algorithm>
#include <stdexcept>

#include "acceltran/hw/compute/loop_nest.hpp"
#include "acceltran/hw/compute/operand_traffic.hpp"

namespace acceltran {

namespace {

// Operand reuse rule: a lane need not re-read its first operand tile when (b, i, k) is unchanged
// from its previous tile, nor its second when (b, k, j) is unchanged.
bool reuses_operand(bool first, const proto::TileCoord& previous, const proto::TileCoord& tile) {
  return previous.b == tile.b && previous.k == tile.k &&
         (first ? previous.i == tile.i : previous.j == tile.j);
}

}  // namespace

PeArrayTileTiming::PeArrayTileTiming(PeArray& array)
    : array_(array), round_robin_(array.pes_, array.lanes_) {
  const size_t lanes = array.lane_free_.size();
  lane_previous_tile_.assign(lanes, proto::TileCoord{});
  lane_previous_op_.assign(lanes, 0);
  for (BroadcastRing* ring : {&broadcast_first_, &broadcast_second_}) {
    ring->entries.assign(lanes, Broadcast{});
    ring->next_slot.assign(static_cast<size_t>(array.pes_), 0);
  }
}

bool PeArrayTileTiming::broadcast_hit(const BroadcastRing& ring, size_t pe, uint32_t op_id,
                                      const proto::TileCoord& tile, uint64_t start,
                                      bool first) const {
  const Broadcast* entry = ring.entries.data() + pe * static_cast<size_t>(array_.lanes_);
  for (int slot = 0; slot < array_.lanes_; ++slot)
    if (entry[slot].cycle == start && entry[slot].op_id == op_id &&
        reuses_operand(first, entry[slot].tile, tile))
      return true;
  return false;
}

uint64_t PeArrayTileTiming::operand_read(bool first, size_t pe, size_t lane, uint32_t op_id,
                                         const proto::TileCoord& tile, uint64_t start) {
  PeArrayStats& counts = array_.counts_;
  // FIFO reuse first, then the dataflow module's broadcast of an operand tile read for another
  // lane of this PE starting in the same cycle, else a buffer read.
  if (lane_previous_op_[lane] == op_id + 1 &&
      reuses_operand(first, lane_previous_tile_[lane], tile)) {
    ++(first ? counts.fifo_reuse_first : counts.fifo_reuse_second);
    return 0;
  }
  BroadcastRing& ring = first ? broadcast_first_ : broadcast_second_;
  if (broadcast_hit(ring, pe, op_id, tile, start, first)) {
    ++(first ? counts.broadcast_first : counts.broadcast_second);
    return 0;
  }
  int& slot = ring.next_slot[pe];
  ring.entries[pe * static_cast<size_t>(array_.lanes_) + static_cast<size_t>(slot)] =
      Broadcast{op_id, tile, start};
  slot = slot + 1 == array_.lanes_ ? 0 : slot + 1;
  return 1;
}

// Operand tiles: first = activation (tb x tx x ty); second = weight tile (tx x ty) or, for a
// batched second operand (Q.K^T, P.V) and element-wise jobs, an activation tile. Bytes are
// zero-free data plus masks, counted in 64-byte buffer blocks.
PeArrayTileTiming::JobOperands PeArrayTileTiming::job_operands(const proto::TileJobExt& job) const {
  const AcceleratorConfig& cfg = array_.cfg_;
  const bool matmul = job.kind == proto::JobKind::matmul;
  const uint64_t first_words = static_cast<uint64_t>(cfg.tile.b) * cfg.tile.x * cfg.tile.y;
  const uint64_t second_words =
      matmul ? operand_tile_words(cfg.tile.b, cfg.tile.x, cfg.tile.y, true, job.b_operand_batched).b
             : first_words;
  const OperandTileWords words{first_words, second_words, first_words};
  JobOperands operands;
  operands.second_is_weight = matmul && !job.b_operand_batched;
  operands.bytes = operand_tile_bytes(words, array_.tech_.word_bits(), job.activation_sparsity,
                                      matmul ? job.weight_sparsity : job.activation_sparsity, 0.0);
  operands.first_blocks = div_up(operands.bytes.a_data, 64);
  operands.first_mask_blocks = div_up(operands.bytes.a_mask, 64);
  operands.second_blocks = div_up(operands.bytes.b_data, 64);
  operands.second_mask_blocks = div_up(operands.bytes.b_mask, 64);
  return operands;
}

// Buffer traffic of the operand reads one tile performed.
void PeArrayTileTiming::count_buffer_reads(const JobOperands& operands, uint64_t first_reads,
                                           uint64_t second_reads, LaneJobResult& result) {
  PeArrayStats& counts = array_.counts_;
  const OperandTileBytes& bytes = operands.bytes;
  const bool second_is_weight = operands.second_is_weight;
  counts.operand_reads += first_reads + second_reads;
  counts.activation_read_bytes += first_reads * bytes.a_data;
  counts.activation_read_blocks += first_reads * operands.first_blocks;
  (second_is_weight ? counts.weight_read_bytes : counts.activation_read_bytes) +=
      second_reads * bytes.b_data;
  (second_is_weight ? counts.weight_read_blocks : counts.activation_read_blocks) +=
      second_reads * operands.second_blocks;
  counts.mask_read_bytes += first_reads * bytes.a_mask + second_reads * bytes.b_mask;
  counts.mask_read_blocks +=
      first_reads * operands.first_mask_blocks + second_reads * operands.second_mask_blocks;
  result.activation_read_bytes +=
      first_reads * bytes.a_data + (second_is_weight ? 0 : second_reads * bytes.b_data);
  result.weight_read_bytes += second_is_weight ? second_reads * bytes.b_data : 0;
  result.mask_read_bytes += first_reads * bytes.a_mask + second_reads * bytes.b_mask;
}

// The next lane (round-robin within the PE), reserved for `held_cycles` from the later of the
// request and the lane's free cycle.
PeArrayTileTiming::LaneSlot PeArrayTileTiming::reserve_lane(int requested_pe,
                                                            uint64_t request_cycle,
                                                            uint64_t held_cycles,
                                                            LaneJobResult& result) {
  const int pe_index = round_robin_.pick_pe(requested_pe, array_.pe_free_);
  LaneSlot slot;
  slot.pe = static_cast<size_t>(pe_index);
  slot.lane = slot.pe * static_cast<size_t>(array_.lanes_) +
              static_cast<size_t>(round_robin_.next_lane(pe_index));
  slot.start_cycle = std::max(request_cycle, array_.lane_free_[slot.lane]);
  const uint64_t end = slot.start_cycle + held_cycles;
  array_.lane_free_[slot.lane] = end;
  array_.pe_free_[slot.pe] = std::max(array_.pe_free_[slot.pe], end);
  result.first_start_cycle = std::min(result.first_start_cycle, slot.start_cycle);
  result.completion_cycle = std::max(result.completion_cycle, end);
  result.busy_unit_cycles += held_cycles;
  return slot;
}

LaneJobResult PeArrayTileTiming::dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                                          const uint64_t* effectual_macs) {
  const proto::JobKind kind = job.kind;
  const double a_sparsity = job.activation_sparsity, b_sparsity = job.weight_sparsity;
  const LaneTileTiming sparse_estimate = array_.tile_timing(kind, a_sparsity, b_sparsity);
  const LoopNest nest = LoopNest::of_grid(job.grid, job.loop_order);
  if (job.first_tile + job.tile_count > nest.tiles())
    throw std::invalid_argument("PeArray: tile range beyond the op's tile grid");

  const bool matmul = kind == proto::JobKind::matmul;
  const JobOperands operands = job_operands(job);
  const int reads_per_tile = kind == proto::JobKind::activation ? 1 : 2;
  const AcceleratorConfig& cfg = array_.cfg_;
  const uint64_t dense_macs_per_tile =
      static_cast<uint64_t>(cfg.tile.b) * cfg.tile.x * cfg.tile.y * cfg.tile.y;

  LaneJobResult result;
  result.request_cycle = request_cycle;
  result.first_start_cycle = ~0ULL;
  result.completion_cycle = request_cycle;
  result.tiles = job.tile_count;
  PeArrayStats& counts = array_.counts_;
  const bool sparsity_units = array_.conventions_.sparsity_unit_cycles;

  for (uint64_t t = 0; t < job.tile_count; ++t) {
    const proto::TileCoord tile = nest.at(job.first_tile + t);
    const LaneTileTiming timing =
        effectual_macs ? array_.tile_timing(kind, a_sparsity, b_sparsity, effectual_macs + t)
                       : sparse_estimate;
    const LaneSlot slot = reserve_lane(job.pe, request_cycle, timing.held, result);
    const size_t pe = slot.pe, lane = slot.lane;
    const uint64_t start = slot.start_cycle;

    uint64_t first_reads = 1, second_reads = reads_per_tile == 2 ? 1 : 0;
    if (matmul) {
      first_reads = operand_read(true, pe, lane, job.op_id, tile, start);
      second_reads = operand_read(false, pe, lane, job.op_id, tile, start);
      lane_previous_tile_[lane] = tile;
      lane_previous_op_[lane] = job.op_id + 1;
      ++counts.matmul_tiles;
      counts.dense_macs += dense_macs_per_tile;
      counts.effectual_macs += timing.effectual_macs;
    } else {
      lane_previous_op_[lane] = 0;  // the FIFO now holds other data
      ++(kind == proto::JobKind::elementwise ? counts.ewise_tiles : counts.act_tiles);
    }
    const uint64_t reads = first_reads + second_reads;
    result.operand_reads += reads;
    result.operand_reads_saved += static_cast<uint64_t>(reads_per_tile) - reads;
    count_buffer_reads(operands, first_reads, second_reads, result);
    array_.lane_busy_cycles_ += timing.charged;
    if (sparsity_units) {
      array_.pre_sparsity_busy_cycles_ += timing.pre_walk;
      array_.post_sparsity_busy_cycles_ += timing.post_walk;
      array_.fifo_busy_cycles_ += timing.charged;
      array_.dataflow_busy_cycles_ += PeArray::kDataflowCycles * reads;
    }
  }
  if (job.tile_count == 0) result.first_start_cycle = request_cycle;
  ++counts.jobs;
  counts.tiles += job.tile_count;
  counts.last_completion_cycle = std::max(counts.last_completion_cycle, result.completion_cycle);
  job.busy_unit_cycles += result.busy_unit_cycles;
  job.operand_reads_saved += result.operand_reads_saved;
  array_.last_ = result;
  return result;
}

}  // namespace acceltran
