#include "acceltran/hw/compute/pe_array_block_timing.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace acceltran {

namespace {

// The key of a job's block in the plans of blocks in progress.
uint64_t block_key(const proto::TileJobExt& job) {
  return (static_cast<uint64_t>(job.op_id) << 32) | job.block;
}

}  // namespace

// A partial-sum addition is an EWISE tile on the lane's adders (docs/compute.md, "Reductions
// across lanes").
PeArrayBlockTiming::PeArrayBlockTiming(PeArray& array)
    : array_(array),
      add_cycles_(array.tile_timing(proto::JobKind::elementwise, 0, 0).held),
      per_tile_(array) {
  const size_t lanes = array.lane_free_.size();
  lane_order_.resize(lanes);
  for (size_t lane = 0; lane < lanes; ++lane) lane_order_[lane] = static_cast<uint32_t>(lane);
  touched_.reserve(lanes);
}

void PeArrayBlockTiming::check(const proto::TileJobExt& job) const {
  const proto::TileBox& box = job.block_box;
  const proto::TileGrid& grid = job.grid;
  if (box.b0 < 0 || box.i0 < 0 || box.j0 < 0 || box.k0 < 0 || box.b1 > grid.b || box.i1 > grid.i ||
      box.j1 > grid.j || box.k1 > grid.k || box.tiles() == 0)
    throw std::invalid_argument("PeArray: block beyond the op's tile grid");
  if (job.first_tile + job.tile_count > box.tiles())
    throw std::invalid_argument("PeArray: tile range beyond the block");
}

// The job's sparsities, tile cycles, loop nest, reuse and tile bytes. A functional run computes
// the job's tiles in the data path first: the pre-sparsity units' effectual MACs set each tile's
// cycles, the measured zeros the zero-free byte counts.
PeArrayBlockTiming::JobGeometry PeArrayBlockTiming::geometry(const proto::TileJobExt& job) {
  JobGeometry g;
  g.matmul = job.kind == proto::JobKind::matmul;
  g.reads_per_tile = job.kind == proto::JobKind::activation ? 1 : 2;
  g.a_sparsity = job.activation_sparsity;
  g.b_sparsity = job.weight_sparsity;
  g.output_sparsity = job.output_sparsity;
  if (array_.datapath_) {
    if (g.matmul) effectual_macs_.resize(job.tile_count);
    const JobData data = array_.datapath_->run_lane_job(
        job, g.matmul ? effectual_macs_.data() : nullptr, array_.post_.get());
    g.a_sparsity = data.a_sparsity;
    g.b_sparsity = data.b_sparsity;
    g.output_sparsity = data.out_sparsity();
  }
  g.tile = array_.tile_timing(job.kind, g.a_sparsity, g.b_sparsity);
  g.per_tile_cycles = array_.datapath_ && g.matmul;
  g.effectual_macs = job.tile_count * g.tile.effectual_macs;
  const AcceleratorConfig& cfg = array_.cfg_;
  if (g.matmul)
    g.dense_macs =
        job.tile_count * static_cast<uint64_t>(cfg.tile.b) * cfg.tile.x * cfg.tile.x * cfg.tile.y;
  if (g.per_tile_cycles) {  // one pass: each tile's lane cycles (prefix sums) and the job's MACs
    held_prefix_.resize(job.tile_count + 1);
    held_prefix_[0] = 0;
    g.effectual_macs = 0;
    for (uint64_t t = 0; t < job.tile_count; ++t) {
      held_prefix_[t + 1] =
          held_prefix_[t] +
          array_.tile_timing(job.kind, g.a_sparsity, g.b_sparsity, effectual_macs_.data() + t).held;
      g.effectual_macs += effectual_macs_[t];
    }
  }
  g.nest = LoopNest::of_box(job.block_box, job.loop_order);
  const OperandTileWords words =
      operand_tile_words(cfg.tile.b, cfg.tile.x, cfg.tile.y, g.matmul, job.b_operand_batched);
  g.bytes = operand_tile_bytes(words, array_.tech_.word_bits(), g.a_sparsity, g.b_sparsity,
                               g.output_sparsity);
  const bool b_depends_on_batch = !g.matmul || job.b_operand_batched;
  const auto fifo_words = static_cast<uint64_t>(array_.fifo_words_);
  g.reuse = run_reuse(g.matmul, g.nest.inner_dim(), b_depends_on_batch, words.a <= fifo_words,
                      words.b <= fifo_words);
  g.reduction = BlockReduction{job.block_box.k0, job.block_box.k1, job.grid.k};
  const int outer = g.nest.outer_dim();
  g.sharing = BroadcastSharing(g.matmul, outer, outer >= 0 ? g.nest.extent(outer) : 1,
                               static_cast<uint64_t>(array_.lanes_), b_depends_on_batch);
  return g;
}

