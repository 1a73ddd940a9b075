#include "acceltran/hw/report_builder.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "acceltran/compiler/parts.hpp"
#include "acceltran/hw/area.hpp"
#include "acceltran/hw/bounds.hpp"

namespace acceltran {

namespace {

// The blocks' statistics, read once after sc_start.
struct BlockStats {
  const ControlStats& control;
  uint64_t elapsed_cycles;
  double elapsed_ps;
  PeArrayStats pe_array;
  UnitPoolStats softmax, layer_norm;
  const DmaStats& dma;
  MainMemoryStats main_memory;  // an external memory: bytes and accesses from the DMA
  double memory_bytes_moved;    // read + written by the main memory
  // The main memory's peak bandwidth (bytes/s) and background energy over the run.
  double memory_peak_bytes_per_second = 0, memory_background_nj = 0;
  // Per buffer (proto::Buffer order): the cycles it leaks under --reference-bugs
  // buffer-leakage-gated (gated_leakage_cycles).
  std::array<uint64_t, 3> gated_leakage_cycles{};
};

// Published (buffer.py, Buffer.process_cycle): a buffer leaks only while it processes a
// transfer, one at a time: a load for its main-memory transfer time (ceil(bits / main-memory
// bits per cycle), the mask buffer for the mask's own), a store for its port time. Here: the
// port-busy cycles, with each load's port time replaced by the main-memory transfer time of the
// bytes it brought into this buffer at the memory's peak rate (docs/fidelity.md, F6). The load
// port time is taken off in one sum, so up to one cycle per load of rounding stays in.
uint64_t gated_leakage_cycles(const SramBuffer& buffer, const AcceleratorBlocks& top,
                              const Technology& tech, double memory_peak_bytes_per_second) {
  const uint64_t loaded_bytes =
      top.dma->stats().loaded_bytes[static_cast<size_t>(buffer.buffer_kind())];
  const double memory_bytes_per_cycle = memory_peak_bytes_per_second / (tech.clock_mhz * 1e6);
  auto whole_cycles = [](double cycles) { return static_cast<uint64_t>(std::ceil(cycles - 1e-9)); };
  const uint64_t load_memory_cycles =
      whole_cycles(static_cast<double>(loaded_bytes) / memory_bytes_per_cycle);
  const uint64_t load_port_cycles =
      std::min(buffer.stats().port_busy_cycles,
               whole_cycles(static_cast<double>(loaded_bytes) / buffer.port_bytes_per_cycle()));
  return buffer.stats().port_busy_cycles - load_port_cycles + load_memory_cycles;
}

// An external memory's statistics as far as the DMA saw them: bytes, transfers and 64-byte
// accesses (energy per access of the configured memory); no row or refresh figures.
MainMemoryStats external_memory_stats(const DmaStats& dma, const AcceleratorConfig& cfg,
                                      const Technology& tech) {
  MainMemoryStats memory;
  memory.bytes_read = dma.bytes_from_memory;
  memory.bytes_written = dma.bytes_to_memory;
  memory.accesses_64b = dma.memory_accesses_64b;
  memory.dynamic_energy_nj = static_cast<double>(dma.memory_accesses_64b) *
                             MainMemory::access_energy_nj(cfg.main_memory, tech);
  return memory;
}

BlockStats read_block_stats(const AcceleratorBlocks& top, const AcceleratorConfig& cfg,
                            const Technology& tech, const RunOptions& o) {
  const ControlStats& control = top.control_block->stats();
  const uint64_t elapsed_cycles = control.end_cycle;
  const double elapsed_ps = static_cast<double>(elapsed_cycles) * 1e6 / tech.clock_mhz;
  const MainMemoryStats memory = top.main_memory
                                     ? top.main_memory->stats()
                                     : external_memory_stats(top.dma->stats(), cfg, tech);
  BlockStats stats{control,
                   elapsed_cycles,
                   elapsed_ps,
                   top.pe_array->stats(elapsed_cycles),
                   top.softmax->stats(elapsed_cycles),
                   top.layer_norm->stats(elapsed_cycles),
                   top.dma->stats(),
                   memory,
                   static_cast<double>(memory.bytes_read + memory.bytes_written)};
  stats.memory_peak_bytes_per_second =
      top.main_memory ? top.main_memory->peak_bytes_per_second()
                      : MainMemory::peak_bytes_per_second(cfg.main_memory, tech, o.sim);
  stats.memory_background_nj =
      top.main_memory ? top.main_memory->background_energy_nj(elapsed_ps) : 0.0;
  for (const SramBuffer* buffer : {top.activation_buffer, top.weight_buffer, top.mask_buffer})
    stats.gated_leakage_cycles[static_cast<size_t>(buffer->buffer_kind())] =
        gated_leakage_cycles(*buffer, top, tech, stats.memory_peak_bytes_per_second);
  return stats;
}

// How buffer reads are charged and spread over the timeline: the run's profile and published
// switches, decided here once (docs/fidelity.md, "F. Energy").
struct BufferChargingRules {
  // Published bugs (--reference-bugs): sub-modules that are never clocked (operand reads, DMA)
  // cost nothing; buffers leak only while transferring.
  bool unclocked_submodules = false;
  bool buffer_leakage_gated = false;
  // Reference profile: the softmax and layer-norm engines' operand reads do not pass the
  // buffers' ports, so they are charged from the engines' counts (published rule), and the
  // buffers' own port traffic is the DMA's. Default profile: every access went through the
  // ports, and the port traffic is mostly the engines'.
  bool engine_reads_from_counts = false;
  bool port_traffic_follows_dma = false;
};

BufferChargingRules buffer_charging_rules(const SimOptions& sim) {
  const bool reference = sim.profile == Profile::reference;
  BufferChargingRules rules;
  rules.unclocked_submodules = sim.published.unclocked_submodules;
  rules.buffer_leakage_gated = sim.published.buffer_leakage_gated;
  rules.engine_reads_from_counts = reference && !rules.unclocked_submodules;
  rules.port_traffic_follows_dma = reference;
  return rules;
}

// Operand-read energy charged to the buffers beside their own port statistics.
struct OperandReadEnergy {
  double pe_array_scale = 1;        // scales the PE array's operand reads (0: unclocked)
  double engine_activation_nj = 0;  // softmax and layer-norm reads, from their counts
  double engine_mask_nj = 0;
};

OperandReadEnergy operand_read_energy(const AcceleratorBlocks& top, const BlockStats& stats,
                                      const BufferChargingRules& rules) {
  OperandReadEnergy energy;
  energy.pe_array_scale = rules.unclocked_submodules ? 0.0 : 1.0;
  if (rules.engine_reads_from_counts) {
    energy.engine_activation_nj = top.activation_buffer->access_energy_nj(
        stats.softmax.activation_read_bytes + stats.layer_norm.activation_read_bytes);
    energy.engine_mask_nj = top.mask_buffer->access_energy_nj(stats.softmax.mask_read_bytes +
                                                              stats.layer_norm.mask_read_bytes);
  }
  return energy;
}

double buffer_leakage_nj(const SramBuffer& buffer, const BufferChargingRules& rules,
                         const BlockStats& stats) {
  const size_t kind = static_cast<size_t>(buffer.buffer_kind());
  return buffer.leakage_energy_nj(rules.buffer_leakage_gated ? stats.gated_leakage_cycles[kind]
                                                             : stats.elapsed_cycles);
}

std::array<const SramBuffer*, 3> buffers_of(const AcceleratorBlocks& top) {
  return {top.activation_buffer, top.weight_buffer, top.mask_buffer};
}

BlockEnergy dma_energy(const AcceleratorBlocks& top, const BlockStats& stats,
                       const Technology& tech, const RunOptions& o,
                       const BufferChargingRules& rules) {
  if (rules.unclocked_submodules) return BlockEnergy{0.0, 0.0};
  const double busy = static_cast<double>(stats.dma.busy_engine_cycles);
  double leakage_nj = busy * tech.nj_per_cycle(tech.dma.leakage_mw);
  if (o.sim.leakage_when_idle) {
    const double capacity = static_cast<double>(top.dma->engines()) * stats.elapsed_cycles;
    leakage_nj += std::max(0.0, capacity - busy) * tech.nj_per_cycle(tech.dma.leakage_mw);
  }
  return BlockEnergy{busy * tech.nj_per_cycle(tech.dma.dynamic_mw), leakage_nj};
}

// r.energy in the fixed block order of the report, then the totals and the average power.
void add_energy_by_block(SimResult& r, const AcceleratorBlocks& top, const BlockStats& stats,
                         const Technology& tech, const RunOptions& o,
                         const BufferChargingRules& rules, const OperandReadEnergy& reads) {
  const PeArrayStats& pe = stats.pe_array;
  auto add = [&](const std::string& name, double dynamic_nj, double leakage_nj) {
    r.energy.push_back({name, BlockEnergy{dynamic_nj, leakage_nj}});
  };
  add("mac_lanes", pe.lanes.dynamic_nj + pe.fifo.dynamic_nj,
      pe.lanes.leakage_nj + pe.fifo.leakage_nj);
  add("dynatran", pe.pre_sparsity.dynamic_nj + pe.post_sparsity.dynamic_nj,
      pe.pre_sparsity.leakage_nj + pe.post_sparsity.leakage_nj);
  add("softmax", stats.softmax.dynamic_nj(), stats.softmax.leakage_nj());
  add("layer_norm", stats.layer_norm.dynamic_nj(), stats.layer_norm.leakage_nj());
  add("dataflow", pe.dataflow.dynamic_nj, pe.dataflow.leakage_nj);
  r.energy.push_back({"dma", dma_energy(top, stats, tech, o, rules)});
  // Buffers: port traffic + leakage (always on), plus the operand reads not in their stats.
  const SramBuffer& activation = *top.activation_buffer;
  const SramBuffer& weight = *top.weight_buffer;
  const SramBuffer& mask = *top.mask_buffer;
  add("activation_buffer",
      activation.stats().dynamic_energy_nj + reads.pe_array_scale * pe.activation_read_nj +
          reads.engine_activation_nj,
      buffer_leakage_nj(activation, rules, stats));
  add("weight_buffer", weight.stats().dynamic_energy_nj + reads.pe_array_scale * pe.weight_read_nj,
      buffer_leakage_nj(weight, rules, stats));
  add("mask_buffer",
      mask.stats().dynamic_energy_nj + reads.pe_array_scale * pe.mask_read_nj +
          reads.engine_mask_nj,
      buffer_leakage_nj(mask, rules, stats));
  add("main_memory", stats.main_memory.dynamic_energy_nj, stats.memory_background_nj);
  for (const auto& [name, e] : r.energy) r.energy_total_nj += e.total_nj();
  r.energy_per_seq_mj = r.batch > 0 ? r.energy_total_nj / r.batch * 1e-6 : 0;
  r.power_average_w = stats.elapsed_ps > 0 ? r.energy_total_nj / (stats.elapsed_ps * 1e-3) : 0;
}

void add_utilization(SimResult& r, const AcceleratorBlocks& top, const BlockStats& stats,
                     const AcceleratorConfig& cfg) {
  const uint64_t elapsed = stats.elapsed_cycles;
  auto busy_fraction = [&](double busy, double units) {
    return elapsed > 0 ? busy / (units * elapsed) : 0.0;
  };
  r.utilization["mac_lanes"] = busy_fraction(static_cast<double>(stats.pe_array.lanes.busy_cycles),
                                             static_cast<double>(cfg.total_lanes()));
  r.utilization["softmax"] = busy_fraction(static_cast<double>(stats.softmax.units.busy_cycles),
                                           static_cast<double>(cfg.pe) * cfg.softmax_per_pe);
  r.utilization["layer_norm"] =
      busy_fraction(static_cast<double>(stats.layer_norm.units.busy_cycles),
                    static_cast<double>(cfg.pe) * cfg.layer_norm_per_pe);
  r.utilization["dma"] =
      busy_fraction(static_cast<double>(stats.dma.busy_engine_cycles), top.dma->engines());
  r.utilization["main_memory_bandwidth"] =
      stats.elapsed_ps > 0 ? stats.memory_bytes_moved /
                                 (stats.memory_peak_bytes_per_second * stats.elapsed_ps * 1e-12)
                           : 0;
  for (const SramBuffer* buffer : buffers_of(top))
    r.utilization[std::string(proto::to_string(buffer->buffer_kind())) + "_buffer_ports"] =
        elapsed > 0 ? static_cast<double>(buffer->stats().port_busy_cycles) / elapsed : 0.0;
}

// --reference-bugs buffer-leakage-gated: the cycles each buffer is charged leakage for.
void add_gated_leakage_cycles(SimResult& r, const AcceleratorBlocks& top, const BlockStats& stats) {
  for (const SramBuffer* buffer : buffers_of(top))
    r.memory[std::string(proto::to_string(buffer->buffer_kind())) +
             "_buffer_gated_leakage_cycles"] =
        static_cast<double>(stats.gated_leakage_cycles[static_cast<size_t>(buffer->buffer_kind())]);
}

void add_stalls(SimResult& r, const ControlStats& control) {
  r.stall_cycles["waiting_for_memory"] = control.stall_memory_cycles;
  r.stall_cycles["waiting_for_dependency"] = control.stall_dependency_cycles;
  r.stall_cycles["buffer_full"] = control.stall_buffer_full_cycles;
}

// Per buffer: parts evicted (data or mask) and the reloads they caused, by cause: "room" (the
// buffer itself needed room), "coupled" (the other buffer of the pair dropped the part's other
// half: its mask, or its data). docs/memory.md §2.3.
void add_evictions(SimResult& r, const ControlStats& control) {
  static constexpr const char* kBuffers[] = {"activation_buffer", "weight_buffer", "mask_buffer"};
  static constexpr const char* kCauses[] = {"room", "coupled"};
  for (int buffer = 0; buffer < 3; ++buffer) {
    const BufferEvictions& counts = control.evictions[static_cast<size_t>(buffer)];
    uint64_t evictions = 0;
    for (int cause = 0; cause < kEvictionCauses; ++cause) {
      const std::string key = std::string(kBuffers[buffer]) + "_";
      const std::string suffix = std::string(".") + kCauses[cause];
      evictions += counts.evictions[cause];
      r.memory[key + "evictions" + suffix] = static_cast<double>(counts.evictions[cause]);
      r.memory[key + "evicted_bytes" + suffix] = static_cast<double>(counts.evicted_bytes[cause]);
      if (buffer == 2) continue;  // a reload moves data and mask: counted for the data buffer
      r.memory[key + "reloads" + suffix] = static_cast<double>(counts.reloads[cause]);
      r.memory[key + "reload_bytes" + suffix] = static_cast<double>(counts.reload_bytes[cause]);
    }
    r.memory[std::string(kBuffers[buffer]) + "_evictions"] = static_cast<double>(evictions);
  }
  r.memory["activation_buffer_in_place_parts"] = static_cast<double>(control.in_place_parts);
}

void add_memory_traffic(SimResult& r, const AcceleratorBlocks& top, const BlockStats& stats,
                        bool dense_homes) {
  const MainMemoryStats& memory = stats.main_memory;
  const ControlStats& control = stats.control;
  r.memory["bytes_read"] = static_cast<double>(memory.bytes_read);
  r.memory["bytes_written"] = static_cast<double>(memory.bytes_written);
  r.memory["row_hits"] = static_cast<double>(memory.row_hits);
  r.memory["row_misses"] = static_cast<double>(memory.row_misses);
  r.memory["achieved_bandwidth_gbps"] = memory.achieved_bandwidth_gbps();
  r.memory["peak_bandwidth_gbps"] = stats.memory_peak_bytes_per_second * 1e-9;
  // The main-memory range the run needs (docs/memory.md, "Address map"): every transfer lies
  // in [0, main_memory_range_bytes); a memory must decode at least this many bytes.
  r.memory["main_memory_range_bytes"] = static_cast<double>(stats.dma.memory_end_address);
  // The homes every part has reserved (some never touched): the program region may begin here.
  r.memory["main_memory_homes_bytes"] =
      static_cast<double>(part_homes_end_bytes(top.control_block->issued_program(), dense_homes));
  r.memory["spills"] = static_cast<double>(control.spills);
  r.memory["spill_bytes"] = static_cast<double>(control.spill_bytes);
  r.memory["reloads"] = static_cast<double>(control.reloads);
  r.memory["reload_bytes"] = static_cast<double>(control.reload_bytes);
  add_evictions(r, control);
  for (const SramBuffer* buffer : buffers_of(top)) {
    const std::string prefix = std::string(proto::to_string(buffer->buffer_kind())) + "_buffer";
    const SramStats& s = buffer->stats();
    r.memory[prefix + "_peak_bytes"] = static_cast<double>(s.peak_occupancy_bytes);
    r.memory[prefix + "_port_bytes"] = static_cast<double>(s.bytes_read + s.bytes_written);
    r.memory[prefix + "_port_busy_cycles"] = static_cast<double>(s.port_busy_cycles);
    r.memory[prefix + "_banks"] = buffer->banks();
  }
}

void add_compute_counts(SimResult& r, const AcceleratorBlocks& top, const BlockStats& stats) {
  const PeArrayStats& pe = stats.pe_array;
  r.compute["dense_macs"] = static_cast<double>(pe.dense_macs);
  r.compute["effectual_macs"] = static_cast<double>(pe.effectual_macs);
  r.compute["operand_reads"] = static_cast<double>(pe.operand_reads);
  r.compute["fifo_reuse"] = static_cast<double>(pe.fifo_reuse_first + pe.fifo_reuse_second);
  r.compute["broadcast_reuse"] = static_cast<double>(pe.broadcast_first + pe.broadcast_second);
  r.compute["psum_read_bytes"] = static_cast<double>(pe.psum_read_bytes);
  r.compute["psum_write_bytes"] = static_cast<double>(pe.psum_write_bytes);
  r.compute["psum_in_lane_tiles"] = static_cast<double>(pe.psum_in_lane_tiles);
  r.compute["reduction_additions"] = static_cast<double>(pe.reduction_additions);
  r.compute["output_write_bytes"] =
      static_cast<double>(pe.output_write_bytes + stats.softmax.output_write_bytes +
                          stats.layer_norm.output_write_bytes);
  r.compute["fifo_depth_words"] = static_cast<double>(top.pe_array->fifo_depth_words());
}

// Instruction counts of the program and of the run, streamed bytes, MACs and peak rates.
void add_program_counts(SimResult& r, const BlockStats& stats, const Program& prog,
                        const AcceleratorConfig& cfg, const Technology& tech) {
  const ControlStats& control = stats.control;
  r.issued = control.issued;
  r.completed = control.completed;
  for (const auto& in : prog.instrs) {
    r.program[static_cast<int>(in.opcode)] += 1;
    if (in.opcode == Opcode::LOAD_W || in.opcode == Opcode::LOAD_A)
      r.stream_load_bytes += in.data_bytes + in.mask_bytes;
    if (in.opcode == Opcode::STORE_M) r.stream_store_bytes += in.data_bytes + in.mask_bytes;
  }
  for (const auto& op : prog.ops) r.macs += op.macs();
  r.compute["macs"] = static_cast<double>(r.macs);
  r.program_instructions = prog.instrs.size();
  for (auto tiles : control.tiles) r.tiles_dispatched += tiles;
  r.dispatches = control.dispatches;
  r.loaded_bytes = stats.dma.bytes_from_memory;
  r.stored_bytes = stats.dma.bytes_to_memory;
  r.total_macs_per_cycle = static_cast<uint64_t>(cfg.total_macs());
  r.memory_bytes_per_cycle = stats.memory_peak_bytes_per_second / (tech.clock_mhz * 1e6);
}

// Each resource can be busy at most every cycle: cycles >= its busy cycles / its units.
// Needs r.memory_bytes_per_cycle (add_program_counts).
void add_bounds(SimResult& r, const AcceleratorBlocks& top, const BlockStats& stats,
                const AcceleratorConfig& cfg) {
  const PeArrayStats& pe = stats.pe_array;
  r.bounds_cycles["compute"] =
      static_cast<double>(pe.effectual_macs) / static_cast<double>(cfg.total_macs());
  r.bounds_cycles["mac_lanes"] =
      static_cast<double>(pe.lanes.busy_cycles) / static_cast<double>(cfg.total_lanes());
  r.bounds_cycles["softmax"] = static_cast<double>(stats.softmax.units.busy_cycles) /
                               (static_cast<double>(cfg.pe) * cfg.softmax_per_pe);
  r.bounds_cycles["layer_norm"] = static_cast<double>(stats.layer_norm.units.busy_cycles) /
                                  (static_cast<double>(cfg.pe) * cfg.layer_norm_per_pe);
  r.bounds_cycles["memory"] =
      r.memory_bytes_per_cycle > 0 ? stats.memory_bytes_moved / r.memory_bytes_per_cycle : 0.0;
  for (const SramBuffer* buffer : buffers_of(top))
    r.bounds_cycles[std::string(proto::to_string(buffer->buffer_kind())) + "_buffer_ports"] =
        static_cast<double>(buffer->stats().port_busy_cycles);
  double max_bound = 0;
  for (const auto& [name, cycles] : r.bounds_cycles) max_bound = std::max(max_bound, cycles);
  r.efficiency = r.cycles > 0 ? max_bound / static_cast<double>(r.cycles) : 0.0;
}

// Per op: its run figures, and its energy = its units + its buffer port bytes and main-memory
// bytes at the run's average energy per byte.
void add_ops(SimResult& r, const AcceleratorBlocks& top, const BlockStats& stats,
             const Program& prog) {
  double buffer_nj = 0, buffer_bytes = 0;
  for (const SramBuffer* buffer : buffers_of(top)) {
    buffer_nj += buffer->stats().dynamic_energy_nj;
    buffer_bytes += static_cast<double>(buffer->stats().bytes_read + buffer->stats().bytes_written);
  }
  const double nj_per_buffer_byte = buffer_bytes > 0 ? buffer_nj / buffer_bytes : 0.0;
  const double nj_per_memory_byte =
      stats.memory_bytes_moved > 0 ? stats.main_memory.dynamic_energy_nj / stats.memory_bytes_moved
                                   : 0.0;
  for (const auto& op : prog.ops) {
    OpReport x;
    x.name = op.name;
    x.kind = to_string(op.kind);
    x.layer = op.layer;
    x.head = op.head;
    x.blocks = block_grid(op).blocks();
    x.run = stats.control.ops[op.id];
    if (x.run.first_cycle == ~uint64_t{0}) x.run.first_cycle = 0;
    x.macs = op.macs();
    const double port_bytes = static_cast<double>(x.run.operand_bytes + x.run.psum_bytes +
                                                  x.run.output_bytes + x.run.param_bytes);
    const double memory_bytes = static_cast<double>(x.run.load_bytes + x.run.spill_bytes +
                                                    x.run.reload_bytes + x.run.store_bytes);
    x.energy_nj =
        x.run.unit_energy_nj + port_bytes * nj_per_buffer_byte + memory_bytes * nj_per_memory_byte;
    r.ops.push_back(std::move(x));
  }
}

// The critical path, per op its shortest duration and share of the path, and the achievable
// bound: the largest of the critical path and the resource bounds (docs/performance.md,
// "Bounds"). Needs r.bounds_cycles (add_bounds) and r.ops (add_ops).
void add_critical_path(SimResult& r, const AcceleratorBlocks& top, const AcceleratorConfig& cfg,
                       const RunOptions& o) {
  // The chain over the instructions as issued: in the hardware profile a block's pieces are one
  // instruction, so the bound is the same for every --tiles-per-instruction.
  const Program& prog = top.control_block->issued_program();
  const ShortestDurations durations =
      shortest_durations(top, prog, cfg, o, r.memory_bytes_per_cycle);
  const CriticalPath path = critical_path(prog, durations);
  r.critical_path_cycles = path.cycles;
  r.critical_path_memory_cycles = path.memory_cycles;
  for (OpId op : path.ops) r.critical_path_ops.push_back(prog.ops[op].name);
  for (const Op& op : prog.ops) {
    OpReport& report = r.ops[op.id];
    report.shortest_cycles = shortest_tiles_cycles(op.tile_count(), durations.op_units[op.id],
                                                   durations.op_tile_cycles[op.id]);
    report.critical_path_cycles = path.op_cycles[op.id];
  }
  r.achievable_bound_cycles = path.cycles;
  r.achievable_bound_limit = "critical_path";
  for (const auto& [name, cycles] : r.bounds_cycles)
    if (cycles > r.achievable_bound_cycles) {
      r.achievable_bound_cycles = cycles;
      r.achievable_bound_limit = name;
    }
  const double cycles = static_cast<double>(r.cycles);
  r.efficiency_vs_critical_path = r.cycles > 0 ? path.cycles / cycles : 0.0;
  r.efficiency_vs_achievable_bound = r.cycles > 0 ? r.achievable_bound_cycles / cycles : 0.0;
}

// Per op, the other ops in flight at its first cycle and the cycles it overlapped with them;
// an op runs over [first_cycle, last_cycle). One sweep over the ops' start and end cycles.
void add_op_overlap(SimResult& r) {
  std::vector<uint64_t> starts, ends;
  for (const OpReport& op : r.ops)
    if (op.run.tiles > 0) {
      starts.push_back(op.run.first_cycle);
      ends.push_back(op.run.last_cycle);
    }
  std::sort(starts.begin(), starts.end());
  std::sort(ends.begin(), ends.end());
  // Cycles in which two or more ops run, summed up to each boundary (boundaries in order).
  std::vector<uint64_t> boundaries(starts);
  boundaries.insert(boundaries.end(), ends.begin(), ends.end());
  std::sort(boundaries.begin(), boundaries.end());
  boundaries.erase(std::unique(boundaries.begin(), boundaries.end()), boundaries.end());
  auto running_at = [&](uint64_t cycle) {  // ops with first_cycle <= cycle < last_cycle
    return static_cast<uint64_t>(std::upper_bound(starts.begin(), starts.end(), cycle) -
                                 starts.begin()) -
           static_cast<uint64_t>(std::upper_bound(ends.begin(), ends.end(), cycle) - ends.begin());
  };
  std::vector<uint64_t> shared_before(boundaries.size(), 0);
  for (size_t b = 1; b < boundaries.size(); ++b)
    shared_before[b] = shared_before[b - 1] +
                       (running_at(boundaries[b - 1]) >= 2 ? boundaries[b] - boundaries[b - 1] : 0);
  auto shared_until = [&](uint64_t cycle) {
    return shared_before[static_cast<size_t>(
        std::lower_bound(boundaries.begin(), boundaries.end(), cycle) - boundaries.begin())];
  };
  uint64_t op_cycles = 0;
  for (OpReport& op : r.ops) {
    if (op.run.tiles == 0) continue;
    const bool runs_a_cycle = op.run.last_cycle > op.run.first_cycle;  // counted in running_at
    op.ops_in_flight_at_start = running_at(op.run.first_cycle) - (runs_a_cycle ? 1 : 0);
    op.overlap_cycles = shared_until(op.run.last_cycle) - shared_until(op.run.first_cycle);
    op_cycles += op.run.last_cycle - op.run.first_cycle;
    r.overlapped_op_cycles += op.overlap_cycles;
  }
  r.ops_in_flight_average = r.cycles > 0 ? static_cast<double>(op_cycles) / r.cycles : 0.0;
}

// ---------------------------------------------------------------- timeline
// The run cut into equal buckets of cycles; per engine class, its unit-cycles in each bucket.
struct TimelineBuckets {
  uint64_t elapsed_cycles = 0, bucket_cycles = 1;
  size_t count = 0;
  std::array<std::vector<double>, kEngineClasses> busy;  // unit-cycles per bucket
  std::array<double, kEngineClasses> busy_total{};
  std::vector<double> energy_nj;  // per bucket

