#include "acceltran/compiler/issue_groups.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "acceltran/config/input_error.hpp"

namespace acceltran {

namespace {

// Pieces of at most `tiles_per_instruction` tiles of one instruction (memory instructions and
// tile jobs small enough: one).
uint64_t pieces_of(const Instruction& in, uint64_t tiles_per_instruction) {
  if (tiles_per_instruction == 0 || !is_compute(in.opcode) || in.tile_count <= tiles_per_instruction)
    return 1;
  return (in.tile_count + tiles_per_instruction - 1) / tiles_per_instruction;
}

// `in` carries on the tile range of the tile job before it (same op and block).
bool continues_group(const Instruction& previous, const Instruction& in) {
  return is_compute(in.opcode) && is_compute(previous.opcode) && in.opcode == previous.opcode &&
         in.op == previous.op && in.block == previous.block && in.tensor == previous.tensor &&
         in.first_tile == previous.first_tile + previous.tile_count;
}

uint32_t group_of(const std::vector<InstrId>& group_first, InstrId id) {
  const auto after = std::upper_bound(group_first.begin(), group_first.end() - 1, id);
  return static_cast<uint32_t>(after - group_first.begin() - 1);
}

void check_dependency(const Program& prog, InstrId id, InstrId dep) {
  if (dep >= prog.instrs.size() || dep == id)
    throw InputError(fmt::format("instruction {} depends on {}, which is {}", id, dep,
                                 dep == id ? "itself" : "not in the stream"));
}

// The dependencies of group `group`: those of its members, mapped to groups, without the group
// itself; sorted, each once. Pieces sharing one list (split_tile_jobs) are read once.
void group_dependencies(const Program& prog, const std::vector<InstrId>& group_first,
                        uint32_t group, std::vector<InstrId>& deps) {
  deps.clear();
  uint32_t list_begin = kNone, list_count = 0;
  for (InstrId id = group_first[group]; id < group_first[group + 1]; ++id) {
    const Instruction& in = prog.instrs[id];
    if (in.dep_begin == list_begin && in.dep_count == list_count) continue;
    list_begin = in.dep_begin;
    list_count = in.dep_count;
    for (auto dep = prog.deps_begin(in); dep != prog.deps_end(in); ++dep) {
      check_dependency(prog, id, *dep);
      const uint32_t dep_group = group_of(group_first, *dep);
      if (dep_group != group) deps.push_back(dep_group);
    }
  }
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
}

}  // namespace

uint64_t split_instruction_count(const Program& prog, uint64_t tiles_per_instruction) {
  uint64_t count = 0;
  for (const Instruction& in : prog.instrs) count += pieces_of(in, tiles_per_instruction);
  return count;
}

void split_tile_jobs(Program& prog, uint64_t tiles_per_instruction) {
  if (tiles_per_instruction == 0) return;
  // Id of the last piece of every instruction: what a dependency on it becomes.
  std::vector<InstrId> last_piece(prog.instrs.size());
  uint64_t count = 0;
  for (const Instruction& in : prog.instrs) {
    count += pieces_of(in, tiles_per_instruction);
    last_piece[in.id] = static_cast<InstrId>(count - 1);
  }
  if (count >= kNone)
    throw InputError(fmt::format("the instruction stream would have {} instructions, more than "
                                 "instruction ids can number; use a larger --tiles-per-instruction",
                                 count));
  Program split;
  split.instrs.reserve(count);  // once: no copy of a growing stream
  split.deps.reserve(prog.deps.size());
  std::vector<InstrId> deps;
  for (const Instruction& old : prog.instrs) {
    deps.clear();
    for (auto dep = prog.deps_begin(old); dep != prog.deps_end(old); ++dep)
      deps.push_back(last_piece[*dep]);
    const uint64_t pieces = pieces_of(old, tiles_per_instruction);
    const uint64_t end = old.first_tile + old.tile_count;
    Instruction piece = old;
    for (uint64_t n = 0; n < pieces; ++n) {
      if (pieces > 1) {
        piece.first_tile = old.first_tile + n * tiles_per_instruction;
        piece.tile_count = std::min(tiles_per_instruction, end - piece.first_tile);
      }
      // The pieces store one list between them (append_instruction shares equal lists).
      append_instruction(split, piece, deps.data(), deps.data() + deps.size());
    }
  }
  prog.instrs = std::move(split.instrs);
  prog.deps = std::move(split.deps);
}

bool coalesce_issue_groups(const Program& prog, Program& grouped,
                           std::vector<InstrId>& group_first) {
  group_first.clear();
  for (size_t n = 0; n < prog.instrs.size(); ++n)
    if (n == 0 || !continues_group(prog.instrs[n - 1], prog.instrs[n]))
      group_first.push_back(static_cast<InstrId>(n));
  group_first.push_back(static_cast<InstrId>(prog.instrs.size()));
  const size_t groups = group_first.size() - 1;
  if (groups == prog.instrs.size()) {
    group_first.clear();
    return false;
  }
  grouped.info = prog.info;
  grouped.tensors = prog.tensors;
  grouped.ops = prog.ops;
  grouped.instrs.clear();
  grouped.instrs.reserve(groups);
  grouped.deps.clear();
  std::vector<InstrId> deps;
  for (uint32_t group = 0; group < groups; ++group) {
    const Instruction& first = prog.instrs[group_first[group]];
    const Instruction& last = prog.instrs[group_first[group + 1] - 1];
    Instruction in = first;
    in.id = group;
    in.tile_count = last.first_tile + last.tile_count - first.first_tile;
    group_dependencies(prog, group_first, group, deps);
    in.dep_begin = static_cast<uint32_t>(grouped.deps.size());
    in.dep_count = static_cast<uint32_t>(deps.size());
    grouped.deps.insert(grouped.deps.end(), deps.begin(), deps.end());
    grouped.instrs.push_back(in);
  }
  return true;
}

}  // namespace acceltran
