// Issue groups of the instruction stream (docs/isa.md, "Issue groups").
//
// In profile hardware `--tiles-per-instruction N` only changes the issue bookkeeping: the
// compiler lowers one tile-job instruction per buffer-level block and then splits each into
// instructions of at most N tiles (split_tile_jobs); the pieces of a block share the block's
// dependency list, and a dependency on the block names its last piece. The control block puts
// the pieces back together (coalesce_issue_groups) and issues each block as one transaction, so
// the schedule is the one of N = 0.
#pragma once
#include <cstdint>
#include <vector>

#include "acceltran/compiler/isa.hpp"

namespace acceltran {

// Instructions `prog` has once every tile-job instruction is split into pieces of at most
// `tiles_per_instruction` tiles (0: no split).
uint64_t split_instruction_count(const Program& prog, uint64_t tiles_per_instruction);

// Splits every tile-job instruction into consecutive pieces of at most `tiles_per_instruction`
// tiles (0: nothing to do). The pieces of one instruction share one dependency list (one copy
// in Program::deps); every dependency on the instruction becomes one on its last piece. Memory
// and time are linear in the new instruction count (the stream is reserved once).
void split_tile_jobs(Program& prog, uint64_t tiles_per_instruction);

// The issue groups of `prog`: maximal runs of consecutive tile-job instructions of one op and
// block whose tile ranges follow each other. `group_first` gets the id of each group's first
// instruction and, last, the instruction count. Returns false (and leaves `grouped` alone) when
// every group is one instruction. Otherwise `grouped` is the program with one instruction per
// group: its tiles are the union of the members', its dependencies the union of theirs mapped to
// groups (a dependency inside the group dropped: tile jobs of one block never wait for each
// other). Throws InputError for a dependency that is not in the stream or is the instruction
// itself.
bool coalesce_issue_groups(const Program& prog, Program& grouped,
                           std::vector<InstrId>& group_first);

}  // namespace acceltran
