#include "acceltran/hw/control/tracer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "acceltran/config/input_error.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/unit_pool_engine.hpp"
#include "acceltran/hw/control/control_block.hpp"
#include "acceltran/hw/memory/dma.hpp"
#include "acceltran/hw/memory/main_memory.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

Tracer::Tracer(sc_core::sc_module_name n, const TraceOptions& opts, const TracedBlocks& blocks,
               double clock_mhz)
    : sc_module(n), opts_(opts), blocks_(blocks), clock_mhz_(clock_mhz) {
  using namespace sc_core;
  std::string base = opts_.vcd_path;
  if (base.size() > 4 && base.substr(base.size() - 4) == ".vcd") base.resize(base.size() - 4);
  file_ = base + ".vcd";
  // SystemC announces the time unit as an info report on stdout (I703, message type "tracing
  // timescale unit set"): not ours to print.
  sc_report_handler::set_actions("tracing timescale unit set", SC_DO_NOTHING);
  tf_ = sc_create_vcd_trace_file(base.c_str());
  if (!tf_) throw InputError(fmt::format("{}: cannot create the VCD file", opts_.vcd_path));
  tf_->set_time_unit(1, SC_PS);
  // SystemC 2.3.2+ turns the dots of a traced name into VCD scopes.
  sc_trace(tf_, control_.cycle, "control.cycle");
  sc_trace(tf_, control_.issued, "control.issued");
  sc_trace(tf_, control_.completed, "control.completed");
  sc_trace(tf_, control_.layer, "control.layer");
  sc_trace(tf_, control_.op_id, "control.op_id");
  sc_trace(tf_, control_.compute_in_flight, "control.compute_in_flight");
  sc_trace(tf_, pe_busy_lanes_, "pe_array.busy_lanes");
  sc_trace(tf_, softmax_busy_units_, "softmax.busy_units");
  sc_trace(tf_, layer_norm_busy_units_, "layer_norm.busy_units");
  sc_trace(tf_, dynatran_active_lanes_, "dynatran.active_lanes");
  if (blocks_.dynatran) {
    sc_trace(tf_, dynatran_blocks_, "dynatran.blocks_pruned");
    sc_trace(tf_, dynatran_zeros_, "dynatran.zeros");
    sc_trace(tf_, dynatran_sparsity_permille_, "dynatran.sparsity_permille");
  }
  sc_trace(tf_, activation_used_bytes_, "activation_buffer.used_bytes");
  sc_trace(tf_, weight_used_bytes_, "weight_buffer.used_bytes");
  sc_trace(tf_, mask_used_bytes_, "mask_buffer.used_bytes");
  sc_trace(tf_, dma_in_flight_, "dma.in_flight");
  sc_trace(tf_, dma_busy_engines_, "dma.busy_engines");
  sc_trace(tf_, dma_bytes_, "dma.bytes");
  sc_trace(tf_, memory_busy_, "main_memory.busy");
  sc_trace(tf_, memory_bytes_, "main_memory.bytes");
  const size_t lanes = static_cast<size_t>(blocks_.pe_array->pes()) *
                       static_cast<size_t>(blocks_.pe_array->lanes_per_pe());
  lanes_.resize(lanes);
  blocks_.pe_array->lane_changes().watch(lanes);
  for (auto [pool, units] : {std::pair{blocks_.softmax, &softmax_units_},
                             std::pair{blocks_.layer_norm, &layer_norm_units_}}) {
    const size_t count =
        static_cast<size_t>(pool->pes()) * static_cast<size_t>(pool->units_per_pe());
    units->resize(count);
    pool->unit_changes().watch(count);
  }
  dma_engines_.resize(static_cast<size_t>(blocks_.dma->engines()));
  pending_.insert(opts_.window_begin_cycle);
  SC_HAS_PROCESS(Tracer);
  SC_THREAD(sampler);
}

