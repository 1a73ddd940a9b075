// How the compute engines model a tile job, decided once per run from the profile (one
// factory; the engines keep the result and never test the profile themselves). The hardware
// profile models this project's hardware (docs/compute.md, "Mapping and data movement (default
// profile)"); the reference profile reproduces the published simulator's formulas
// (docs/compute.md, "Tile-to-lane mapping (reference profile)", "Timing of one tile").
#pragma once
#include "acceltran/hw/sim_options.hpp"

namespace acceltran {

struct ComputeConventions {
  // Per-tile cycles by the published formulas (held N + 1, charged N) instead of the lane
  // pipeline and the row-pipelined modules.
  bool published_tile_cycles = false;
  // The PE array runs buffer-level blocks (runs, pieces, broadcast, partial sums in closed form)
  // instead of dealing tiles round-robin over the lanes of a PE.
  bool buffer_level_blocks = true;
  // Engines move their operand, output and parameter traffic through the buffers' ports and
  // issue a job's tiles issue_width per cycle.
  bool buffer_port_traffic = true;
  // The pre-/post-sparsity units, FIFO and dataflow module are charged busy cycles.
  bool sparsity_unit_cycles = true;
  // Published bug (pe.py assign_op): a softmax tile takes every free module of a PE.
  bool softmax_overassign = false;
};

inline ComputeConventions compute_conventions(const SimOptions& opts) {
  ComputeConventions c;
  const bool reference = opts.profile == Profile::reference;
  c.published_tile_cycles = reference;
  c.buffer_level_blocks = !reference;
  c.buffer_port_traffic = !reference;
  c.sparsity_unit_cycles = !reference;
  c.softmax_overassign = reference && opts.published.softmax_overassign;
  return c;
}

}  // namespace acceltran
