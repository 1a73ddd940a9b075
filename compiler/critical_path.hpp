// The critical path of a program: the longest chain of dependent instructions, each at its
// shortest possible duration (docs/performance.md, "Bounds"). Plain graph arithmetic over the
// program's dependencies; the durations of one tile and the units a tile can run on come from
// the caller (hw/bounds.hpp derives them from the accelerator).
#pragma once
#include <cstdint>
#include <vector>

#include "acceltran/compiler/isa.hpp"

namespace acceltran {

// The shortest durations the hardware allows.
struct ShortestDurations {
  // Per op of the program: cycles of one of its tiles at the fastest, and the units its tiles
  // can spread over (MAC lanes, softmax modules or layer-norm modules).
  std::vector<double> op_tile_cycles;
  std::vector<uint64_t> op_units;
  // Main-memory bytes per cycle at the peak bandwidth (0: memory transfers take no time).
  double memory_bytes_per_cycle = 0;
};

struct CriticalPath {
  double cycles = 0;         // the bound: the latest earliest finish over all instructions
  double memory_cycles = 0;  // of which main-memory transfers (loads waited for, stores)
  std::vector<OpId> ops;     // the ops whose tile jobs are on the chain, first to last, each once
  std::vector<double> op_cycles;  // per op of the program: cycles of the chain in its tile jobs
};

// An op's tiles spread over its units: ceil(tiles / units) x cycles of one tile.
double shortest_tiles_cycles(uint64_t tiles, uint64_t units, double tile_cycles);

// The shortest duration of one instruction: a tile job, shortest_tiles_cycles of its tiles; a
// main-memory transfer (LOAD_W, LOAD_A, SPILL, STORE_M), its data and mask bytes at the peak
// bandwidth; STORE_A (on chip), 0.
double shortest_instruction_cycles(const Instruction& in, const ShortestDurations& durations);

// Earliest finish of each instruction = its earliest start + its shortest duration, where the
// earliest start is the latest earliest finish of its dependencies, and at least the time its
// main-memory load dependencies need together at the peak bandwidth (they share the memory).
// The critical path ends at the latest earliest finish. Linear in instructions + dependencies.
CriticalPath critical_path(const Program& prog, const ShortestDurations& durations);

}  // namespace acceltran