Tracer::~Tracer() {
  if (!tf_) return;
  sc_core::sc_close_vcd_trace_file(tf_);
  if (opts_.window_end_cycle == ~uint64_t{0}) return;
  // The writer may close with a time stamp past T1: cut the file at T1, in place (the kept
  // part is not written again).
  const double end_ps = static_cast<double>(opts_.window_end_cycle) * 1e6 / clock_mhz_;
  std::ifstream in(file_);
  if (!in) return;
  uint64_t kept_bytes = 0;
  bool cut = false;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#' && std::strtod(line.c_str() + 1, nullptr) > end_ps + 0.5) {
      cut = true;
      break;
    }
    kept_bytes += line.size() + 1;
  }
  in.close();
  if (!cut) return;
  // A destructor cannot throw: a failed cut removes the file, so that the caller's copy to the
  // --vcd path (app/, through OutputFile) fails with the file named instead of copying a trace
  // that goes on past T1.
  std::error_code error;
  std::filesystem::resize_file(file_, kept_bytes, error);
  if (error) std::remove(file_.c_str());
}

void Tracer::queue(uint64_t cycle) {
  if (!in_window(cycle) || (run_done_ && cycle > run_end_cycle_)) return;
  const bool earliest = pending_.empty() || cycle < *pending_.begin();
  if (pending_.insert(cycle).second && earliest) wake_.notify(sc_core::SC_ZERO_TIME);
}

void Tracer::sampler() {
  // One delta first: the control block's first issue at cycle 0 is then visible.
  wait(sc_core::SC_ZERO_TIME);
  refresh_due_ = true;
  for (;;) {
    const uint64_t now = proto::time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_);
    bool due = false;
    while (!pending_.empty() && *pending_.begin() <= now) {
      pending_.erase(pending_.begin());
      due = true;
    }
    if (in_window(now) && (refresh_due_ || now == opts_.window_begin_cycle)) {
      refresh(now);
      due = true;
    }
    refresh_due_ = false;
    if (due) sample(now);
    if (pending_.empty())
      wait(wake_);
    else
      wait(proto::cycles_to_time(*pending_.begin(), clock_mhz_) - sc_core::sc_time_stamp(), wake_);
  }
}

void Tracer::on_control_event(uint64_t now) {
  if (!in_window(now)) return;
  // The control block issues what became ready after this call, at the same cycle: the
  // sampler reads the blocks one delta cycle later, once that is done.
  refresh_due_ = true;
  wake_.notify(sc_core::SC_ZERO_TIME);
  if (blocks_.control->completed_total() == blocks_.program->instrs.size()) {
    // The run is over: no sample after its last cycle.
    run_done_ = true;
    run_end_cycle_ = now;
    pending_.erase(pending_.upper_bound(now), pending_.end());
  } else if (opts_.window_end_cycle != ~uint64_t{0}) {
    queue(opts_.window_end_cycle);  // T1 itself is sampled, so the dump ends there
  }
}

void BusyUnits::resize(size_t units) {
  seen_.assign(units, 0);
  marked_.assign(units, 0);
  buckets_.clear();
  buckets_.reserve(units);
  head_ = 0;
  busy_ = marked_busy_ = 0;
}

