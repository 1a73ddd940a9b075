#include "unit_pool_engine.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "compiler.hpp"
#include "tiling.hpp"

namespace acceltran {

namespace {
using Entry = std::pair<uint64_t, uint32_t>;
const auto kMinHeap = std::greater<Entry>();
}  // namespace

UnitPoolEngine::UnitPoolEngine(sc_core::sc_module_name name, const AcceleratorConfig& cfg,
                               const Technology& tech, const SimOptions& opts, int units_per_pe,
                               const ModuleFigures& figures, Opcode accepted)
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

UnitJobResult UnitPoolEngine::dispatch(proto::TileJobExt& job, uint64_t request_cycle) {
  if (job.opcode != accepted_)
    throw std::invalid_argument(std::string(name()) + ": wrong opcode " + to_string(job.opcode));
  if (job.op && job.first_tile + job.tile_count > job.op->tile_count())
    throw std::invalid_argument(std::string(name()) + ": tile range beyond the op's tile grid");
  const bool hardware = opts_.profile == Profile::hardware;
  double sa = job.activation_sparsity, so = job.output_sparsity;
  if (datapath_ && job.op) {  // functional run: the modules compute the job's row panels
    const JobData jd = datapath_->run_row_job(*job.op, job.block, job.loop_order, job.first_tile,
                                              job.tile_count, post_.get());
    sa = jd.a_sparsity;
    so = jd.out_sparsity();
  }
  uint64_t topk_cycles = 0;  // top-k: the sorting network after the modules (functional)
  if (post_) topk_cycles = post_->take_topk_cycles();
  const UnitTileTiming tt = tile_timing(sa);
  const uint64_t elems = static_cast<uint64_t>(cfg_.tile.b) * cfg_.tile.x * cfg_.tile.y;
  const uint64_t data = zero_free_bytes(elems, tech_.word_bits(), sa);
  const uint64_t mask = mask_bytes_for(elems);
  UnitJobResult r;
  r.request_cycle = request_cycle;
  r.first_start_cycle = job.tile_count ? ~0ULL : request_cycle;
  r.completion_cycle = request_cycle;
  r.tiles = job.tile_count;
  const uint64_t width = hardware && job.issue_width ? job.issue_width : ~0ULL;
  // Published bug (pe.py assign_op has no break), when asked for: a softmax tile takes every
  // module of the lowest-index PE that has one free, and all of them are charged.
  const bool overassign =
      !hardware && opts_.published.softmax_overassign && accepted_ == Opcode::SOFTMAX && job.pe < 0;
  for (uint64_t t = 0; overassign && t < job.tile_count; ++t) {
    size_t first = 0;
    for (size_t u = 1; u < free_.size(); ++u)
      if (free_[u] < free_[first]) first = u;
    const uint64_t start = std::max(request_cycle, free_[first]);
    size_t pe = 0;
    while (pe + 1 < static_cast<size_t>(pes_)) {  // lowest PE with a module free at `start`
      bool any = false;
      for (int m = 0; m < per_pe_; ++m) any = any || free_[pe * per_pe_ + m] <= start;
      if (any) break;
      ++pe;
    }
    for (int m = 0; m < per_pe_; ++m) {
      uint64_t& f = free_[pe * per_pe_ + m];
      if (f > start) continue;
      f = start + tt.held;
      r.busy_unit_cycles += tt.held;
      busy_ += tt.charged;
    }
    r.first_start_cycle = std::min(r.first_start_cycle, start);
    r.completion_cycle = std::max(r.completion_cycle, start + tt.held);
  }
  if (overassign) {  // the heap is stale: rebuild it for later jobs
    heap_.clear();
    for (size_t u = 0; u < free_.size(); ++u)
      heap_.emplace_back(free_[u], static_cast<uint32_t>(u));
    std::make_heap(heap_.begin(), heap_.end(), kMinHeap);
  }
  for (uint64_t t = 0; !overassign && t < job.tile_count; ++t) {
    const size_t u = pick_unit(job.pe);
    const uint64_t issue = request_cycle + (width == ~0ULL ? 0 : t / width);
    const uint64_t start = std::max(issue, free_[u]);
    free_[u] = start + tt.held;
    if (job.pe < 0) {
      heap_.emplace_back(free_[u], static_cast<uint32_t>(u));  // capacity reserved: no alloc
      std::push_heap(heap_.begin(), heap_.end(), kMinHeap);
    }
    r.first_start_cycle = std::min(r.first_start_cycle, start);
    r.completion_cycle = std::max(r.completion_cycle, free_[u]);
    r.busy_unit_cycles += tt.held;
    busy_ += tt.charged;
  }
  if (topk_cycles > 0) {  // spread over the modules the job used
    const uint64_t used = std::max<uint64_t>(1, std::min<uint64_t>(job.tile_count, free_.size()));
    r.completion_cycle += (topk_cycles + used - 1) / used;
  }
  r.activation_read_bytes = job.tile_count * data;
  r.mask_read_bytes = job.tile_count * mask;
  if (hardware) {
    // Ports: input tiles in, output tiles out (zero-free + mask), gamma/beta from the weight
    // buffer. The job ends when its modules and the ports are done.
    const uint64_t out = zero_free_bytes(elems, tech_.word_bits(), so);
    const uint64_t params =
        job.tile_count * job.param_words_per_tile * static_cast<uint64_t>(tech_.word_bits()) / 8;
    const uint64_t n = job.tile_count;
    const uint64_t req = request_cycle;  // ports see requests in issue order
    const double mhz = tech_.clock_mhz;
    uint64_t ports = proto::port_transfer(activation_port, port_gp_, req, n * data, false, mhz);
    ports =
        std::max(ports, proto::port_transfer(activation_port, port_gp_, req, n * out, true, mhz));
    ports = std::max(ports, proto::port_transfer(weight_port, port_gp_, req, params, false, mhz));
    ports = std::max(ports, proto::port_transfer(mask_port, port_gp_, req, n * mask, false, mhz));
    ports = std::max(ports, proto::port_transfer(mask_port, port_gp_, req, n * mask, true, mhz));
    r.completion_cycle = std::max(r.completion_cycle, ports);
    counts_.output_write_bytes += n * (out + mask);
    counts_.param_read_bytes += params;
    proto::JobTraffic& jt = job.traffic;
    jt.start_cycle = std::min(jt.start_cycle, r.first_start_cycle);
    jt.operand_bytes += n * (data + mask);
    jt.output_bytes += n * (out + mask);
    jt.param_bytes += params;
    jt.unit_energy_nj += tech_.nj_per_cycle(fig_.dynamic_mw) * static_cast<double>(n * tt.charged);
  }
  ++counts_.jobs;
  counts_.tiles += job.tile_count;
  counts_.activation_read_bytes += r.activation_read_bytes;
  counts_.mask_read_bytes += r.mask_read_bytes;
  counts_.last_completion_cycle = std::max(counts_.last_completion_cycle, r.completion_cycle);
  job.busy_unit_cycles += r.busy_unit_cycles;
  last_ = r;
  return r;
}

void UnitPoolEngine::set_datapath(Datapath* d) {
  datapath_ = d;
  post_ = make_dynatran_port(d, dynatran_port);
}

UnitPoolStats UnitPoolEngine::stats(uint64_t elapsed_cycles) const {
  UnitPoolStats s = counts_;
  s.units = energy_of(tech_, fig_, busy_, static_cast<uint64_t>(pes_) * per_pe_,
                      opts_.leakage_when_idle, elapsed_cycles);
  return s;
}

void UnitPoolEngine::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  proto::serve_tile_job(gp, delay, tech_.clock_mhz,
                        [this](proto::TileJobExt& job, uint64_t request) {
                          return dispatch(job, request).completion_cycle;
                        });
}

}  // namespace acceltran
