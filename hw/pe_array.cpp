#include "pe_array.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "compiler.hpp"
#include "tiling.hpp"

namespace acceltran {

namespace {

// ceil() that ignores floating-point dust (e.g. 4096 * 0.25 computed as 1024.0000000001).
uint64_t ceil_eps(double x) {
  if (x <= 0) return 0;
  return static_cast<uint64_t>(std::ceil(x - 1e-9));
}
uint64_t div_up(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

PeArray::PeArray(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const Technology& tech,
                 const SimOptions& opts)
    : sc_core::sc_module(name),
      target("target"),
      cfg_(cfg),
      tech_(tech),
      opts_(opts),
      pes_(cfg.pe),
      lanes_(cfg.lanes_per_pe),
      macs_(cfg.mac_per_lane) {
  if (pes_ <= 0 || lanes_ <= 0 || macs_ <= 0)
    throw std::invalid_argument("PeArray: pe, lanes_per_pe and mac_per_lane must be positive");
  tech_.lane(macs_, cfg_.non_linearity);  // throws early if the technology lacks the figures
  const size_t lanes = static_cast<size_t>(pes_) * lanes_;
  lane_free_.assign(lanes, 0);
  lane_prev_.assign(lanes, TileIndex{});
  lane_prev_op_.assign(lanes, nullptr);
  next_lane_.assign(static_cast<size_t>(pes_), 0);
  pe_free_.assign(static_cast<size_t>(pes_), 0);
  bc_first_.assign(lanes, Broadcast{});
  bc_second_.assign(lanes, Broadcast{});
  bc_pos_first_.assign(static_cast<size_t>(pes_), 0);
  bc_pos_second_.assign(static_cast<size_t>(pes_), 0);
  target.register_b_transport(this, &PeArray::b_transport);
}

LaneTileTiming PeArray::tile_timing(const Op& op, Opcode opcode, double sa, double sw,
                                    const uint64_t* effectual) const {
  (void)op;
  const uint64_t tb = cfg_.tile.b, tx = cfg_.tile.x, ty = cfg_.tile.y;
  const uint64_t m = static_cast<uint64_t>(macs_);
  const bool bert = opts_.profile == Profile::bert;
  const uint64_t elems = tb * tx * ty;  // elements of one (tb, tx, ty) operand / output tile
  LaneTileTiming t;
  if (opcode == Opcode::MATMUL) {
    const uint64_t dense = tb * tx * ty * ty;
    if (bert) {
      t.effectual_macs =
          effectual ? *effectual : ceil_eps(static_cast<double>(dense) * (1.0 - sa) * (1.0 - sw));
      const uint64_t compute = div_up(t.effectual_macs, m);
      const uint64_t walk = div_up(elems, m);
      t.held = t.charged = kPipelineDepth + std::max(compute, walk);
      t.pre_walk = t.post_walk = walk;
    } else {
      // Published formula: ceil(tb*tx*ty*ty / M * (1 - s_a)), held N + 1, charged N.
      t.effectual_macs = effectual ? *effectual : ceil_eps(static_cast<double>(dense) * (1.0 - sa));
      const uint64_t n = ceil_eps(static_cast<double>(dense) / static_cast<double>(m) * (1.0 - sa));
      t.held = n + 1;
      t.charged = n;
    }
  } else if (opcode == Opcode::EWISE || opcode == Opcode::ACT) {
    if (bert) {
      const uint64_t compute = div_up(elems, m);  // M adders / activation units per cycle
      t.held = t.charged = kPipelineDepth + compute;
      t.pre_walk = t.post_walk = compute;
    } else {
      t.held = 2;  // published: 1-cycle activation tiles, held N + 1
      t.charged = 1;
    }
  } else {
    throw std::invalid_argument(std::string("PeArray: opcode ") + to_string(opcode) +
                                " does not run on MAC lanes");
  }
  return t;
}

bool PeArray::broadcast_hit(const std::vector<Broadcast>& ring, size_t pe, const Op* op,
                            const TileIndex& t, uint64_t start, bool first) const {
  const Broadcast* b = ring.data() + pe * static_cast<size_t>(lanes_);
  for (int e = 0; e < lanes_; ++e)
    if (b[e].cycle == start && b[e].op == op &&
        (first ? reuses_first(b[e].tile, t) : reuses_second(b[e].tile, t)))
      return true;
  return false;
}

int PeArray::pick_pe(int requested) {
  if (requested >= 0) {
    if (requested >= pes_) throw std::invalid_argument("PeArray: job.pe out of range");
    return requested;
  }
  if (chunk_left_ == 0) {
    int best = 0;
    for (int p = 1; p < pes_; ++p)
      if (pe_free_[static_cast<size_t>(p)] < pe_free_[static_cast<size_t>(best)]) best = p;
    chunk_pe_ = best;
    chunk_left_ = lanes_;
  }
  --chunk_left_;
  return chunk_pe_;
}

LaneJobResult PeArray::dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                                const uint64_t* effectual_macs) {
  if (!job.op) throw std::invalid_argument("PeArray: job without op");
  const Op& op = *job.op;
  const Opcode opcode = job.opcode;
  const double sa = job.activation_sparsity, sw = job.weight_sparsity;
  const LaneTileTiming base = tile_timing(op, opcode, sa, sw, nullptr);
  const TileWalker walker(op, job.loop_order);
  if (job.first_tile + job.tile_count > walker.count())
    throw std::invalid_argument("PeArray: tile range beyond the op's tile grid");

  const bool bert = opts_.profile == Profile::bert;
  const bool matmul = opcode == Opcode::MATMUL;
  const int wb = tech_.word_bits();
  const uint64_t tb = cfg_.tile.b, tx = cfg_.tile.x, ty = cfg_.tile.y;
  // Operand tiles: first = activation (tb x tx x ty); second = weight tile (tx x ty) or, for a
  // batched second operand (Q.K^T, P.V) and EWISE, an activation tile.
  const uint64_t elems1 = tb * tx * ty;
  const int reads_per_tile = opcode == Opcode::ACT ? 1 : 2;
  const bool second_is_weight = matmul && !op.b_operand_batched;
  const uint64_t elems2 = matmul ? (op.b_operand_batched ? tb * tx * ty : tx * ty) : elems1;
  const double s2 = matmul ? sw : sa;
  const uint64_t data1 = zero_free_bytes(elems1, wb, sa), mask1 = mask_bytes_for(elems1);
  const uint64_t data2 = zero_free_bytes(elems2, wb, s2), mask2 = mask_bytes_for(elems2);
  const uint64_t blocks1 = div_up(data1, 64), mblocks1 = div_up(mask1, 64);
  const uint64_t blocks2 = div_up(data2, 64), mblocks2 = div_up(mask2, 64);

  LaneJobResult r;
  r.request_cycle = request_cycle;
  r.first_start_cycle = ~0ULL;
  r.completion_cycle = request_cycle;
  r.tiles = job.tile_count;
  PeArrayStats& c = counts_;
  const size_t lanes = static_cast<size_t>(lanes_);

  for (uint64_t t = 0; t < job.tile_count; ++t) {
    const TileIndex ti = walker.at(job.first_tile + t);
    const LaneTileTiming tt =
        effectual_macs ? tile_timing(op, opcode, sa, sw, effectual_macs + t) : base;
    const int pe = pick_pe(job.pe);
    const size_t p = static_cast<size_t>(pe);
    const int lane = next_lane_[p];
    next_lane_[p] = lane + 1 == lanes_ ? 0 : lane + 1;
    const size_t g = p * lanes + static_cast<size_t>(lane);
    const uint64_t start = std::max(request_cycle, lane_free_[g]);
    const uint64_t end = start + tt.held;
    lane_free_[g] = end;
    pe_free_[p] = std::max(pe_free_[p], end);
    r.first_start_cycle = std::min(r.first_start_cycle, start);
    r.completion_cycle = std::max(r.completion_cycle, end);
    r.busy_unit_cycles += tt.held;

    // Operand reads: FIFO reuse first, then the dataflow module's broadcast of an operand tile
    // read for another lane of this PE starting in the same cycle, else a buffer read.
    uint64_t reads1 = 0, reads2 = 0;
    if (matmul) {
      const bool same_op = lane_prev_op_[g] == &op;
      if (same_op && reuses_first(lane_prev_[g], ti)) {
        ++c.fifo_reuse_first;
      } else if (broadcast_hit(bc_first_, p, &op, ti, start, true)) {
        ++c.broadcast_first;
      } else {
        reads1 = 1;
        bc_first_[p * lanes + bc_pos_first_[p]] = Broadcast{&op, ti, start};
        bc_pos_first_[p] = bc_pos_first_[p] + 1 == lanes_ ? 0 : bc_pos_first_[p] + 1;
      }
      if (same_op && reuses_second(lane_prev_[g], ti)) {
        ++c.fifo_reuse_second;
      } else if (broadcast_hit(bc_second_, p, &op, ti, start, false)) {
        ++c.broadcast_second;
      } else {
        reads2 = 1;
        bc_second_[p * lanes + bc_pos_second_[p]] = Broadcast{&op, ti, start};
        bc_pos_second_[p] = bc_pos_second_[p] + 1 == lanes_ ? 0 : bc_pos_second_[p] + 1;
      }
      lane_prev_[g] = ti;
      lane_prev_op_[g] = &op;
      ++c.matmul_tiles;
      c.dense_macs += tb * tx * ty * ty;
      c.effectual_macs += tt.effectual_macs;
    } else {
      reads1 = 1;
      reads2 = reads_per_tile == 2 ? 1 : 0;
      lane_prev_op_[g] = nullptr;  // the FIFO now holds other data
      if (opcode == Opcode::EWISE)
        ++c.ewise_tiles;
      else
        ++c.act_tiles;
    }
    const uint64_t reads = reads1 + reads2;
    r.operand_reads += reads;
    r.operand_reads_saved += static_cast<uint64_t>(reads_per_tile) - reads;
    c.operand_reads += reads;
    c.activation_read_bytes += reads1 * data1;
    c.activation_read_blocks += reads1 * blocks1;
    if (second_is_weight) {
      c.weight_read_bytes += reads2 * data2;
      c.weight_read_blocks += reads2 * blocks2;
    } else {
      c.activation_read_bytes += reads2 * data2;
      c.activation_read_blocks += reads2 * blocks2;
    }
    c.mask_read_bytes += reads1 * mask1 + reads2 * mask2;
    c.mask_read_blocks += reads1 * mblocks1 + reads2 * mblocks2;
    r.activation_read_bytes += reads1 * data1 + (second_is_weight ? 0 : reads2 * data2);
    r.weight_read_bytes += second_is_weight ? reads2 * data2 : 0;
    r.mask_read_bytes += reads1 * mask1 + reads2 * mask2;

    lane_busy_ += tt.charged;
    if (bert) {
      pre_busy_ += tt.pre_walk;
      post_busy_ += tt.post_walk;
      fifo_busy_ += tt.charged;
      dataflow_busy_ += kDataflowCycles * reads;
    }
  }
  if (job.tile_count == 0) r.first_start_cycle = request_cycle;
  ++c.jobs;
  c.tiles += job.tile_count;
  c.last_completion_cycle = std::max(c.last_completion_cycle, r.completion_cycle);
  job.busy_unit_cycles += r.busy_unit_cycles;
  job.operand_reads_saved += r.operand_reads_saved;
  last_ = r;
  return r;
}

PeArrayStats PeArray::stats(uint64_t elapsed_cycles) const {
  PeArrayStats s = counts_;
  const uint64_t lanes = static_cast<uint64_t>(cfg_.total_lanes());
  const bool idle = opts_.leakage_when_idle;
  s.lanes = energy_of(tech_, tech_.lane(macs_, cfg_.non_linearity), lane_busy_, lanes, idle,
                      elapsed_cycles);
  s.pre_sparsity = energy_of(tech_, tech_.pre_sparsity, pre_busy_, lanes, idle, elapsed_cycles);
  s.post_sparsity = energy_of(tech_, tech_.post_sparsity, post_busy_, lanes, idle, elapsed_cycles);
  s.fifo = energy_of(tech_, tech_.fifo, fifo_busy_, lanes, idle, elapsed_cycles);
  s.dataflow = energy_of(tech_, tech_.dataflow, dataflow_busy_, static_cast<uint64_t>(pes_), idle,
                         elapsed_cycles);
  auto per_block = [&](const char* buf, double mb) {
    return tech_.buffers.at(buf).access_energy_nj * std::sqrt(mb);
  };
  s.activation_read_nj = static_cast<double>(s.activation_read_blocks) *
                         per_block("activation", cfg_.activation_buffer_mb);
  s.weight_read_nj =
      static_cast<double>(s.weight_read_blocks) * per_block("weight", cfg_.weight_buffer_mb);
  s.mask_read_nj = static_cast<double>(s.mask_read_blocks) * per_block("mask", cfg_.mask_buffer_mb);
  return s;
}

void PeArray::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  proto::serve_tile_job(gp, delay, tech_.clock_mhz,
                        [this](proto::TileJobExt& job, uint64_t request) {
                          return dispatch(job, request).completion_cycle;
                        });
}

}  // namespace acceltran