// Lane cycles of the job's tiles [first, end) (block enumeration).
uint64_t PeArrayBlockTiming::held_cycles(const JobGeometry& g, const proto::TileJobExt& job,
                                         uint64_t first, uint64_t end) const {
  return g.per_tile_cycles
             ? held_prefix_[end - job.first_tile] - held_prefix_[first - job.first_tile]
             : (end - first) * g.tile.held;
}

// What the piece mapper needs to know of a block.
PieceMapperBlock PeArrayBlockTiming::mapper_block(const proto::TileJobExt& job,
                                                  const JobGeometry& g) const {
  PieceMapperBlock block;
  block.block_tiles = g.nest.tiles();
  block.run_length_tiles = g.nest.run_length_tiles();
  block.runs = g.nest.runs();
  block.lane_cycles_per_tile = g.tile.held;
  block.add_cycles = add_cycles_;
  block.matmul = g.matmul;
  block.reads_per_tile = g.reads_per_tile;
  block.reuse = g.reuse;
  block.reduction = g.reduction;
  block.bytes = g.bytes;
  block.a_in_weight_buffer = job.a_buffer == proto::Buffer::weight;
  block.b_in_weight_buffer = job.b_buffer == proto::Buffer::weight;
  return block;
}

// The block's lanes and pieces, chosen when its first job arrives: the mapper weighs each cut
// on the lanes the block can get, given when they are free (docs/compute.md, "Pieces").
PeArrayBlockTiming::BlockPlan& PeArrayBlockTiming::plan(const proto::TileJobExt& job,
                                                        const JobGeometry& g,
                                                        uint64_t request_cycle) {
  auto [it, inserted] = blocks_.try_emplace(block_key(job));
  BlockPlan& plan = it->second;
  if (!inserted) return plan;
  const AcceleratorConfig& cfg = array_.cfg_;
  PieceMapperArray mapper_array;
  mapper_array.total_lanes = array_.lane_free_.size();
  mapper_array.activation_port_bytes_per_cycle =
      static_cast<double>(cfg.banks("activation")) * cfg.buffer_ports.bank_width_bytes;
  mapper_array.weight_port_bytes_per_cycle =
      static_cast<double>(cfg.banks("weight")) * cfg.buffer_ports.bank_width_bytes;
  const PieceMapperBlock block = mapper_block(job, g);
  const PieceMapper mapper(mapper_array, g.sharing);
  // The cycles until each candidate number of lanes is free, counted from the request.
  LaneCandidates candidates = mapper.lane_candidates(block);
  select_earliest_free(array_.lane_free_, candidates.lanes, candidates.count, lane_order_,
                       candidates.wait_cycles);
  for (int c = 0; c < candidates.count; ++c)
    candidates.wait_cycles[c] -= std::min(candidates.wait_cycles[c], request_cycle);
  const PieceMapper::Choice choice = mapper.choose(block, candidates);
  plan.layout = PieceLayout{block.run_length_tiles, choice.piece_tiles, block.runs};
  take_earliest_lanes(lane_order_, static_cast<size_t>(choice.lanes), plan.lanes);
  plan.tiles_left = block.block_tiles;
  return plan;
}

// The reduction across lanes of a run over k cut into pieces (docs/compute.md, "Reductions
// across lanes"), at the end of one of its pieces: the piece's lane does its additions of the
// tree right after the piece; the root (the run's last piece) ends no earlier than one addition
// after the other pieces' sums are ready. Returns the additions done on this lane.
uint64_t PeArrayBlockTiming::reduce_after_piece(BlockPlan& plan, const PieceSpan& span,
                                                uint64_t& lane_free) {
  const uint64_t pieces = plan.layout.pieces_per_run();
  if (pieces <= 1) return 0;
  if (span.run != plan.reduction_run) {  // a run's pieces come in order, run after run
    plan.reduction_run = span.run;
    plan.run_sums_ready_cycle = 0;
  }
  const uint64_t additions = PieceReduction::additions_of_piece(span.piece_in_run, pieces);
  lane_free += additions * add_cycles_;
  if (span.piece_in_run + 1 < pieces)
    plan.run_sums_ready_cycle = std::max(plan.run_sums_ready_cycle, lane_free);
  else
    lane_free = std::max(lane_free, plan.run_sums_ready_cycle + add_cycles_);
  return additions;
}

