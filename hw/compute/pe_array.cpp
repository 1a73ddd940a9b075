#include "pe_array.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "compiler.hpp"
#include "parts.hpp"
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
      activation_port("activation_port"),
      weight_port("weight_port"),
      mask_port("mask_port"),
      dynatran_port("dynatran_port"),
      cfg_(cfg),
      tech_(tech),
      opts_(opts),
      pes_(cfg.pe),
      lanes_(cfg.lanes_per_pe),
      macs_(cfg.mac_per_lane),
      fifo_words_(cfg.fifo_depth_words > 0 ? cfg.fifo_depth_words : tech.fifo_depth_words) {
  if (pes_ <= 0 || lanes_ <= 0 || macs_ <= 0)
    throw std::invalid_argument("PeArray: pe, lanes_per_pe and mac_per_lane must be positive");
  lane_fig_ = tech_.lane(macs_, cfg_.non_linearity);  // throws early if the figures are missing
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
  lane_order_.resize(lanes);
  for (size_t l = 0; l < lanes; ++l) lane_order_[l] = static_cast<uint32_t>(l);
  touched_.reserve(lanes);
  target.register_b_transport(this, &PeArray::b_transport);
}

void PeArray::set_datapath(Datapath* d) {
  datapath_ = d;
  post_ = make_dynatran_port(d, dynatran_port);
}

