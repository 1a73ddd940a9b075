#include "acceltran/hw/compute/pe_array.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "acceltran/hw/compute/operand_traffic.hpp"
#include "acceltran/hw/compute/pe_array_block_timing.hpp"
#include "acceltran/hw/compute/pe_array_tile_timing.hpp"
#include "acceltran/hw/compute/pe_array_timing.hpp"

namespace acceltran {

namespace {

// ceil() that ignores floating-point dust (e.g. 4096 * 0.25 computed as 1024.0000000001).
uint64_t ceil_eps(double x) {
  if (x <= 0) return 0;
  return static_cast<uint64_t>(std::ceil(x - 1e-9));
}
bool runs_on_lanes(proto::JobKind kind) {
  return kind == proto::JobKind::matmul || kind == proto::JobKind::elementwise ||
         kind == proto::JobKind::activation;
}

}  // namespace

std::unique_ptr<PeArrayTiming> make_pe_array_timing(PeArray& array,
                                                    const ComputeConventions& conventions) {
  if (conventions.buffer_level_blocks) return std::make_unique<PeArrayBlockTiming>(array);
  return std::make_unique<PeArrayTileTiming>(array);
}

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
      conventions_(compute_conventions(opts)),
      pes_(cfg.pe),
      lanes_(cfg.lanes_per_pe),
      macs_(cfg.mac_per_lane),
      fifo_words_(cfg.fifo_depth_words > 0 ? cfg.fifo_depth_words : tech.fifo_depth_words) {
  if (pes_ <= 0 || lanes_ <= 0 || macs_ <= 0)
    throw std::invalid_argument("PeArray: pe, lanes_per_pe and mac_per_lane must be positive");
  lane_fig_ = tech_.lane(macs_, cfg_.non_linearity);  // throws early if the figures are missing
  lane_free_.assign(static_cast<size_t>(pes_) * lanes_, 0);
  pe_free_.assign(static_cast<size_t>(pes_), 0);
  timing_ = make_pe_array_timing(*this, conventions_);
  target.register_b_transport(this, &PeArray::b_transport);
  target.register_nb_transport_fw(this, &PeArray::nb_transport_fw);
}

PeArray::~PeArray() = default;

void PeArray::set_datapath(TileJobDatapath* datapath) {
  datapath_ = datapath;
  post_ = make_dynatran_port(datapath, dynatran_port);
}

LaneTileTiming PeArray::tile_timing(proto::JobKind kind, double activation_sparsity,
                                    double weight_sparsity, const uint64_t* effectual_macs) const {
  if (!runs_on_lanes(kind))
    throw std::invalid_argument(std::string("PeArray: opcode ") + proto::to_string(kind) +
                                " does not run on MAC lanes");
  const uint64_t tb = cfg_.tile.b, tx = cfg_.tile.x, ty = cfg_.tile.y;
  const uint64_t macs = static_cast<uint64_t>(macs_);
  const uint64_t tile_words = tb * tx * ty;  // one (tb, tx, ty) operand / output tile
  // The sparsity units walk the tile's masks, M words per cycle.
  const uint64_t mask_walk_cycles = div_up(tile_words, macs);
  LaneTileTiming t;
  if (kind != proto::JobKind::matmul) {
    if (conventions_.published_tile_cycles) {
      t.held = 2;  // published: 1-cycle activation tiles, held N + 1
      t.charged = 1;
    } else {  // M adders / activation units per cycle behind the lane pipeline
      t.held = t.charged = kPipelineDepth + mask_walk_cycles;
      t.pre_walk = t.post_walk = mask_walk_cycles;
    }
    return t;
  }
  const uint64_t dense_macs = tile_words * ty;
  const double a_density = 1.0 - activation_sparsity;
  if (conventions_.published_tile_cycles) {
    // Published formula: ceil(tb*tx*ty*ty / M * (1 - s_a)), held N + 1, charged N.
    t.effectual_macs =
        effectual_macs ? *effectual_macs : ceil_eps(static_cast<double>(dense_macs) * a_density);
    const uint64_t cycles =
        ceil_eps(static_cast<double>(dense_macs) / static_cast<double>(macs) * a_density);
    t.held = cycles + 1;
    t.charged = cycles;
    return t;
  }
  t.effectual_macs =
      effectual_macs
          ? *effectual_macs
          : ceil_eps(static_cast<double>(dense_macs) * a_density * (1.0 - weight_sparsity));
  const uint64_t compute_cycles = div_up(t.effectual_macs, macs);
  t.held = t.charged = kPipelineDepth + std::max(compute_cycles, mask_walk_cycles);
  t.pre_walk = t.post_walk = mask_walk_cycles;
  return t;
}

LaneJobResult PeArray::dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                                const uint64_t* effectual_macs) {
  if (!job.described()) throw std::invalid_argument("PeArray: job without a tile grid");
  if (!runs_on_lanes(job.kind))
    throw std::invalid_argument(std::string("PeArray: opcode ") + proto::to_string(job.kind) +
                                " does not run on MAC lanes");
  return timing_->dispatch(job, request_cycle, effectual_macs);
}

PeArrayStats PeArray::stats(uint64_t elapsed_cycles) const {
  PeArrayStats s = counts_;
  const uint64_t lanes = static_cast<uint64_t>(cfg_.total_lanes());
  const bool idle = opts_.leakage_when_idle;
  s.lanes = energy_of(tech_, lane_fig_, lane_busy_cycles_, lanes, idle, elapsed_cycles);
  s.pre_sparsity =
      energy_of(tech_, tech_.pre_sparsity, pre_sparsity_busy_cycles_, lanes, idle, elapsed_cycles);
  s.post_sparsity = energy_of(tech_, tech_.post_sparsity, post_sparsity_busy_cycles_, lanes, idle,
                              elapsed_cycles);
  s.fifo = energy_of(tech_, tech_.fifo, fifo_busy_cycles_, lanes, idle, elapsed_cycles);
  s.dataflow = energy_of(tech_, tech_.dataflow, dataflow_busy_cycles_, static_cast<uint64_t>(pes_),
                         idle, elapsed_cycles);
  // Operand reads: access_energy_nj * sqrt(MB) per 64-byte block.
  auto per_block_nj = [&](const char* buffer, double mb) {
    return tech_.buffers.at(buffer).access_energy_nj * std::sqrt(mb);
  };
  s.activation_read_nj = static_cast<double>(s.activation_read_blocks) *
                         per_block_nj("activation", cfg_.activation_buffer_mb);
  s.weight_read_nj =
      static_cast<double>(s.weight_read_blocks) * per_block_nj("weight", cfg_.weight_buffer_mb);
  s.mask_read_nj =
      static_cast<double>(s.mask_read_blocks) * per_block_nj("mask", cfg_.mask_buffer_mb);
  return s;
}

// nb_transport_fw: early completion with the b_transport timing (proto::serve_nb_transport_fw).
tlm::tlm_sync_enum PeArray::nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                            sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay,
      [this](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { b_transport(g, d); });
}

void PeArray::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  proto::serve_tile_job(gp, delay, tech_.clock_mhz,
                        [this](proto::TileJobExt& job, uint64_t request) {
                          return dispatch(job, request).completion_cycle;
                        });
}

}  // namespace acceltran
