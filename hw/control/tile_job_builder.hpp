// Fills the hardware job descriptor (tlm/tile_job.hpp) from the compiled program: the one place
// where the compiler's Op, Tensor and Opcode become what an engine sees.
#pragma once
#include <cstdint>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/tlm/tile_job.hpp"

namespace acceltran {

proto::JobKind job_kind(Opcode opcode);
proto::LoopNestOrder loop_nest_order(const LoopOrder& order);
LoopOrder loop_order_of(const proto::LoopNestOrder& order);

// The op-level part: kind, ids, problem dims, tile grid, loop order; the block box is the
// whole grid (block 0 of an op without blocks). Leaves tiles, sparsities and placement alone.
void describe_op(const Op& op, Opcode opcode, const LoopOrder& order, proto::TileJob& job);

// Hardware profile: the tiles of `in` (one buffer-level block) with the program's sparsities,
// operand placement and parameter words, issued `issue_width` tiles per cycle.
void describe_block_job(const Program& prog, const Instruction& in, uint32_t issue_width,
                        proto::TileJob& job);

// Reference profile: the op of `in` with the run-wide sparsities; the caller sets the tile range
// of each group.
void describe_group_job(const Program& prog, const Instruction& in, proto::TileJob& job);

}  // namespace acceltran