LaneTileTiming PeArray::tile_timing(const Op& op, Opcode opcode, double sa, double sw,
                                    const uint64_t* effectual) const {
  (void)op;
  const uint64_t tb = cfg_.tile.b, tx = cfg_.tile.x, ty = cfg_.tile.y;
  const uint64_t m = static_cast<uint64_t>(macs_);
  const bool hardware = opts_.profile == Profile::hardware;
  const uint64_t elems = tb * tx * ty;  // elements of one (tb, tx, ty) operand / output tile
  LaneTileTiming t;
  if (opcode == Opcode::MATMUL) {
    const uint64_t dense = tb * tx * ty * ty;
    if (hardware) {
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
    if (hardware) {
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
  if (opts_.profile == Profile::hardware && !effectual_macs) return dispatch_block(job, request_cycle);
  const Op& op = *job.op;
  const Opcode opcode = job.opcode;
  const double sa = job.activation_sparsity, sw = job.weight_sparsity;
  const LaneTileTiming base = tile_timing(op, opcode, sa, sw, nullptr);
  const TileWalker walker(op, job.loop_order);
  if (job.first_tile + job.tile_count > walker.count())
    throw std::invalid_argument("PeArray: tile range beyond the op's tile grid");

  const bool hardware = opts_.profile == Profile::hardware;
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
    if (hardware) {
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
  s.lanes = energy_of(tech_, lane_fig_, lane_busy_, lanes, idle, elapsed_cycles);
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

LaneJobResult PeArray::dispatch_block(proto::TileJobExt& job, uint64_t request_cycle) {
  const Op& op = *job.op;
  const Opcode opcode = job.opcode;
  const bool matmul = opcode == Opcode::MATMUL;
  if (!matmul && opcode != Opcode::EWISE && opcode != Opcode::ACT)
    throw std::invalid_argument(std::string("PeArray: opcode ") + to_string(opcode) +
                                " does not run on MAC lanes");
  const BlockGrid bg = block_grid(op);
  if (job.block >= bg.blocks())
    throw std::invalid_argument("PeArray: block beyond the op's blocks");
  const BlockBox box = block_box(op, bg, job.block);
  const uint64_t T = box.tiles();
  if (job.first_tile + job.tile_count > T)
    throw std::invalid_argument("PeArray: tile range beyond the block");
  double sa = job.activation_sparsity, sb = job.weight_sparsity, so = job.output_sparsity;
  // Functional run: the data path computes the job's tiles; the pre-sparsity units' effectual
  // MACs set each tile's cycles, the measured zeros the zero-free byte counts.
  const bool fn = datapath_ != nullptr;
  if (fn) {
    if (matmul) eff_.resize(job.tile_count);
    const JobData jd =
        datapath_->run_lane_job(op, job.block, job.loop_order, job.first_tile, job.tile_count,
                                matmul ? eff_.data() : nullptr, post_.get());
    sa = jd.a_sparsity;
    sb = jd.b_sparsity;
    so = jd.out_sparsity();
  }
  const LaneTileTiming tt = tile_timing(op, opcode, sa, sb, nullptr);
  const bool per_tile = fn && matmul;
  uint64_t eff_all = job.tile_count * tt.effectual_macs;
  if (per_tile) {  // one pass: each tile's lane cycles (prefix sums) and the job's MACs
    held_prefix_.resize(job.tile_count + 1);
    held_prefix_[0] = 0;
    eff_all = 0;
    for (uint64_t t = 0; t < job.tile_count; ++t) {
      held_prefix_[t + 1] = held_prefix_[t] + tile_timing(op, opcode, sa, sb, eff_.data() + t).held;
      eff_all += eff_[t];
    }
  }
  // Lane cycles of the job's tiles [u0, u1) (block enumeration) and of all its tiles.
  auto held_of = [&](uint64_t u0, uint64_t u1) {
    return per_tile ? held_prefix_[u1 - job.first_tile] - held_prefix_[u0 - job.first_tile]
                    : (u1 - u0) * tt.held;
  };
  const uint64_t held_all = held_of(job.first_tile, job.first_tile + job.tile_count);

  // Loop nest of the block: dims in loop order with extent > 1 (0:b 1:i 2:j 3:k).
  const int64_t ext[4] = {box.eb(), box.ei(), box.ej(), box.ek()};
  int eff[4], ne = 0;
  for (char c : job.loop_order.dims) {
    const int d = c == 'b' ? 0 : c == 'i' ? 1 : c == 'j' ? 2 : 3;
    if (ext[d] > 1) eff[ne++] = d;
  }
  int64_t stride[4] = {1, 1, 1, 1};  // stride of dim d in the block's enumeration
  for (int p = ne - 1, acc = 1; p >= 0; --p) {
    stride[eff[p]] = acc;
    acc *= static_cast<int>(ext[eff[p]]);
  }
  const int inner = ne > 0 ? eff[ne - 1] : -1;  // varies along a run
  const int outer = ne > 1 ? eff[ne - 2] : -1;  // differs between neighbouring lanes
  const uint64_t R = inner >= 0 ? static_cast<uint64_t>(ext[inner]) : 1;
  const uint64_t runs = T / R;

  // Operand tiles: A (tb x tx x tx), B (tx x ty, x tb if batched); outputs tb x tx x ty.
  const int wb = tech_.word_bits();
  const uint64_t tb = cfg_.tile.b, tx = cfg_.tile.x, ty = cfg_.tile.y;
  const uint64_t out_elems = tb * tx * ty;
  const uint64_t a_elems = matmul ? tb * tx * tx : out_elems;
  const uint64_t b_elems = matmul ? (op.b_operand_batched ? tb * tx * ty : tx * ty) : out_elems;
  const uint64_t a_bytes = zero_free_bytes(a_elems, wb, sa), a_mask = mask_bytes_for(a_elems);
  const uint64_t b_bytes = zero_free_bytes(b_elems, wb, sb), b_mask = mask_bytes_for(b_elems);
  const uint64_t o_bytes = zero_free_bytes(out_elems, wb, so);
  const uint64_t o_mask = mask_bytes_for(out_elems);
  const uint64_t psum_bytes = zero_free_bytes(out_elems, wb, 0.0);  // dense words
  const bool fifo_a = a_elems <= static_cast<uint64_t>(fifo_words_);
  const bool fifo_b = b_elems <= static_cast<uint64_t>(fifo_words_);
  const bool b_has_b = !matmul || op.b_operand_batched;  // B depends on the batch index
  // Run kinds (matmul): which operand a run keeps, and whether partial sums stay in the lane.
  const bool keep_a = matmul && inner == 2 && fifo_a;
  const bool keep_b = matmul && (inner == 1 || (inner == 0 && !b_has_b)) && fifo_b;
  const bool psum_in_lane = matmul && inner == 3;
  const int reads_per_tile = opcode == Opcode::ACT ? 1 : 2;

  // Lanes of the block, chosen when its first job arrives: runs are cut into pieces of Rp tiles
  // when there are fewer runs than lanes (a piece boundary costs the partial-sum round trip or
  // the operand re-read that the run saved); Rp minimises the larger of the lane time and the
  // port time of that extra traffic. The block takes the lanes free earliest.
  const uint64_t key = (static_cast<uint64_t>(op.id) << 32) | job.block;
  auto [it, fresh] = blocks_.try_emplace(key);
  BlockLanes& bl = it->second;
  // Dataflow broadcast: the lanes of a PE start their pieces together; neighbouring lanes hold
  // the same piece of neighbouring runs, which differ in the loop index just outside the run. An
  // operand that does not depend on that index is read once per group of lanes that share it.
  struct Reads {
    uint64_t a = 0, b = 0, bc_a = 0, bc_b = 0;
  };
  auto broadcast = [&](uint64_t reads_a, uint64_t reads_b, uint64_t lanes_used) {
    Reads x{reads_a, reads_b, 0, 0};
    const uint64_t per_pe = std::min<uint64_t>(static_cast<uint64_t>(lanes_), lanes_used);
    if (!matmul || outer < 0 || per_pe <= 1) return x;
    const uint64_t groups = (per_pe + ext[outer] - 1) / static_cast<uint64_t>(ext[outer]);
    auto shared = [&](uint64_t reads) { return reads - (reads * groups + per_pe - 1) / per_pe; };
    if (outer == 2) x.bc_a = shared(reads_a);                              // A: (b, i, k)
    if (outer == 1 || (outer == 0 && !b_has_b)) x.bc_b = shared(reads_b);  // B: (k, j) [, b]
    x.a -= x.bc_a;
    x.b -= x.bc_b;
    return x;
  };
  if (fresh) {
    // Mapper: estimated lane time and port time of the whole block for each piece length.
    const uint64_t L = lane_free_.size();
    const double act_rate =
        static_cast<double>(cfg_.banks("activation")) * cfg_.buffer_ports.bank_width_bytes;
    const double wgt_rate =
        static_cast<double>(cfg_.banks("weight")) * cfg_.buffer_ports.bank_width_bytes;
    const uint64_t ek = static_cast<uint64_t>(box.ek());
    bl.piece = R;
    double best = -1, best_t = 0;
    for (uint64_t s = 1; s <= R && (s == 1 || runs * s <= 2 * L); s *= 2) {
      const uint64_t rp = (R + s - 1) / s, ppr = (R + rp - 1) / rp, pieces = runs * ppr;
      const uint64_t used = std::min(pieces, L);
      const double lanes_t = static_cast<double>((pieces + used - 1) / used * rp * tt.held);
      uint64_t rd_a = keep_a ? pieces : T, rd_b = keep_b ? pieces : T, prd = 0, pwr = 0, fin = 0;
      if (!matmul) {
        rd_a = T;
        rd_b = reads_per_tile == 2 ? T : 0;
        fin = T;
      } else if (psum_in_lane) {
        prd = runs * (ppr - 1) + (box.k0 > 0 ? runs : 0);
        fin = box.k1 == op.grid_k ? runs : 0;
        pwr = runs * ppr - fin;
      } else {
        prd = T - (box.k0 == 0 ? T / ek : 0);
        fin = box.k1 == op.grid_k ? T / ek : 0;
        pwr = T - fin;
      }
      const Reads x = broadcast(rd_a, rd_b, used);
      double act_b = static_cast<double>((prd + pwr) * psum_bytes + fin * o_bytes);
      double wgt_b = 0;
      (job.a_in_weight_buffer ? wgt_b : act_b) += static_cast<double>(x.a * a_bytes);
      (job.b_in_weight_buffer ? wgt_b : act_b) += static_cast<double>(x.b * b_bytes);
      // Other blocks run beside this one: what the block costs the array is its share of the
      // lane-cycles, or its port time; among equal costs the shorter lane time wins.
      const double share_t = lanes_t * static_cast<double>(used) / static_cast<double>(L);
      const double cost = std::max({share_t, act_b / act_rate, wgt_b / wgt_rate});
      if (best < 0 || cost < best * (1 - 1e-9) || (cost <= best * (1 + 1e-9) && lanes_t < best_t)) {
        best = std::min(best < 0 ? cost : best, cost);
        best_t = lanes_t;
        bl.piece = rp;
      }
    }
    const uint64_t pieces = runs * ((R + bl.piece - 1) / bl.piece);
    const size_t want = static_cast<size_t>(std::min<uint64_t>(pieces, L));
    auto earlier = [this](uint32_t a, uint32_t b) {
      return lane_free_[a] != lane_free_[b] ? lane_free_[a] < lane_free_[b] : a < b;
    };
    if (want < lane_order_.size())
      std::nth_element(lane_order_.begin(), lane_order_.begin() + static_cast<long>(want),
                       lane_order_.end(), earlier);
    bl.lanes.assign(lane_order_.begin(), lane_order_.begin() + static_cast<long>(want));
    std::sort(bl.lanes.begin(), bl.lanes.end());
    bl.tiles_left = T;
  }
  const uint64_t nl = bl.lanes.size(), Rp = bl.piece;

  LaneJobResult r;
  r.request_cycle = request_cycle;
  r.first_start_cycle = ~0ULL;
  r.completion_cycle = request_cycle;
  r.tiles = job.tile_count;
  const uint64_t w = job.issue_width ? job.issue_width : ~0ULL;
  uint64_t reads_a = 0, reads_b = 0, psum_rd = 0, psum_wr = 0, finals = 0, in_lane = 0;
  touched_.clear();
  const uint64_t f = job.first_tile, end = f + job.tile_count;
  for (uint64_t u0 = f; u0 < end;) {
    const uint64_t q = u0 / R, pc = (u0 - q * R) / Rp;  // run, piece in the run
    const uint64_t ps = q * R + pc * Rp, pe = std::min(ps + Rp, (q + 1) * R);
    const uint64_t u1 = std::min(end, pe), c = u1 - u0;
    const bool piece_start = u0 == ps, piece_end = u1 == pe;
    const uint32_t lane = bl.lanes[(pc * runs + q) % nl];  // piece-major: neighbours share pc
    const uint64_t issue = request_cycle + (w == ~0ULL ? 0 : (u0 - f) / w);
    const uint64_t start = std::max(lane_free_[lane], issue);
    lane_free_[lane] = start + held_of(u0, u1);
    touched_.push_back(lane);
    r.first_start_cycle = std::min(r.first_start_cycle, start);
    r.completion_cycle = std::max(r.completion_cycle, lane_free_[lane]);
    u0 = u1;
    if (!matmul) {
      finals += c;
      continue;
    }
    reads_a += keep_a ? (piece_start ? 1 : 0) : c;
    reads_b += keep_b ? (piece_start ? 1 : 0) : c;
    if (psum_in_lane) {  // k varies along the piece: global k from box.k0 + (ps - qR)
      in_lane += c - (piece_start ? 1 : 0);
      if (piece_start && box.k0 + static_cast<int64_t>(ps - q * R) > 0) ++psum_rd;
      if (piece_end) {
        const bool last_k = pe == (q + 1) * R && box.k1 == op.grid_k;
        (last_k ? finals : psum_wr) += 1;
      }
    } else {  // k is fixed along the piece
      const int64_t k = box.k0 + static_cast<int64_t>((u1 - 1) / stride[3]) % ext[3];
      if (k > 0) psum_rd += c;
      if (k == op.grid_k - 1)
        finals += c;
      else
        psum_wr += c;
    }
  }
  if (job.tile_count == 0) r.first_start_cycle = request_cycle;
  if (!matmul) {
    reads_a = job.tile_count;
    reads_b = reads_per_tile == 2 ? job.tile_count : 0;
  }
  // Broadcast savings are counted over the whole block (cumulative, rounded once), so the
  // grouping of its tiles into jobs does not change them.
  bl.raw_a += reads_a;
  bl.raw_b += reads_b;
  const Reads cum = broadcast(bl.raw_a, bl.raw_b, nl);
  const uint64_t bc_a = cum.bc_a - bl.bc_a, bc_b = cum.bc_b - bl.bc_b;
  bl.bc_a = cum.bc_a;
  bl.bc_b = cum.bc_b;
  const uint64_t tiles = job.tile_count;
  PeArrayStats& cnt = counts_;
  if (matmul) {
    cnt.fifo_reuse_first += tiles - (reads_a);
    cnt.fifo_reuse_second += tiles - (reads_b);
    cnt.broadcast_first += bc_a;
    cnt.broadcast_second += bc_b;
    reads_a -= bc_a;
    reads_b -= bc_b;
    cnt.matmul_tiles += tiles;
    cnt.dense_macs += tiles * tb * tx * tx * ty;
    cnt.effectual_macs += eff_all;
  } else {
    (opcode == Opcode::EWISE ? cnt.ewise_tiles : cnt.act_tiles) += tiles;
  }
  const uint64_t reads = reads_a + reads_b;
  cnt.operand_reads += reads;
  r.operand_reads = reads;
  r.operand_reads_saved = static_cast<uint64_t>(reads_per_tile) * tiles - reads;
  cnt.psum_in_lane_tiles += in_lane;

  // Traffic per buffer. Operands come from the buffer of their tensor's class (embeddings and
  // weights: weight buffer); partial sums and outputs go to the activation buffer; biases are
  // read once per output tile.
  uint64_t act_rd = 0, act_wr = 0, wgt_rd = 0, msk_rd = 0, msk_wr = 0;
  const uint64_t a_data = reads_a * a_bytes, b_data = reads_b * b_bytes;
  (job.a_in_weight_buffer ? wgt_rd : act_rd) += a_data;
  (job.b_in_weight_buffer ? wgt_rd : act_rd) += b_data;
  msk_rd += reads_a * a_mask + reads_b * b_mask;
  act_rd += psum_rd * psum_bytes;
  act_wr += psum_wr * psum_bytes + finals * o_bytes;
  msk_wr += finals * o_mask;
  const uint64_t params = finals * job.param_words_per_tile * static_cast<uint64_t>(wb) / 8;
  wgt_rd += params;
  cnt.activation_read_bytes +=
      (job.a_in_weight_buffer ? 0 : a_data) + (job.b_in_weight_buffer ? 0 : b_data);
  cnt.weight_read_bytes +=
      (job.a_in_weight_buffer ? a_data : 0) + (job.b_in_weight_buffer ? b_data : 0);
  cnt.mask_read_bytes += reads_a * a_mask + reads_b * b_mask;
  cnt.psum_read_bytes += psum_rd * psum_bytes;
  cnt.psum_write_bytes += psum_wr * psum_bytes;
  cnt.output_write_bytes += finals * (o_bytes + o_mask);
  cnt.param_read_bytes += params;
  r.activation_read_bytes = act_rd;
  r.weight_read_bytes = wgt_rd;
  r.mask_read_bytes = msk_rd;

  // The ports: requested when the job is issued (so requests reach the ports in issue order);
  // the job ends when lanes and ports are done. Lanes that finish before their operands arrive
  // stall until then.
  const uint64_t port_req = request_cycle;
  const double mhz = tech_.clock_mhz;
  uint64_t ports_done =
      proto::port_transfer(activation_port, port_gp_, port_req, act_rd, false, mhz);
  ports_done = std::max(
      ports_done, proto::port_transfer(activation_port, port_gp_, port_req, act_wr, true, mhz));
  ports_done = std::max(ports_done,
                        proto::port_transfer(weight_port, port_gp_, port_req, wgt_rd, false, mhz));
  ports_done =
      std::max(ports_done, proto::port_transfer(mask_port, port_gp_, port_req, msk_rd, false, mhz));
  ports_done =
      std::max(ports_done, proto::port_transfer(mask_port, port_gp_, port_req, msk_wr, true, mhz));
  if (ports_done > r.completion_cycle) {
    for (uint32_t lane : touched_) lane_free_[lane] = std::max(lane_free_[lane], ports_done);
    r.completion_cycle = ports_done;
  }
  if (fn && post_) {  // top-k: the sorting networks run after the block's lanes
    const uint64_t topk = post_->take_topk_cycles();
    if (topk > 0) {
      const uint64_t done = r.completion_cycle + div_up(topk, std::max<uint64_t>(nl, 1));
      for (uint32_t lane : touched_) lane_free_[lane] = std::max(lane_free_[lane], done);
      r.completion_cycle = done;
      post_busy_ += topk;
    }
  }
  for (uint32_t lane : touched_) {
    const size_t pe = lane / static_cast<uint32_t>(lanes_);
    pe_free_[pe] = std::max(pe_free_[pe], lane_free_[lane]);
  }
  r.busy_unit_cycles = held_all;
  lane_busy_ += held_all;  // held = charged in the default profile
  pre_busy_ += tiles * tt.pre_walk;
  post_busy_ += tiles * tt.post_walk;
  fifo_busy_ += held_all;
  dataflow_busy_ += kDataflowCycles * reads;
  ++cnt.jobs;
  cnt.tiles += tiles;
  cnt.last_completion_cycle = std::max(cnt.last_completion_cycle, r.completion_cycle);

  bl.tiles_left -= std::min(bl.tiles_left, tiles);
  if (bl.tiles_left == 0) blocks_.erase(it);

  job.busy_unit_cycles += r.busy_unit_cycles;
  job.operand_reads_saved += r.operand_reads_saved;
  proto::JobTraffic& jt = job.traffic;
  jt.start_cycle = std::min(jt.start_cycle, r.first_start_cycle);
  if (matmul) {
    jt.dense_macs += tiles * tb * tx * tx * ty;
    jt.effectual_macs += eff_all;
  }
  jt.operand_bytes += a_data + b_data + reads_a * a_mask + reads_b * b_mask;
  jt.psum_bytes += (psum_rd + psum_wr) * psum_bytes;
  jt.output_bytes += finals * (o_bytes + o_mask);
  jt.param_bytes += params;
  jt.unit_energy_nj +=
      tech_.nj_per_cycle(lane_fig_.dynamic_mw + tech_.fifo.dynamic_mw) *
          static_cast<double>(held_all) +
      tech_.nj_per_cycle(tech_.pre_sparsity.dynamic_mw) * static_cast<double>(tiles * tt.pre_walk) +
      tech_.nj_per_cycle(tech_.post_sparsity.dynamic_mw) *
          static_cast<double>(tiles * tt.post_walk) +
      tech_.nj_per_cycle(tech_.dataflow.dynamic_mw) * static_cast<double>(kDataflowCycles * reads);
  last_ = r;
  return r;
}

void PeArray::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  proto::serve_tile_job(gp, delay, tech_.clock_mhz,
                        [this](proto::TileJobExt& job, uint64_t request) {
                          return dispatch(job, request).completion_cycle;
                        });
}

}  // namespace acceltran