void BusyUnits::advance(uint64_t now) {
  for (; head_ < buckets_.size() && buckets_[head_].cycle <= now; ++head_) {
    busy_ -= buckets_[head_].units;
    marked_busy_ -= buckets_[head_].marked;
  }
  // Passed buckets are dropped once they are the larger part (amortised, no allocation).
  if (head_ > 64 && 2 * head_ >= buckets_.size()) {
    buckets_.erase(buckets_.begin(), buckets_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

std::vector<BusyUnits::Bucket>::iterator BusyUnits::bucket_at(uint64_t cycle) {
  return std::lower_bound(buckets_.begin() + static_cast<std::ptrdiff_t>(head_), buckets_.end(),
                          cycle, [](const Bucket& b, uint64_t c) { return b.cycle < c; });
}

bool BusyUnits::update(size_t unit, uint64_t free_cycle, bool marked, uint64_t now) {
  const uint64_t old = seen_[unit];
  if (free_cycle == old) return false;
  if (old > now) {  // still counted, in the bucket of its old free cycle
    const auto b = bucket_at(old);
    --b->units;
    --busy_;
    if (marked_[unit]) {
      --b->marked;
      --marked_busy_;
    }
  }
  seen_[unit] = free_cycle;
  marked_[unit] = marked ? 1 : 0;
  if (free_cycle <= now) return false;
  auto b = bucket_at(free_cycle);
  const bool new_cycle = b == buckets_.end() || b->cycle != free_cycle;
  if (new_cycle) b = buckets_.insert(b, Bucket{free_cycle, 0, 0});
  ++b->units;
  ++busy_;
  if (marked) {
    ++b->marked;
    ++marked_busy_;
  }
  return new_cycle;
}

void Tracer::refresh(uint64_t now) {
  // Lanes given a new job since the last refresh run the op the control block dispatched last.
  PeArray& pe = *blocks_.pe_array;
  const int per_pe = pe.lanes_per_pe();
  const auto& ops = blocks_.program->ops;
  const uint32_t op = blocks_.control->current_op();
  const bool prunes = op < ops.size() && ops[op].prune;
  for (BusyUnits* units : {&lanes_, &softmax_units_, &layer_norm_units_, &dma_engines_})
    units->advance(now);
  // Only the units written since the last refresh can have changed. A cycle already queued
  // stays queued until it passes, so only cycles no unit was due at are queued.
  pe.lane_changes().take([&](uint32_t lane) {
    const uint64_t f =
        pe.lane_free_cycle(static_cast<int>(lane) / per_pe, static_cast<int>(lane) % per_pe);
    if (lanes_.update(lane, f, prunes, now)) queue(f);
  });
  for (auto [pool, units] : {std::pair{blocks_.softmax, &softmax_units_},
                             std::pair{blocks_.layer_norm, &layer_norm_units_}}) {
    const int per = pool->units_per_pe();
    pool->unit_changes().take([&](uint32_t unit) {
      const uint64_t f =
          pool->unit_free_cycle(static_cast<int>(unit) / per, static_cast<int>(unit) % per);
      if (units->update(unit, f, false, now)) queue(f);
    });
  }
  for (int e = 0; e < blocks_.dma->engines(); ++e) {
    const uint64_t f = blocks_.dma->engine_free_cycle(e);
    if (dma_engines_.update(static_cast<size_t>(e), f, false, now)) queue(f);
  }
}

void Tracer::sample(uint64_t now) {
  const ControlBlock& cb = *blocks_.control;
  control_.cycle = now;
  control_.issued = cb.issued_total();
  control_.completed = cb.completed_total();
  control_.layer = cb.current_layer();
  // -1 until the first tile job is dispatched.
  control_.op_id = cb.stats().dispatches > 0 ? static_cast<int32_t>(cb.current_op()) : -1;
  control_.compute_in_flight = cb.in_flight(EngineClass::lanes) +
                               cb.in_flight(EngineClass::softmax) +
                               cb.in_flight(EngineClass::layer_norm);
  // Units busy at `now`: those whose free cycle (as of the last refresh) is later.
  for (BusyUnits* units : {&lanes_, &softmax_units_, &layer_norm_units_, &dma_engines_})
    units->advance(now);
  pe_busy_lanes_ = lanes_.busy();
  dynatran_active_lanes_ = lanes_.marked_busy();
  if (blocks_.dynatran) {
    const DynaTranStats& d = blocks_.dynatran->stats();
    const uint64_t de = d.elements - dynatran_elements_, dz = d.zeros - dynatran_zeros_;
    if (de > 0) dynatran_sparsity_permille_ = static_cast<uint32_t>(dz * 1000 / de);
    dynatran_blocks_ = d.blocks;
    dynatran_zeros_ = d.zeros;
    dynatran_elements_ = d.elements;
  }
  softmax_busy_units_ = softmax_units_.busy();
  layer_norm_busy_units_ = layer_norm_units_.busy();
  activation_used_bytes_ = blocks_.activation_buffer->used_bytes();
  weight_used_bytes_ = blocks_.weight_buffer->used_bytes();
  mask_used_bytes_ = blocks_.mask_buffer->used_bytes();

  const Dma& dma = *blocks_.dma;
  dma_in_flight_ = cb.in_flight(EngineClass::dma);
  dma_busy_engines_ = dma_engines_.busy();
  dma_bytes_ = dma.stats().bytes_from_memory + dma.stats().bytes_to_memory;

  const MainMemory& mem = *blocks_.main_memory;
  const double now_ps = static_cast<double>(now) * 1e6 / clock_mhz_;
  const double until_ps = mem.busy_until_ps();
  memory_busy_ = until_ps > now_ps + 0.5;
  if (memory_busy_)
    queue(std::max(now + 1, static_cast<uint64_t>(std::ceil(until_ps * clock_mhz_ * 1e-6 - 1e-9))));
  memory_bytes_ = mem.stats().bytes_read + mem.stats().bytes_written;
}

}  // namespace acceltran
