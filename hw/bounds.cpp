#include "acceltran/hw/bounds.hpp"

#include "acceltran/hw/control/control_policy.hpp"
#include "acceltran/hw/control/tile_job_builder.hpp"

namespace acceltran {

namespace {

// The first tile-job instruction of each op (kNone: the op has none).
std::vector<InstrId> first_tile_job_of_each_op(const Program& prog) {
  std::vector<InstrId> first(prog.ops.size(), kNone);
  for (const Instruction& in : prog.instrs)
    if (is_compute(in.opcode) && first[in.op] == kNone) first[in.op] = in.id;
  return first;
}

// Cycles of one tile of the job on its engine (the engines' own per-tile timing,
// docs/compute.md "Timing of one tile").
double tile_cycles(const AcceleratorBlocks& top, const proto::TileJob& job, bool functional) {
  switch (job.kind) {
    case proto::JobKind::softmax:
      return static_cast<double>(top.softmax->tile_timing(job.activation_sparsity).held);
    case proto::JobKind::layer_norm:
      return static_cast<double>(top.layer_norm->tile_timing(job.activation_sparsity).held);
    default: {
      // A functional matmul tile takes its cycles from its data: at the fastest, no effectual
      // MAC (the mask walk and the lane pipeline remain).
      const uint64_t no_effectual_macs = 0;
      const bool from_data = functional && job.kind == proto::JobKind::matmul;
      return static_cast<double>(top.pe_array
                                     ->tile_timing(job.kind, job.activation_sparsity,
                                                   job.weight_sparsity,
                                                   from_data ? &no_effectual_macs : nullptr)
                                     .held);
    }
  }
}

uint64_t units_of(proto::JobKind kind, const AcceleratorConfig& cfg) {
  const uint64_t pes = static_cast<uint64_t>(cfg.pe);
  switch (kind) {
    case proto::JobKind::softmax:
      return pes * static_cast<uint64_t>(cfg.softmax_per_pe);
    case proto::JobKind::layer_norm:
      return pes * static_cast<uint64_t>(cfg.layer_norm_per_pe);
    default:
      return static_cast<uint64_t>(cfg.total_lanes());
  }
}

}  // namespace

ShortestDurations shortest_durations(const AcceleratorBlocks& top, const Program& prog,
                                     const AcceleratorConfig& cfg, const RunOptions& opts,
                                     double memory_bytes_per_cycle) {
  ShortestDurations durations;
  durations.op_tile_cycles.assign(prog.ops.size(), 0.0);
  durations.op_units.assign(prog.ops.size(), 1);
  durations.memory_bytes_per_cycle = memory_bytes_per_cycle;
  // The job each op's tile jobs carry, described as the control block describes it
  // (hw/control/tile_job_builder.hpp): its kind and its operands' sparsities.
  const bool block_jobs =
      ControlPolicy::for_profile(prog.info.profile).one_transaction_per_instruction;
  const bool functional = opts.functional != nullptr;
  const std::vector<InstrId> first_job = first_tile_job_of_each_op(prog);
  proto::TileJob job;
  for (const Op& op : prog.ops) {
    if (first_job[op.id] == kNone) continue;
    const Instruction& in = prog.instrs[first_job[op.id]];
    if (block_jobs)
      describe_block_job(prog, in, 0, job);
    else
      describe_group_job(prog, in, job);
    durations.op_tile_cycles[op.id] = tile_cycles(top, job, functional);
    durations.op_units[op.id] = units_of(job.kind, cfg);
  }
  return durations;
}

}  // namespace acceltran