// Reserves the lanes piece span by piece span; counts operand reads, partial sums and outputs.
PieceTrafficCounter PeArrayBlockTiming::run_pieces(const proto::TileJobExt& job,
                                                   const JobGeometry& g, BlockPlan& plan,
                                                   uint64_t request_cycle, LaneJobResult& result) {
  PieceTrafficCounter traffic;
  const uint64_t lanes_used = plan.lanes.size();
  const uint64_t end = job.first_tile + job.tile_count;
  const uint64_t run_length = plan.layout.run_length_tiles;
  touched_.clear();
  for (uint64_t first = job.first_tile; first < end;) {
    const PieceSpan span = plan.layout.span(first, end);
    const uint32_t lane = plan.lanes[plan.layout.lane_slot(span) % lanes_used];
    // Tile t of the job is issued at request + t / issue_width; a lane starts a tile at the
    // later of its free cycle and the tile's issue.
    const uint64_t issue =
        request_cycle + (job.issue_width ? (first - job.first_tile) / job.issue_width : 0);
    uint64_t& lane_free = array_.lane_free_[lane];
    const uint64_t start = std::max(lane_free, issue);
    lane_free = start + held_cycles(g, job, span.first, span.end);
    if (g.reuse.psum_in_lane && span.ends_piece())
      traffic.reduction_additions += reduce_after_piece(plan, span, lane_free);
    touched_.push_back(lane);
    result.first_start_cycle = std::min(result.first_start_cycle, start);
    result.completion_cycle = std::max(result.completion_cycle, lane_free);
    first = span.end;
    if (!g.matmul) {
      traffic.final_outputs += span.tiles();
      continue;
    }
    const int64_t k_of_last_tile = g.reduction.k0 + g.nest.index_at(proto::kLoopK, span.end - 1);
    traffic.count_matmul(span, g.reuse, run_length, g.reduction, k_of_last_tile);
  }
  if (!g.matmul) {
    traffic.reads_a = job.tile_count;
    traffic.reads_b = g.reads_per_tile == 2 ? job.tile_count : 0;
  }
  return traffic;
}

// Operand reads left after FIFO reuse and broadcast; broadcast savings are counted over the
// whole block (cumulative, rounded once), so the grouping of its tiles into jobs does not
// change them.
OperandReads PeArrayBlockTiming::count_reads(const proto::TileJobExt& job, const JobGeometry& g,
                                             BlockPlan& plan, const PieceTrafficCounter& traffic,
                                             LaneJobResult& result) {
  plan.cumulative.a += traffic.reads_a;
  plan.cumulative.b += traffic.reads_b;
  const OperandReads block_so_far =
      g.sharing.apply(plan.cumulative.a, plan.cumulative.b, plan.lanes.size());
  OperandReads reads{traffic.reads_a, traffic.reads_b,
                     block_so_far.broadcast_a - plan.cumulative.broadcast_a,
                     block_so_far.broadcast_b - plan.cumulative.broadcast_b};
  plan.cumulative.broadcast_a = block_so_far.broadcast_a;
  plan.cumulative.broadcast_b = block_so_far.broadcast_b;
  PeArrayStats& counts = array_.counts_;
  const uint64_t tiles = job.tile_count;
  if (g.matmul) {
    counts.fifo_reuse_first += tiles - reads.a;
    counts.fifo_reuse_second += tiles - reads.b;
    counts.broadcast_first += reads.broadcast_a;
    counts.broadcast_second += reads.broadcast_b;
    reads.a -= reads.broadcast_a;
    reads.b -= reads.broadcast_b;
    counts.matmul_tiles += tiles;
    counts.dense_macs += g.dense_macs;
    counts.effectual_macs += g.effectual_macs;
  } else {
    (job.kind == proto::JobKind::elementwise ? counts.ewise_tiles : counts.act_tiles) += tiles;
  }
  const uint64_t total = reads.a + reads.b;
  counts.operand_reads += total;
  result.operand_reads = total;
  result.operand_reads_saved = static_cast<uint64_t>(g.reads_per_tile) * tiles - total;
  counts.psum_in_lane_tiles += traffic.psum_in_lane_tiles;
  return reads;
}

