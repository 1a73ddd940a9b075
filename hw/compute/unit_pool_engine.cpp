#include "acceltran/hw/compute/unit_pool_engine.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "acceltran/config/zero_free_format.hpp"

namespace acceltran {

namespace {
using Entry = std::pair<uint64_t, uint32_t>;
const auto kMinHeap = std::greater<Entry>();
}  // namespace

UnitPoolEngine::UnitPoolEngine(sc_core::sc_module_name name, const AcceleratorConfig& cfg,
                               const Technology& tech, const SimOptions& opts, int units_per_pe,
                               const ModuleFigures& figures, proto::JobKind accepted)
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
      per_pe_(units_per_pe),
      fig_(figures),
      accepted_(accepted) {
  if (pes_ <= 0 || per_pe_ <= 0)
    throw std::invalid_argument(std::string(name) + ": pe and units per PE must be positive");
  const size_t units = static_cast<size_t>(pes_) * per_pe_;
  free_.assign(units, 0);
  heap_.reserve(units);
  for (size_t u = 0; u < units; ++u) heap_.emplace_back(0, static_cast<uint32_t>(u));
  std::make_heap(heap_.begin(), heap_.end(), kMinHeap);
  target.register_b_transport(this, &UnitPoolEngine::b_transport);
  target.register_nb_transport_fw(this, &UnitPoolEngine::nb_transport_fw);
}

size_t UnitPoolEngine::pick_unit(int pe) {
  if (pe >= 0) {
    if (pe >= pes_) throw std::invalid_argument("unit pool: job.pe out of range");
    const size_t first = static_cast<size_t>(pe) * per_pe_;
    size_t best = first;
    for (size_t u = first + 1; u < first + static_cast<size_t>(per_pe_); ++u)
      if (free_[u] < free_[best]) best = u;
    return best;  // its heap entry becomes stale; fixed lazily when popped
  }
  for (;;) {
    std::pop_heap(heap_.begin(), heap_.end(), kMinHeap);
    Entry& e = heap_.back();
    if (e.first == free_[e.second]) {
      const size_t u = e.second;
      heap_.pop_back();
      return u;  // caller pushes the updated entry
    }
    e.first = free_[e.second];  // stale: reinsert with the real free cycle
    std::push_heap(heap_.begin(), heap_.end(), kMinHeap);
  }
}

void UnitPoolEngine::reserve_all_free_modules(const proto::TileJobExt& job, uint64_t request_cycle,
                                              const UnitTileTiming& tile, UnitJobResult& result) {
  for (uint64_t t = 0; t < job.tile_count; ++t) {
    size_t first_free = 0;
    for (size_t unit = 1; unit < free_.size(); ++unit)
      if (free_[unit] < free_[first_free]) first_free = unit;
    const uint64_t start = std::max(request_cycle, free_[first_free]);
    size_t pe = 0;
    while (pe + 1 < static_cast<size_t>(pes_)) {  // lowest PE with a module free at `start`
      bool any_free = false;
      for (int module = 0; module < per_pe_; ++module)
        any_free = any_free || free_[pe * per_pe_ + module] <= start;
      if (any_free) break;
      ++pe;
    }
    for (int module = 0; module < per_pe_; ++module) {
      uint64_t& free_cycle = free_[pe * per_pe_ + module];
      if (free_cycle > start) continue;
      free_cycle = start + tile.held;
      changes_.note(pe * per_pe_ + module);
      result.busy_unit_cycles += tile.held;
      busy_cycles_ += tile.charged;
    }
    result.first_start_cycle = std::min(result.first_start_cycle, start);
    result.completion_cycle = std::max(result.completion_cycle, start + tile.held);
  }
  // The heap is stale: rebuild it for later jobs.
  heap_.clear();
  for (size_t unit = 0; unit < free_.size(); ++unit)
    heap_.emplace_back(free_[unit], static_cast<uint32_t>(unit));
  std::make_heap(heap_.begin(), heap_.end(), kMinHeap);
}

void UnitPoolEngine::reserve_one_module_per_tile(const proto::TileJobExt& job,
                                                 uint64_t request_cycle, const UnitTileTiming& tile,
                                                 UnitJobResult& result) {
  const uint64_t width =
      conventions_.buffer_port_traffic && job.issue_width ? job.issue_width : ~0ULL;
  for (uint64_t t = 0; t < job.tile_count; ++t) {
    const size_t unit = pick_unit(job.pe);
    const uint64_t issue = request_cycle + (width == ~0ULL ? 0 : t / width);
    const uint64_t start = std::max(issue, free_[unit]);
    free_[unit] = start + tile.held;
    changes_.note(unit);
    if (job.pe < 0) {
      heap_.emplace_back(free_[unit], static_cast<uint32_t>(unit));  // capacity reserved
      std::push_heap(heap_.begin(), heap_.end(), kMinHeap);
    }
    result.first_start_cycle = std::min(result.first_start_cycle, start);
    result.completion_cycle = std::max(result.completion_cycle, free_[unit]);
    result.busy_unit_cycles += tile.held;
    busy_cycles_ += tile.charged;
  }
}

void UnitPoolEngine::move_through_ports(proto::TileJobExt& job, uint64_t request_cycle,
                                        double output_sparsity, const UnitTileTiming& tile,
                                        UnitJobResult& result) {
  const uint64_t tile_words = static_cast<uint64_t>(cfg_.tile.b) * cfg_.tile.x * cfg_.tile.y;
  const uint64_t tiles = job.tile_count;
  const uint64_t input_bytes = result.activation_read_bytes;  // zero-free inputs
  const uint64_t mask_bytes = result.mask_read_bytes;         // one mask per tile each way
  const uint64_t output_bytes =
      tiles * zero_free_bytes(tile_words, tech_.word_bits(), output_sparsity);
  const uint64_t param_bytes =
      tiles * job.param_words_per_tile * static_cast<uint64_t>(tech_.word_bits()) / 8;
  const uint64_t request = request_cycle;  // ports see requests in issue order
  const double mhz = tech_.clock_mhz;
  uint64_t ports_done =
      proto::port_transfer(activation_port, port_gp_, request, input_bytes, false, mhz);
  ports_done = std::max(ports_done, proto::port_transfer(activation_port, port_gp_, request,
                                                         output_bytes, true, mhz));
  ports_done = std::max(
      ports_done, proto::port_transfer(weight_port, port_gp_, request, param_bytes, false, mhz));
  ports_done = std::max(ports_done,
                        proto::port_transfer(mask_port, port_gp_, request, mask_bytes, false, mhz));
  ports_done = std::max(ports_done,
                        proto::port_transfer(mask_port, port_gp_, request, mask_bytes, true, mhz));
  result.completion_cycle = std::max(result.completion_cycle, ports_done);
  counts_.output_write_bytes += output_bytes + mask_bytes;
  counts_.param_read_bytes += param_bytes;
  proto::JobTraffic& traffic = job.traffic;
  traffic.start_cycle = std::min(traffic.start_cycle, result.first_start_cycle);
  traffic.operand_bytes += input_bytes + mask_bytes;
  traffic.output_bytes += output_bytes + mask_bytes;
  traffic.param_bytes += param_bytes;
  traffic.unit_energy_nj +=
      tech_.nj_per_cycle(fig_.dynamic_mw) * static_cast<double>(tiles * tile.charged);
}

UnitJobResult UnitPoolEngine::dispatch(proto::TileJobExt& job, uint64_t request_cycle) {
  if (job.kind != accepted_)
    throw std::invalid_argument(std::string(name()) + ": wrong opcode " +
                                proto::to_string(job.kind));
  if (job.described() && job.first_tile + job.tile_count > job.grid.tiles())
    throw std::invalid_argument(std::string(name()) + ": tile range beyond the op's tile grid");
  double input_sparsity = job.activation_sparsity, output_sparsity = job.output_sparsity;
  if (datapath_ && job.described()) {  // functional run: the modules compute the row panels
    const JobData data = datapath_->run_row_job(job, post_.get());
    input_sparsity = data.a_sparsity;
    output_sparsity = data.out_sparsity();
  }
  uint64_t topk_cycles = 0;  // top-k: the sorting network after the modules (functional)
  if (post_) topk_cycles = post_->take_topk_cycles();
  const UnitTileTiming tile = tile_timing(input_sparsity);
  const uint64_t tile_words = static_cast<uint64_t>(cfg_.tile.b) * cfg_.tile.x * cfg_.tile.y;
  UnitJobResult result;
  result.request_cycle = request_cycle;
  result.first_start_cycle = job.tile_count ? ~0ULL : request_cycle;
  result.completion_cycle = request_cycle;
  result.tiles = job.tile_count;
  // Published bug (pe.py assign_op has no break), when asked for: a softmax tile takes every
  // module of the lowest-index PE that has one free, and all of them are charged.
  if (conventions_.softmax_overassign && accepted_ == proto::JobKind::softmax && job.pe < 0)
    reserve_all_free_modules(job, request_cycle, tile, result);
  else
    reserve_one_module_per_tile(job, request_cycle, tile, result);
  if (topk_cycles > 0) {  // spread over the modules the job used
    const uint64_t used = std::max<uint64_t>(1, std::min<uint64_t>(job.tile_count, free_.size()));
    result.completion_cycle += (topk_cycles + used - 1) / used;
  }
  result.activation_read_bytes =
      job.tile_count * zero_free_bytes(tile_words, tech_.word_bits(), input_sparsity);
  result.mask_read_bytes = job.tile_count * mask_bytes_for(tile_words);
  if (conventions_.buffer_port_traffic)
    move_through_ports(job, request_cycle, output_sparsity, tile, result);
  ++counts_.jobs;
  counts_.tiles += job.tile_count;
  counts_.activation_read_bytes += result.activation_read_bytes;
  counts_.mask_read_bytes += result.mask_read_bytes;
  counts_.last_completion_cycle = std::max(counts_.last_completion_cycle, result.completion_cycle);
  job.busy_unit_cycles += result.busy_unit_cycles;
  last_ = result;
  return result;
}

void UnitPoolEngine::set_datapath(TileJobDatapath* datapath) {
  datapath_ = datapath;
  post_ = make_dynatran_port(datapath, dynatran_port);
}

UnitPoolStats UnitPoolEngine::stats(uint64_t elapsed_cycles) const {
  UnitPoolStats s = counts_;
  s.units = energy_of(tech_, fig_, busy_cycles_, static_cast<uint64_t>(pes_) * per_pe_,
                      opts_.leakage_when_idle, elapsed_cycles);
  return s;
}

// nb_transport_fw: early completion with the b_transport timing (proto::serve_nb_transport_fw).
tlm::tlm_sync_enum UnitPoolEngine::nb_transport_fw(tlm::tlm_generic_payload& gp,
                                                   tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay,
      [this](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { b_transport(g, d); });
}

void UnitPoolEngine::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  proto::serve_tile_job(gp, delay, tech_.clock_mhz,
                        [this](proto::TileJobExt& job, uint64_t request) {
                          return dispatch(job, request).completion_cycle;
                        });
}

}  // namespace acceltran
