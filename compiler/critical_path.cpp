#include "acceltran/compiler/critical_path.hpp"

#include <algorithm>

namespace acceltran {

namespace {

bool moves_main_memory(Opcode opcode) {
  return opcode == Opcode::LOAD_W || opcode == Opcode::LOAD_A || opcode == Opcode::SPILL ||
         opcode == Opcode::STORE_M;
}

bool is_load(Opcode opcode) {
  return opcode == Opcode::LOAD_W || opcode == Opcode::LOAD_A;
}

// Where an instruction's earliest start comes from: one dependency's earliest finish, or (these
// two markers) cycle 0 or its load dependencies together at the peak bandwidth.
constexpr InstrId kRunStart = kNone;
constexpr InstrId kLoadsTogether = kNone - 1;

// Earliest start of `in` given its dependencies' earliest finishes: the latest of them, or its
// load dependencies together if later (they share the main memory, so together they take at
// least their bytes at the peak bandwidth). `waited_for`: what set it.
double earliest_start(const Program& prog, const Instruction& in,
                      const std::vector<double>& finish_cycles, const ShortestDurations& durations,
                      InstrId* waited_for, double* loads_cycles) {
  double start_cycles = 0;
  *waited_for = kRunStart;
  *loads_cycles = 0;
  for (auto dep = prog.deps_begin(in); dep != prog.deps_end(in); ++dep) {
    if (finish_cycles[*dep] > start_cycles) {
      start_cycles = finish_cycles[*dep];
      *waited_for = *dep;
    }
    const Instruction& dependency = prog.instrs[*dep];
    if (is_load(dependency.opcode))
      *loads_cycles += shortest_instruction_cycles(dependency, durations);
  }
  if (*loads_cycles > start_cycles) {
    start_cycles = *loads_cycles;
    *waited_for = kLoadsTogether;
  }
  return start_cycles;
}

// Earliest finish of every instruction, in one pass in program order (every dependency comes
// earlier, docs/isa.md).
std::vector<double> earliest_finish(const Program& prog, const ShortestDurations& durations) {
  std::vector<double> finish_cycles(prog.instrs.size(), 0.0);
  InstrId waited_for = kRunStart;
  double loads_cycles = 0;
  for (const Instruction& in : prog.instrs)
    finish_cycles[in.id] =
        earliest_start(prog, in, finish_cycles, durations, &waited_for, &loads_cycles) +
        shortest_instruction_cycles(in, durations);
  return finish_cycles;
}

}  // namespace

double shortest_tiles_cycles(uint64_t tiles, uint64_t units, double tile_cycles) {
  if (tiles == 0) return 0;
  const uint64_t waves = units > 0 ? (tiles + units - 1) / units : tiles;
  return static_cast<double>(waves) * tile_cycles;
}

double shortest_instruction_cycles(const Instruction& in, const ShortestDurations& durations) {
  if (is_compute(in.opcode))
    return shortest_tiles_cycles(in.tile_count, durations.op_units[in.op],
                                 durations.op_tile_cycles[in.op]);
  if (!moves_main_memory(in.opcode) || durations.memory_bytes_per_cycle <= 0) return 0;
  return static_cast<double>(in.data_bytes + in.mask_bytes) / durations.memory_bytes_per_cycle;
}

// The chain is read backwards from the instruction that finishes last, each step to what set
// its earliest start; tile jobs add to their op's cycles, transfers to the memory cycles.
CriticalPath critical_path(const Program& prog, const ShortestDurations& durations) {
  CriticalPath path;
  path.op_cycles.assign(prog.ops.size(), 0.0);
  if (prog.instrs.empty()) return path;
  const std::vector<double> finish_cycles = earliest_finish(prog, durations);
  const auto last = std::max_element(finish_cycles.begin(), finish_cycles.end());
  path.cycles = *last;
  InstrId at = static_cast<InstrId>(last - finish_cycles.begin());
  while (at != kRunStart && at != kLoadsTogether) {
    const Instruction& in = prog.instrs[at];
    const double cycles = shortest_instruction_cycles(in, durations);
    if (is_compute(in.opcode)) {
      path.op_cycles[in.op] += cycles;
      if (path.ops.empty() || path.ops.back() != in.op) path.ops.push_back(in.op);
    } else {
      path.memory_cycles += cycles;
    }
    InstrId waited_for = kRunStart;
    double loads_cycles = 0;
    earliest_start(prog, in, finish_cycles, durations, &waited_for, &loads_cycles);
    if (waited_for == kLoadsTogether) path.memory_cycles += loads_cycles;
    at = waited_for;
  }
  std::reverse(path.ops.begin(), path.ops.end());
  return path;
}

}  // namespace acceltran