// Traffic per buffer. Operands come from the buffer their tensor lives in; partial sums and
// outputs go to the activation buffer; parameters (biases, gamma/beta) are read once per output
// tile from the weight buffer.
PeArrayBlockTiming::BufferBytes PeArrayBlockTiming::buffer_bytes(
    const proto::TileJobExt& job, const JobGeometry& g, const OperandReads& reads,
    const PieceTrafficCounter& traffic) {
  const OperandTileBytes& tile = g.bytes;
  BufferBytes bytes;
  const uint64_t a_data = reads.a * tile.a_data, b_data = reads.b * tile.b_data;
  const bool a_in_weight = job.a_buffer == proto::Buffer::weight;
  const bool b_in_weight = job.b_buffer == proto::Buffer::weight;
  (a_in_weight ? bytes.weight_read : bytes.activation_read) += a_data;
  (b_in_weight ? bytes.weight_read : bytes.activation_read) += b_data;
  bytes.mask_read = reads.a * tile.a_mask + reads.b * tile.b_mask;
  bytes.activation_read += traffic.psum_reads * tile.psum;
  bytes.activation_write =
      traffic.psum_writes * tile.psum + traffic.final_outputs * tile.output_data;
  bytes.mask_write = traffic.final_outputs * tile.output_mask;
  bytes.params = traffic.final_outputs * job.param_words_per_tile *
                 static_cast<uint64_t>(array_.tech_.word_bits()) / 8;
  bytes.weight_read += bytes.params;
  bytes.operand = a_data + b_data + bytes.mask_read;
  PeArrayStats& counts = array_.counts_;
  counts.activation_read_bytes += (a_in_weight ? 0 : a_data) + (b_in_weight ? 0 : b_data);
  counts.weight_read_bytes += (a_in_weight ? a_data : 0) + (b_in_weight ? b_data : 0);
  counts.mask_read_bytes += bytes.mask_read;
  counts.psum_read_bytes += traffic.psum_reads * tile.psum;
  counts.psum_write_bytes += traffic.psum_writes * tile.psum;
  counts.output_write_bytes += traffic.final_outputs * (tile.output_data + tile.output_mask);
  counts.param_read_bytes += bytes.params;
  return bytes;
}

// The ports are requested when the job is issued (so requests reach them in issue order); the
// job ends when lanes and ports are done, and lanes that finish before their operands arrive
// stall until then. Functional top-k: the sorting networks run after the block's lanes.
void PeArrayBlockTiming::finish_on_ports(const BufferBytes& bytes, uint64_t request_cycle,
                                         uint64_t lanes_used, LaneJobResult& result) {
  PeArray& a = array_;
  const double mhz = a.tech_.clock_mhz;
  tlm::tlm_generic_payload& gp = a.port_gp_;
  const uint64_t request = request_cycle;
  uint64_t ports_done =
      proto::port_transfer(a.activation_port, gp, request, bytes.activation_read, false, mhz);
  ports_done = std::max(ports_done, proto::port_transfer(a.activation_port, gp, request,
                                                         bytes.activation_write, true, mhz));
  ports_done = std::max(
      ports_done, proto::port_transfer(a.weight_port, gp, request, bytes.weight_read, false, mhz));
  ports_done = std::max(
      ports_done, proto::port_transfer(a.mask_port, gp, request, bytes.mask_read, false, mhz));
  ports_done = std::max(
      ports_done, proto::port_transfer(a.mask_port, gp, request, bytes.mask_write, true, mhz));
  auto stall_lanes_until = [&](uint64_t cycle) {
    for (uint32_t lane : touched_) a.lane_free_[lane] = std::max(a.lane_free_[lane], cycle);
    result.completion_cycle = cycle;
  };
  if (ports_done > result.completion_cycle) stall_lanes_until(ports_done);
  if (a.datapath_ && a.post_) {
    const uint64_t topk_cycles = a.post_->take_topk_cycles();
    if (topk_cycles > 0) {
      stall_lanes_until(result.completion_cycle +
                        div_up(topk_cycles, std::max<uint64_t>(lanes_used, 1)));
      a.post_sparsity_busy_cycles_ += topk_cycles;
    }
  }
  for (uint32_t lane : touched_) {
    const size_t pe = lane / static_cast<uint32_t>(a.lanes_);
    a.pe_free_[pe] = std::max(a.pe_free_[pe], a.lane_free_[lane]);
  }
}