  // Spreads `nj` over the buckets in proportion to the busy time of engine class `engine`
  // (kUniform, or a class that never ran: uniformly over time).
  static constexpr int kUniform = -1;
  void spread(double nj, int engine) {
    const double elapsed = static_cast<double>(elapsed_cycles);
    for (size_t b = 0; b < count; ++b) {
      const double lo = static_cast<double>(b * bucket_cycles);
      const double span = std::max(0.0, std::min(elapsed, lo + bucket_cycles) - lo);
      energy_nj[b] += engine >= 0 && busy_total[engine] > 0
                          ? nj * busy[engine][b] / busy_total[engine]
                      : elapsed_cycles > 0 ? nj * span / elapsed
                                           : 0.0;
    }
  }
};

TimelineBuckets busy_per_bucket(const ControlStats& control, uint64_t elapsed_cycles,
                                uint64_t samples_wanted) {
  TimelineBuckets t;
  const uint64_t samples = std::max<uint64_t>(1, samples_wanted);
  t.elapsed_cycles = elapsed_cycles;
  t.bucket_cycles = std::max<uint64_t>(1, (elapsed_cycles + samples - 1) / samples);
  t.count = static_cast<size_t>((elapsed_cycles + t.bucket_cycles - 1) / t.bucket_cycles) + 1;
  const uint64_t bucket = t.bucket_cycles;
  for (auto& b : t.busy) b.assign(t.count, 0.0);
  t.energy_nj.assign(t.count, 0.0);
  for (int c = 0; c < kEngineClasses; ++c)
    for (const auto& iv : control.busy[c]) {
      if (iv.end_cycle <= iv.start_cycle || iv.unit_cycles == 0) continue;
      // An interval's unit-cycles are spread evenly over its span.
      const double rate = static_cast<double>(iv.unit_cycles) / (iv.end_cycle - iv.start_cycle);
      for (uint64_t b = iv.start_cycle / bucket; b * bucket < iv.end_cycle && b < t.count; ++b) {
        const uint64_t lo = std::max(iv.start_cycle, b * bucket);
        const uint64_t hi = std::min(iv.end_cycle, (b + 1) * bucket);
        t.busy[c][b] += rate * (hi - lo);
      }
    }
  for (int c = 0; c < kEngineClasses; ++c)
    for (double v : t.busy[c]) t.busy_total[c] += v;
  return t;
}

// Energy of each bucket: every report entry is spread over the buckets in proportion to the
// busy time of the engine class that spends it (uniformly over time when that class never ran),
// so the buckets add up to the reported total and the mean of the bucket powers is the average
// power.
void spread_energy(TimelineBuckets& t, const SimResult& r, const AcceleratorBlocks& top,
                   const BlockStats& stats, const BufferChargingRules& rules,
                   const OperandReadEnergy& reads) {
  constexpr int kLanes = static_cast<int>(EngineClass::lanes);
  constexpr int kDma = static_cast<int>(EngineClass::dma);
  for (const auto& [name, e] : r.energy) {
    if (name == "softmax")
      t.spread(e.total_nj(), static_cast<int>(EngineClass::softmax));
    else if (name == "layer_norm")
      t.spread(e.total_nj(), static_cast<int>(EngineClass::layer_norm));
    else if (name == "dma" || name == "main_memory")
      t.spread(e.total_nj(), kDma);
    else if (name.find("_buffer") == std::string::npos)
      t.spread(e.total_nj(), kLanes);
  }
  // Buffers: leakage all the time, port transfers with the DMA or the engines (whichever drives
  // the ports), operand reads charged from counts with the engines.
  for (const SramBuffer* buffer : buffers_of(top)) {
    t.spread(buffer_leakage_nj(*buffer, rules, stats), TimelineBuckets::kUniform);
    t.spread(buffer->stats().dynamic_energy_nj, rules.port_traffic_follows_dma ? kDma : kLanes);
  }
  t.spread(reads.pe_array_scale * stats.pe_array.buffer_read_nj() + reads.engine_activation_nj +
               reads.engine_mask_nj,
           kLanes);
}

void add_timeline(SimResult& r, const AcceleratorBlocks& top, const TimelineBuckets& t,
                  const AcceleratorConfig& cfg, const Technology& tech) {
  const uint64_t elapsed = t.elapsed_cycles, bucket = t.bucket_cycles;
  const double lanes_total = static_cast<double>(cfg.total_lanes());
  static const std::vector<std::array<uint64_t, 4>> kNoOccupancy;
  const auto& occupancy = top.occupancy ? *top.occupancy : kNoOccupancy;
  size_t next_occupancy = 0;
  std::array<uint64_t, 4> last_occupancy{0, 0, 0, 0};
  for (size_t b = 0; b < t.count && b * bucket <= elapsed; ++b) {
    TimelineSample s;
    s.cycle = b * bucket;
    const double span = static_cast<double>(
        std::min<uint64_t>(bucket, elapsed - s.cycle > 0 ? elapsed - s.cycle : 1));
    s.lanes_util = t.busy[0][b] / (lanes_total * span);
    s.softmax_util = t.busy[1][b] / (static_cast<double>(cfg.pe) * cfg.softmax_per_pe * span);
    s.layer_norm_util = t.busy[2][b] / (static_cast<double>(cfg.pe) * cfg.layer_norm_per_pe * span);
    s.dma_util = t.busy[3][b] / (static_cast<double>(top.dma->engines()) * span);
    // The buffers' occupancy at the last control-block event before the bucket ends.
    while (next_occupancy < occupancy.size() && occupancy[next_occupancy][0] <= s.cycle + bucket)
      last_occupancy = occupancy[next_occupancy++];
    s.activation_bytes = last_occupancy[1];
    s.weight_bytes = last_occupancy[2];
    s.mask_bytes = last_occupancy[3];
    s.power_w = t.energy_nj[b] / (span * 1e3 / tech.clock_mhz);
    r.power_peak_w = std::max(r.power_peak_w, s.power_w);
    r.timeline.push_back(s);
  }
}

}  // namespace

// Names why a run is more than 1 / 0.8 of its achievable bound (docs/performance.md,
// "Efficiency loss"): stalls with no compute in flight (by what the oldest instruction waited
// for) when they make up half of the cycles above the bound; otherwise the limiting resource
// is left idle while compute runs ("schedule"). Needs add_stalls, add_memory_traffic,
// add_utilization, add_critical_path and add_op_overlap.
void add_efficiency_loss(SimResult& r) {
  SimResult::EfficiencyLoss& loss = r.efficiency_loss;
  loss.cycles = std::max(0.0, static_cast<double>(r.cycles) - r.achievable_bound_cycles);
  if (r.efficiency_vs_achievable_bound >= 0.8 || r.cycles == 0) {
    loss.cause = "none";
    loss.detail = "within 0.8 of the achievable bound";
    return;
  }
  std::string stall_kind;
  uint64_t stall = 0;
  for (const auto& [kind, cycles] : r.stall_cycles)
    if (cycles > stall) stall = cycles, stall_kind = kind;
  const double moved_mb = (r.memory["reload_bytes"] + r.memory["spill_bytes"]) / 1e6;
  if (static_cast<double>(stall) >= 0.5 * loss.cycles) {
    loss.cause = "stalls_" + stall_kind;
    loss.detail =
        fmt::format("no compute in flight for {} cycles ({}); reloads and spills moved {:.1f} MB",
                    stall, stall_kind, moved_mb);
    return;
  }
  const std::string& limit = r.achievable_bound_limit;
  const auto busy = r.utilization.find(limit == "memory" ? "main_memory_bandwidth" : limit);
  loss.cause = "schedule";
  loss.detail = fmt::format(
      "the schedule leaves {} idle while compute runs ({}); ops in flight {:.2f} on average, MAC "
      "lanes busy {:.0f} %, "
      "reloads and spills moved {:.1f} MB",
      r.achievable_bound_limit,
      busy == r.utilization.end() ? std::string("not saturated")
                                  : fmt::format("busy {:.0f} % of the run", 100 * busy->second),
      r.ops_in_flight_average, 100 * r.utilization["mac_lanes"], moved_mb);
}

SimResult build_report(const AcceleratorBlocks& top, const Program& prog,
                       const AcceleratorConfig& cfg, const Technology& tech, const RunOptions& o) {
  const BlockStats stats = read_block_stats(top, cfg, tech, o);
  SimResult r;
  r.finished = stats.control.finished;
  r.deadlock = stats.control.deadlock;
  r.clock_mhz = tech.clock_mhz;
  r.cycles = stats.elapsed_cycles;
  r.batch = prog.info.batch;
  r.latency_us = static_cast<double>(r.cycles) / tech.clock_mhz;
  r.throughput_seq_per_s = r.latency_us > 0 ? r.batch / (r.latency_us * 1e-6) : 0;

  const BufferChargingRules rules = buffer_charging_rules(o.sim);
  const OperandReadEnergy reads = operand_read_energy(top, stats, rules);
  add_energy_by_block(r, top, stats, tech, o, rules, reads);
  r.area_um2 = compute_area(cfg, tech).rows();
  add_utilization(r, top, stats, cfg);
  add_stalls(r, stats.control);
  add_memory_traffic(r, top, stats, o.functional != nullptr);
  if (rules.buffer_leakage_gated) add_gated_leakage_cycles(r, top, stats);
  add_compute_counts(r, top, stats);
  add_program_counts(r, stats, prog, cfg, tech);
  add_bounds(r, top, stats, cfg);
  add_ops(r, top, stats, prog);
  add_critical_path(r, top, cfg, o);
  add_op_overlap(r);
  add_efficiency_loss(r);
  TimelineBuckets buckets =
      busy_per_bucket(stats.control, stats.elapsed_cycles, o.timeline_samples);
  spread_energy(buckets, r, top, stats, rules, reads);
  add_timeline(r, top, buckets, cfg, tech);
  return r;
}

SimResult build_report(const Accelerator& top, const Program& prog, const AcceleratorConfig& cfg,
                       const Technology& tech, const RunOptions& o) {
  return build_report(top.blocks(), prog, cfg, tech, o);
}

}  // namespace acceltran
