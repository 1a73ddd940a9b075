// The critical path of a hand-built program (compiler/critical_path.hpp; docs/performance.md,
// "Bounds"): every expected figure is derived in the comments.
#include <catch2/catch.hpp>

#include <vector>

#include "acceltran/compiler/critical_path.hpp"

using namespace acceltran;

namespace {

// A program of ops and instructions only (the critical path reads nothing else).
struct ProgramBuilder {
  Program prog;
  OpId op(OpKind kind, const char* name) {
    Op o;
    o.id = static_cast<OpId>(prog.ops.size());
    o.kind = kind;
    o.name = name;
    prog.ops.push_back(o);
    return o.id;
  }
  InstrId memory(Opcode opcode, uint64_t data_bytes, uint64_t mask_bytes,
                 const std::vector<InstrId>& deps = {}) {
    Instruction in;
    in.opcode = opcode;
    in.data_bytes = data_bytes;
    in.mask_bytes = mask_bytes;
    return push(in, deps);
  }
  InstrId tiles(OpId op, uint64_t tile_count, const std::vector<InstrId>& deps) {
    Instruction in;
    in.opcode = opcode_of(prog.ops[op].kind);
    in.op = op;
    in.tile_count = tile_count;
    return push(in, deps);
  }
  InstrId push(Instruction in, const std::vector<InstrId>& deps) {
    in.id = static_cast<InstrId>(prog.instrs.size());
    in.dep_begin = static_cast<uint32_t>(prog.deps.size());
    in.dep_count = static_cast<uint32_t>(deps.size());
    prog.deps.insert(prog.deps.end(), deps.begin(), deps.end());
    prog.instrs.push_back(in);
    return in.id;
  }
};

}  // namespace

TEST_CASE("an op's tiles spread over its units: ceil(tiles / units) x tile cycles",
          "[compiler][bounds]") {
  CHECK(shortest_tiles_cycles(10, 4, 69) == 207);  // 3 waves of 69 cycles
  CHECK(shortest_tiles_cycles(3, 4, 69) == 69);    // fewer tiles than units: one tile's time
  CHECK(shortest_tiles_cycles(8, 4, 21) == 42);
  CHECK(shortest_tiles_cycles(0, 4, 69) == 0);
}

TEST_CASE("critical path of a hand-built two-branch program", "[compiler][bounds]") {
  ProgramBuilder b;
  const OpId mm0 = b.op(OpKind::matmul, "mm0");
  const OpId sm = b.op(OpKind::softmax, "sm");
  const OpId mm2 = b.op(OpKind::matmul, "mm2");
  const OpId add = b.op(OpKind::add, "add");
  ShortestDurations d;
  d.op_tile_cycles = {69, 27, 69, 21};  // one tile of each op
  d.op_units = {4, 2, 4, 4};            // 4 lanes, 2 softmax modules
  d.memory_bytes_per_cycle = 100;
  // Branch 1: two loads (1000 B and 600 B: 10 and 6 cycles alone, 16 together since they share
  // the memory), mm0 (10 tiles on 4 lanes: 3 x 69 = 207, finishes at 16 + 207 = 223), softmax
  // (5 tiles on 2 modules: 3 x 27 = 81, finishes at 304).
  const InstrId w0 = b.memory(Opcode::LOAD_W, 800, 200);
  const InstrId w1 = b.memory(Opcode::LOAD_W, 500, 100);
  const InstrId mm0_tiles = b.tiles(mm0, 10, {w0, w1});
  const InstrId sm_tiles = b.tiles(sm, 5, {mm0_tiles});
  // Branch 2: a 3000 B load (30 cycles), mm2 (20 tiles on 4 lanes: 5 x 69 = 345, finishes at
  // 375).
  const InstrId w2 = b.memory(Opcode::LOAD_W, 3000, 0);
  const InstrId mm2_tiles = b.tiles(mm2, 20, {w2});
  // The add waits for both branches: max(304, 375) = 375, 4 tiles on 4 lanes: 21, finishes at
  // 396; the output store (400 B: 4 cycles) at 400. An on-chip STORE_A takes no time.
  const InstrId add_tiles = b.tiles(add, 4, {sm_tiles, mm2_tiles});
  const InstrId store = b.memory(Opcode::STORE_A, 4000, 0, {add_tiles});
  b.memory(Opcode::STORE_M, 300, 100, {store});
  const CriticalPath path = critical_path(b.prog, d);
  // Chain: load w2 (30) -> mm2 (345) -> add (21) -> STORE_A (0) -> STORE_M (4) = 400 cycles,
  // of which 34 of main-memory transfers.
  CHECK(path.cycles == Approx(400));
  CHECK(path.memory_cycles == Approx(34));
  CHECK(path.ops == std::vector<OpId>{mm2, add});
  CHECK(path.op_cycles == std::vector<double>{0, 0, 345, 21});
}

TEST_CASE("critical path: loads waited for together take their bytes at the peak bandwidth",
          "[compiler][bounds]") {
  ProgramBuilder b;
  const OpId mm = b.op(OpKind::matmul, "mm");
  ShortestDurations d;
  d.op_tile_cycles = {69};
  d.op_units = {4};
  d.memory_bytes_per_cycle = 100;
  // Two loads of 10 and 6 cycles alone; the matmul needs both: it starts at 16, not 10, and
  // finishes at 16 + 3 x 69 = 223, of which 16 cycles of loads.
  const InstrId w0 = b.memory(Opcode::LOAD_W, 800, 200);
  const InstrId w1 = b.memory(Opcode::LOAD_W, 500, 100);
  b.tiles(mm, 10, {w0, w1});
  const CriticalPath path = critical_path(b.prog, d);
  CHECK(path.cycles == Approx(223));
  CHECK(path.memory_cycles == Approx(16));
  CHECK(path.ops == std::vector<OpId>{mm});
  // Without a memory rate the loads take no time: 207.
  d.memory_bytes_per_cycle = 0;
  CHECK(critical_path(b.prog, d).cycles == Approx(207));
}

TEST_CASE("critical path of an empty program is zero", "[compiler][bounds]") {
  Program prog;
  ShortestDurations d;
  const CriticalPath path = critical_path(prog, d);
  CHECK(path.cycles == 0);
  CHECK(path.ops.empty());
}
