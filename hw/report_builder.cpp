#include "report_builder.hpp"

#include <algorithm>
#include <cmath>

#include "area.hpp"
#include "parts.hpp"

namespace acceltran {

SimResult build_report(const Accelerator& top, const Program& prog, const AcceleratorConfig& cfg,
                       const Technology& tech, const RunOptions& o) {
  const auto& pe = top.pe;
  const auto& softmax = top.softmax;
  const auto& lnorm = top.lnorm;
  const auto& act = top.act;
  const auto& wgt = top.wgt;
  const auto& msk = top.msk;
  const auto& mem = top.mem;
  const auto& dma = top.dma;
  const auto& ctrl = top.ctrl;
  const auto& occupancy = top.occupancy;
  const ControlStats& cs = ctrl->stats();
  SimResult r;
  r.finished = cs.finished;
  r.deadlock = cs.deadlock;
  r.clock_mhz = tech.clock_mhz;
  r.cycles = cs.end_cycle;
  r.batch = prog.info.batch;
  r.latency_us = static_cast<double>(r.cycles) / tech.clock_mhz;
  r.throughput_seq_per_s = r.latency_us > 0 ? r.batch / (r.latency_us * 1e-6) : 0;
  const uint64_t T = r.cycles;
  const PeArrayStats ps = pe->stats(T);
  const UnitPoolStats ss = softmax->stats(T), ls = lnorm->stats(T);
  const DmaStats& ds = dma->stats();
  const MainMemoryStats& ms = mem->stats();
  const double elapsed_ps = static_cast<double>(T) * 1e6 / tech.clock_mhz;

  auto add = [&](const std::string& name, double dyn, double leak) {
    r.energy.push_back({name, BlockEnergy{dyn, leak}});
  };
  add("mac_lanes", ps.lanes.dynamic_nj + ps.fifo.dynamic_nj,
      ps.lanes.leakage_nj + ps.fifo.leakage_nj);
  add("dynatran", ps.pre_sparsity.dynamic_nj + ps.post_sparsity.dynamic_nj,
      ps.pre_sparsity.leakage_nj + ps.post_sparsity.leakage_nj);
  add("softmax", ss.dynamic_nj(), ss.leakage_nj());
  add("layer_norm", ls.dynamic_nj(), ls.leakage_nj());
  add("dataflow", ps.dataflow.dynamic_nj, ps.dataflow.leakage_nj);
  // Published bugs, when asked for (reference profile, --reference-bugs): sub-modules that are
  // never clocked (operand reads, DMA) cost nothing; buffers leak only while transferring.
  const bool unclocked = o.sim.published.unclocked_submodules;
  auto buffer_leak = [&](const SramBuffer* b) {
    return o.sim.published.buffer_leakage_gated ? b->leakage_energy_nj(b->stats().port_busy_cycles)
                                           : b->leakage_energy_nj(T);
  };
  if (unclocked) {
    add("dma", 0.0, 0.0);
  } else {
    const double busy = static_cast<double>(ds.busy_engine_cycles);
    double leak = busy * tech.nj_per_cycle(tech.dma.leakage_mw);
    if (o.sim.leakage_when_idle) {
      const double cap = static_cast<double>(dma->engines()) * T;
      leak += std::max(0.0, cap - busy) * tech.nj_per_cycle(tech.dma.leakage_mw);
    }
    add("dma", busy * tech.nj_per_cycle(tech.dma.dynamic_mw), leak);
  }
  // Buffers: port traffic + leakage (always on). Default profile: every access (DMA, operands,
  // partial sums, outputs) went through the buffer's ports and is in its own stats. Reference
  // profile: the engines' operand reads are charged from their counts (published rule).
  const bool ref = o.sim.profile == Profile::reference;
  const double engine_act_nj =
      ref && !unclocked ? act->access_energy_nj(ss.activation_read_bytes + ls.activation_read_bytes)
                        : 0.0;
  const double engine_mask_nj =
      ref && !unclocked ? msk->access_energy_nj(ss.mask_read_bytes + ls.mask_read_bytes) : 0.0;
  const double pe_read_nj = unclocked ? 0.0 : 1.0;  // scales the PE array's operand reads
  add("activation_buffer",
      act->stats().dynamic_energy_nj + pe_read_nj * ps.activation_read_nj + engine_act_nj,
      buffer_leak(act.get()));
  add("weight_buffer", wgt->stats().dynamic_energy_nj + pe_read_nj * ps.weight_read_nj,
      buffer_leak(wgt.get()));
  add("mask_buffer", msk->stats().dynamic_energy_nj + pe_read_nj * ps.mask_read_nj + engine_mask_nj,
      buffer_leak(msk.get()));
  add("main_memory", ms.dynamic_energy_nj, mem->background_energy_nj(elapsed_ps));
  for (const auto& [name, e] : r.energy) r.energy_total_nj += e.total_nj();
  r.energy_per_seq_mj = r.batch > 0 ? r.energy_total_nj / r.batch * 1e-6 : 0;
  r.power_average_w = elapsed_ps > 0 ? r.energy_total_nj / (elapsed_ps * 1e-3) : 0;

  r.area_um2 = compute_area(cfg, tech).rows();

  const double lanes_total = static_cast<double>(cfg.total_lanes());
  auto util = [&](double busy, double units) { return T > 0 ? busy / (units * T) : 0.0; };
  r.utilization["mac_lanes"] = util(static_cast<double>(ps.lanes.busy_cycles), lanes_total);
  r.utilization["softmax"] = util(static_cast<double>(ss.units.busy_cycles),
                                  static_cast<double>(cfg.pe) * cfg.softmax_per_pe);
  r.utilization["layer_norm"] = util(static_cast<double>(ls.units.busy_cycles),
                                     static_cast<double>(cfg.pe) * cfg.layer_norm_per_pe);
  r.utilization["dma"] = util(static_cast<double>(ds.busy_engine_cycles), dma->engines());
  const double bytes_moved = static_cast<double>(ms.bytes_read + ms.bytes_written);
  r.utilization["main_memory_bandwidth"] =
      elapsed_ps > 0 ? bytes_moved / (mem->peak_bytes_per_second() * elapsed_ps * 1e-12) : 0;

  r.stall_cycles["waiting_for_memory"] = cs.stall_memory_cycles;
  r.stall_cycles["waiting_for_dependency"] = cs.stall_dependency_cycles;
  r.stall_cycles["buffer_full"] = cs.stall_buffer_full_cycles;

  r.memory["bytes_read"] = static_cast<double>(ms.bytes_read);
  r.memory["bytes_written"] = static_cast<double>(ms.bytes_written);
  r.memory["row_hits"] = static_cast<double>(ms.row_hits);
  r.memory["row_misses"] = static_cast<double>(ms.row_misses);
  r.memory["achieved_bandwidth_gbps"] = ms.achieved_bandwidth_gbps();
  r.memory["peak_bandwidth_gbps"] = mem->peak_bytes_per_second() * 1e-9;
  r.memory["spills"] = static_cast<double>(cs.spills);
  r.memory["spill_bytes"] = static_cast<double>(cs.spill_bytes);
  r.memory["reloads"] = static_cast<double>(cs.reloads);
  r.memory["reload_bytes"] = static_cast<double>(cs.reload_bytes);
  r.memory["activation_buffer_peak_bytes"] = static_cast<double>(act->stats().peak_occupancy_bytes);
  r.memory["weight_buffer_peak_bytes"] = static_cast<double>(wgt->stats().peak_occupancy_bytes);
  r.memory["mask_buffer_peak_bytes"] = static_cast<double>(msk->stats().peak_occupancy_bytes);
  r.memory["activation_buffer_evictions"] = static_cast<double>(act->stats().evictions);
  r.memory["weight_buffer_evictions"] = static_cast<double>(wgt->stats().evictions);

  r.compute["dense_macs"] = static_cast<double>(ps.dense_macs);
  r.compute["effectual_macs"] = static_cast<double>(ps.effectual_macs);
  r.compute["operand_reads"] = static_cast<double>(ps.operand_reads);
  r.compute["fifo_reuse"] = static_cast<double>(ps.fifo_reuse_first + ps.fifo_reuse_second);
  r.compute["broadcast_reuse"] = static_cast<double>(ps.broadcast_first + ps.broadcast_second);
  r.compute["psum_read_bytes"] = static_cast<double>(ps.psum_read_bytes);
  r.compute["psum_write_bytes"] = static_cast<double>(ps.psum_write_bytes);
  r.compute["psum_in_lane_tiles"] = static_cast<double>(ps.psum_in_lane_tiles);
  r.compute["output_write_bytes"] =
      static_cast<double>(ps.output_write_bytes + ss.output_write_bytes + ls.output_write_bytes);
  r.compute["fifo_depth_words"] = static_cast<double>(pe->fifo_depth_words());
  for (const SramBuffer* b : {act.get(), wgt.get(), msk.get()}) {
    const std::string k = proto::to_string(b->buffer_kind());
    r.memory[k + "_buffer_port_bytes"] =
        static_cast<double>(b->stats().bytes_read + b->stats().bytes_written);
    r.memory[k + "_buffer_port_busy_cycles"] = static_cast<double>(b->stats().port_busy_cycles);
    r.memory[k + "_buffer_banks"] = b->banks();
    r.utilization[k + "_buffer_ports"] =
        T > 0 ? static_cast<double>(b->stats().port_busy_cycles) / T : 0.0;
  }

  r.issued = cs.issued;
  r.completed = cs.completed;
  for (const auto& in : prog.instrs) {
    r.program[static_cast<int>(in.opcode)] += 1;
    if (in.opcode == Opcode::LOAD_W || in.opcode == Opcode::LOAD_A)
      r.stream_load_bytes += in.data_bytes + in.mask_bytes;
    if (in.opcode == Opcode::STORE_M) r.stream_store_bytes += in.data_bytes + in.mask_bytes;
  }
  for (const auto& op : prog.ops) r.macs += op.macs();
  r.compute["macs"] = static_cast<double>(r.macs);
  r.program_instructions = prog.instrs.size();
  for (auto t : cs.tiles) r.tiles_dispatched += t;
  r.dispatches = cs.dispatches;
  r.loaded_bytes = ds.bytes_from_memory;
  r.stored_bytes = ds.bytes_to_memory;
  r.total_macs_per_cycle = static_cast<uint64_t>(cfg.total_macs());
  r.memory_bytes_per_cycle = mem->peak_bytes_per_second() / (tech.clock_mhz * 1e6);

  // ---------------------------------------------------------------- bounds
  // Each resource can be busy at most every cycle: cycles >= its busy cycles / its units.
  r.bounds_cycles["compute"] =
      static_cast<double>(ps.effectual_macs) / static_cast<double>(cfg.total_macs());
  r.bounds_cycles["mac_lanes"] = static_cast<double>(ps.lanes.busy_cycles) / lanes_total;
  r.bounds_cycles["softmax"] = static_cast<double>(ss.units.busy_cycles) /
                               (static_cast<double>(cfg.pe) * cfg.softmax_per_pe);
  r.bounds_cycles["layer_norm"] = static_cast<double>(ls.units.busy_cycles) /
                                  (static_cast<double>(cfg.pe) * cfg.layer_norm_per_pe);
  r.bounds_cycles["memory"] =
      r.memory_bytes_per_cycle > 0 ? bytes_moved / r.memory_bytes_per_cycle : 0.0;
  for (const SramBuffer* b : {act.get(), wgt.get(), msk.get()})
    r.bounds_cycles[std::string(proto::to_string(b->buffer_kind())) + "_buffer_ports"] =
        static_cast<double>(b->stats().port_busy_cycles);
  double max_bound = 0;
  for (const auto& [k, v] : r.bounds_cycles) max_bound = std::max(max_bound, v);
  r.efficiency = r.cycles > 0 ? max_bound / static_cast<double>(r.cycles) : 0.0;

  // ---------------------------------------------------------------- per op
  {
    double buf_nj = 0, buf_bytes = 0;
    for (const SramBuffer* b : {act.get(), wgt.get(), msk.get()}) {
      buf_nj += b->stats().dynamic_energy_nj;
      buf_bytes += static_cast<double>(b->stats().bytes_read + b->stats().bytes_written);
    }
    const double nj_per_buf_byte = buf_bytes > 0 ? buf_nj / buf_bytes : 0.0;
    const double nj_per_mem_byte = bytes_moved > 0 ? ms.dynamic_energy_nj / bytes_moved : 0.0;
    for (const auto& op : prog.ops) {
      OpReport x;
      x.name = op.name;
      x.kind = to_string(op.kind);
      x.layer = op.layer;
      x.head = op.head;
      x.blocks = block_grid(op).blocks();
      x.run = cs.ops[op.id];
      if (x.run.first_cycle == ~uint64_t{0}) x.run.first_cycle = 0;
      x.macs = op.macs();
      const double port = static_cast<double>(x.run.operand_bytes + x.run.psum_bytes +
                                              x.run.output_bytes + x.run.param_bytes);
      const double memb = static_cast<double>(x.run.load_bytes + x.run.spill_bytes +
                                              x.run.reload_bytes + x.run.store_bytes);
      x.energy_nj = x.run.unit_energy_nj + port * nj_per_buf_byte + memb * nj_per_mem_byte;
      r.ops.push_back(std::move(x));
    }
  }

  // ---------------------------------------------------------------- timeline
  const uint64_t samples = std::max<uint64_t>(1, o.timeline_samples);
  const uint64_t bucket = std::max<uint64_t>(1, (T + samples - 1) / samples);
  const size_t nb = static_cast<size_t>((T + bucket - 1) / bucket) + 1;
  std::array<std::vector<double>, kEngineClasses> busy;
  for (auto& b : busy) b.assign(nb, 0.0);
  for (int c = 0; c < kEngineClasses; ++c)
    for (const auto& iv : cs.busy[c]) {
      if (iv.end_cycle <= iv.start_cycle || iv.unit_cycles == 0) continue;
      const double rate = static_cast<double>(iv.unit_cycles) / (iv.end_cycle - iv.start_cycle);
      for (uint64_t b0 = iv.start_cycle / bucket; b0 * bucket < iv.end_cycle && b0 < nb; ++b0) {
        const uint64_t lo = std::max(iv.start_cycle, b0 * bucket);
        const uint64_t hi = std::min(iv.end_cycle, (b0 + 1) * bucket);
        busy[c][b0] += rate * (hi - lo);
      }
    }
  // Energy of each bucket: every report entry is spread over the buckets in proportion to the
  // busy time of the engine class that spends it (uniformly over time when that class never
  // ran), so the buckets add up to the reported total and the mean of the bucket powers is the
  // average power.
  std::vector<double> bucket_nj(nb, 0.0);
  std::array<double, kEngineClasses> busy_sum{};
  for (int c = 0; c < kEngineClasses; ++c)
    for (double v : busy[c]) busy_sum[c] += v;
  auto spread = [&](double nj, int c) {  // c < 0: uniformly over time
    for (size_t b0 = 0; b0 < nb; ++b0) {
      const double lo = static_cast<double>(b0 * bucket);
      const double span = std::max(0.0, std::min(static_cast<double>(T), lo + bucket) - lo);
      bucket_nj[b0] += c >= 0 && busy_sum[c] > 0 ? nj * busy[c][b0] / busy_sum[c]
                       : T > 0                   ? nj * span / static_cast<double>(T)
                                                 : 0.0;
    }
  };
  constexpr int kUniform = -1;
  constexpr int kLanes = static_cast<int>(EngineClass::lanes);
  constexpr int kDma = static_cast<int>(EngineClass::dma);
  for (const auto& [name, e] : r.energy) {
    if (name == "softmax")
      spread(e.total_nj(), static_cast<int>(EngineClass::softmax));
    else if (name == "layer_norm")
      spread(e.total_nj(), static_cast<int>(EngineClass::layer_norm));
    else if (name == "dma" || name == "main_memory")
      spread(e.total_nj(), kDma);
    else if (name.find("_buffer") == std::string::npos)
      spread(e.total_nj(), kLanes);
  }
  // Buffers: leakage all the time, port transfers with the DMA, operand reads with the engines.
  // (Default profile: the port traffic of the buffers is mostly the engines'.)
  for (const SramBuffer* b : {act.get(), wgt.get(), msk.get()}) {
    spread(buffer_leak(b), kUniform);
    spread(b->stats().dynamic_energy_nj, ref ? kDma : kLanes);
  }
  spread(pe_read_nj * ps.buffer_read_nj() + engine_act_nj + engine_mask_nj, kLanes);
  size_t occ = 0;
  std::array<uint64_t, 4> last_occ{0, 0, 0, 0};
  for (size_t b0 = 0; b0 < nb && b0 * bucket <= T; ++b0) {
    TimelineSample s;
    s.cycle = b0 * bucket;
    const double span =
        static_cast<double>(std::min<uint64_t>(bucket, T - s.cycle > 0 ? T - s.cycle : 1));
    s.lanes_util = busy[0][b0] / (lanes_total * span);
    s.softmax_util = busy[1][b0] / (static_cast<double>(cfg.pe) * cfg.softmax_per_pe * span);
    s.layer_norm_util = busy[2][b0] / (static_cast<double>(cfg.pe) * cfg.layer_norm_per_pe * span);
    s.dma_util = busy[3][b0] / (static_cast<double>(dma->engines()) * span);
    while (occ < occupancy.size() && occupancy[occ][0] <= s.cycle + bucket)
      last_occ = occupancy[occ++];
    s.activation_bytes = last_occ[1];
    s.weight_bytes = last_occ[2];
    s.mask_bytes = last_occ[3];
    s.power_w = bucket_nj[b0] / (span * 1e3 / tech.clock_mhz);
    r.power_peak_w = std::max(r.power_peak_w, s.power_w);
    r.timeline.push_back(s);
  }
  return r;
}

}  // namespace acceltran
