// --tiles-per-instruction only changes the issue bookkeeping (docs/isa.md, "Issue groups"):
// profile hardware splits each block's instruction into pieces that share its dependency list,
// and putting the pieces back together gives the N = 0 stream. The program's size is linear in
// its instruction count.
#include <catch2/catch.hpp>

#include "acceltran/compiler/issue_groups.hpp"
#include "acceltran/compiler/stats.hpp"
#include "test_util.hpp"

using namespace acceltran;
using testutil::compile;

namespace {

constexpr int64_t kSeqLen = 64;

// The fields of a coalesced instruction that must match the N = 0 stream's.
void check_same_instruction(const Program& a, const Instruction& x, const Program& b,
                            const Instruction& y) {
  CHECK(x.opcode == y.opcode);
  CHECK(x.op == y.op);
  CHECK(x.tensor == y.tensor);
  CHECK(x.block == y.block);
  CHECK(x.part == y.part);
  CHECK(x.first_tile == y.first_tile);
  CHECK(x.tile_count == y.tile_count);
  CHECK(x.data_bytes == y.data_bytes);
  CHECK(x.mask_bytes == y.mask_bytes);
  CHECK(std::vector<InstrId>(a.deps_begin(x), a.deps_end(x)) ==
        std::vector<InstrId>(b.deps_begin(y), b.deps_end(y)));
}

}  // namespace

TEST_CASE("grouping: the pieces of a block put back together give the N = 0 stream",
          "[compiler][grouping]") {
  for (const char* accel : {"edge", "server"}) {
    const Program whole = compile("bert-tiny", "hardware", accel, 0, kSeqLen);
    Program unused;
    std::vector<InstrId> group_first;
    CHECK_FALSE(coalesce_issue_groups(whole, unused, group_first));  // one instruction per block
    for (uint64_t tiles_per_instruction : {1ull, 8ull, 64ull}) {
      CAPTURE(accel, tiles_per_instruction);
      const Program split = compile("bert-tiny", "hardware", accel, tiles_per_instruction, kSeqLen);
      CHECK(split.instrs.size() == split_instruction_count(whole, tiles_per_instruction));
      Program grouped;
      REQUIRE(coalesce_issue_groups(split, grouped, group_first));
      REQUIRE(grouped.instrs.size() == whole.instrs.size());
      for (size_t n = 0; n < whole.instrs.size(); ++n)
        check_same_instruction(grouped, grouped.instrs[n], whole, whole.instrs[n]);
      // Every piece of a block waits for the block's list: stored once.
      CHECK(split.deps.size() == whole.deps.size());
    }
  }
}

TEST_CASE("grouping: program memory is linear in the instruction count", "[compiler][grouping]") {
  for (const char* accel : {"edge", "server"}) {
    const Program whole = compile("bert-tiny", "hardware", accel, 0, kSeqLen);
    uint64_t tiles = 0;
    for (const Op& op : whole.ops) tiles += op.tile_count();
    for (uint64_t tiles_per_instruction : {1ull, 8ull, 64ull}) {
      CAPTURE(accel, tiles_per_instruction);
      const Program split = compile("bert-tiny", "hardware", accel, tiles_per_instruction, kSeqLen);
      if (tiles_per_instruction == 1) {  // one instruction per tile, plus the memory ones
        uint64_t memory = 0;
        for (const Instruction& in : whole.instrs) memory += is_memory(in.opcode);
        CHECK(split.instrs.size() == tiles + memory);
      }
      // The extra instructions cost their own size and nothing else (no dependency lists).
      const uint64_t extra = split.instrs.size() - whole.instrs.size();
      CHECK(program_bytes(split) == program_bytes(whole) + extra * sizeof(Instruction));
    }
  }
}

TEST_CASE("grouping: the reference profile keeps N as the published issue batch",
          "[compiler][grouping]") {
  const Program whole = compile("bert-tiny", "reference", "edge", 0, kSeqLen);
  for (uint64_t tiles_per_instruction : {1ull, 8ull}) {
    CAPTURE(tiles_per_instruction);
    const Program split = compile("bert-tiny", "reference", "edge", tiles_per_instruction, kSeqLen);
    // Each op's tiles in pieces of N, and a STORE_A waiting for each piece of its op.
    std::vector<uint64_t> pieces(split.ops.size(), 0);
    for (const Instruction& in : split.instrs) {
      if (is_compute(in.opcode)) {
        CHECK(in.tile_count <= tiles_per_instruction);
        pieces[in.op] += 1;
      }
      if (in.opcode == Opcode::STORE_A) CHECK(in.dep_count == pieces[in.op]);
    }
    for (const Op& op : split.ops)
      CHECK(pieces[op.id] == (op.tile_count() + tiles_per_instruction - 1) / tiles_per_instruction);
    CHECK(split.instrs.size() > whole.instrs.size());
  }
}