// Busy cycles of the units, counters, and what the job did (added to the job's extension).
void PeArrayBlockTiming::charge(proto::TileJobExt& job, const JobGeometry& g,
                                const OperandReads& reads, const BufferBytes& bytes,
                                const PieceTrafficCounter& traffic, const LaneJobResult& result) {
  PeArray& a = array_;
  const uint64_t tiles = job.tile_count;
  // Lane cycles of the tiles (held = charged in the hardware profile) and of the partial-sum
  // additions; the additions read no operand FIFO and walk no mask.
  const uint64_t reduction_cycles = traffic.reduction_additions * add_cycles_;
  const uint64_t held = result.busy_unit_cycles - reduction_cycles;
  const uint64_t operand_reads = reads.a + reads.b;
  a.lane_busy_cycles_ += held + reduction_cycles;
  a.pre_sparsity_busy_cycles_ += tiles * g.tile.pre_walk;
  a.post_sparsity_busy_cycles_ += tiles * g.tile.post_walk;
  a.fifo_busy_cycles_ += held;
  a.dataflow_busy_cycles_ += PeArray::kDataflowCycles * operand_reads;
  PeArrayStats& counts = a.counts_;
  ++counts.jobs;
  counts.tiles += tiles;
  counts.reduction_additions += traffic.reduction_additions;
  counts.last_completion_cycle = std::max(counts.last_completion_cycle, result.completion_cycle);
  job.busy_unit_cycles += result.busy_unit_cycles;
  job.operand_reads_saved += result.operand_reads_saved;
  proto::JobTraffic& jt = job.traffic;
  jt.start_cycle = std::min(jt.start_cycle, result.first_start_cycle);
  if (g.matmul) {
    jt.dense_macs += g.dense_macs;
    jt.effectual_macs += g.effectual_macs;
  }
  const OperandTileBytes& tile = g.bytes;
  jt.operand_bytes += bytes.operand;
  jt.psum_bytes += (traffic.psum_reads + traffic.psum_writes) * tile.psum;
  jt.output_bytes += traffic.final_outputs * (tile.output_data + tile.output_mask);
  jt.param_bytes += bytes.params;
  const Technology& tech = a.tech_;
  jt.unit_energy_nj +=
      tech.nj_per_cycle(a.lane_fig_.dynamic_mw + tech.fifo.dynamic_mw) * static_cast<double>(held) +
      tech.nj_per_cycle(a.lane_fig_.dynamic_mw) * static_cast<double>(reduction_cycles) +
      tech.nj_per_cycle(tech.pre_sparsity.dynamic_mw) *
          static_cast<double>(tiles * g.tile.pre_walk) +
      tech.nj_per_cycle(tech.post_sparsity.dynamic_mw) *
          static_cast<double>(tiles * g.tile.post_walk) +
      tech.nj_per_cycle(tech.dataflow.dynamic_mw) *
          static_cast<double>(PeArray::kDataflowCycles * operand_reads);
}

LaneJobResult PeArrayBlockTiming::dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                                           const uint64_t* effectual_macs) {
  if (effectual_macs) return per_tile_.dispatch(job, request_cycle, effectual_macs);
  check(job);
  const JobGeometry g = geometry(job);
  BlockPlan& block = plan(job, g, request_cycle);
  LaneJobResult result;
  result.request_cycle = request_cycle;
  result.first_start_cycle = job.tile_count ? ~0ULL : request_cycle;
  result.completion_cycle = request_cycle;
  result.tiles = job.tile_count;
  result.busy_unit_cycles = held_cycles(g, job, job.first_tile, job.first_tile + job.tile_count);
  const PieceTrafficCounter traffic = run_pieces(job, g, block, request_cycle, result);
  result.busy_unit_cycles += traffic.reduction_additions * add_cycles_;
  const OperandReads reads = count_reads(job, g, block, traffic, result);
  const BufferBytes bytes = buffer_bytes(job, g, reads, traffic);
  result.activation_read_bytes = bytes.activation_read;
  result.weight_read_bytes = bytes.weight_read;
  result.mask_read_bytes = bytes.mask_read;
  finish_on_ports(bytes, request_cycle, block.lanes.size(), result);
  charge(job, g, reads, bytes, traffic, result);
  block.tiles_left -= std::min(block.tiles_left, job.tile_count);
  if (block.tiles_left == 0) blocks_.erase(block_key(job));
  array_.last_ = result;
  return result;
}

}  // namespace acceltran
