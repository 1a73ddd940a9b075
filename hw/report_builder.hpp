// Assembles a run's SimResult (report.json, report.csv, ops.csv, timeline.csv) from the blocks'
// own statistics after sc_start: energy per block, utilization, stalls, memory traffic, bounds,
// per-op figures and the timeline.
#pragma once
#include "acceltran/hw/accelerator.hpp"
#include "acceltran/hw/accelerator_top.hpp"

namespace acceltran {

// `top`: the blocks of any top level (AcceleratorBlocks), or the Accelerator's own.
SimResult build_report(const AcceleratorBlocks& top, const Program& prog,
                       const AcceleratorConfig& cfg, const Technology& tech,
                       const RunOptions& opts);
SimResult build_report(const Accelerator& top, const Program& prog, const AcceleratorConfig& cfg,
                       const Technology& tech, const RunOptions& opts);

}  // namespace acceltran
