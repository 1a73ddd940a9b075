// The critical-path bound of a run (docs/performance.md, "Bounds"): the program's longest chain
// of dependent instructions (compiler/critical_path.hpp), each at the shortest duration this
// accelerator allows: a tile job's tiles spread over every unit of its engine class, a
// main-memory transfer at the peak bandwidth.
#pragma once
#include "acceltran/compiler/critical_path.hpp"
#include "acceltran/hw/accelerator_top.hpp"

namespace acceltran {

// Per op: the cycles of one tile at the fastest (the engine's own per-tile timing with the
// sparsities its tile jobs carry; in a functional run a matmul tile's cycles depend on its data,
// so the fastest any tile can be: no effectual MAC) and the units of its engine class.
ShortestDurations shortest_durations(const AcceleratorBlocks& top, const Program& prog,
                                     const AcceleratorConfig& cfg, const RunOptions& opts,
                                     double memory_bytes_per_cycle);

}  // namespace acceltran
