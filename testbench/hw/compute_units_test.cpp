// The PE array's plain-C++ units (no SystemC): loop-nest geometry, operand traffic, the piece
// mapper and lane assignment, against hand-computed figures.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

#include "acceltran/hw/compute/lane_assignment.hpp"
#include "acceltran/hw/compute/loop_nest.hpp"
#include "acceltran/hw/compute/operand_traffic.hpp"
#include "acceltran/hw/compute/piece_mapper.hpp"

using namespace acceltran;

namespace {
proto::LoopNestOrder order_of(const char* dims) {
  proto::LoopNestOrder order;
  for (int p = 0; p < 4; ++p) order.dims[static_cast<size_t>(p)] = dims[p];
  return order;
}
}  // namespace

TEST_CASE("compute units: loop nest strides, runs and tiles", "[compute][units]") {
  const int64_t extents[4] = {2, 3, 1, 4};  // b, i, j, k
  const LoopNest bijk(extents, order_of("bijk"));
  CHECK(bijk.tiles() == 24);
  CHECK(bijk.stride(proto::kLoopK) == 1);
  CHECK(bijk.stride(proto::kLoopI) == 4);
  CHECK(bijk.stride(proto::kLoopB) == 12);
  // j has extent 1: the run loop is k (4 tiles), neighbouring runs differ in i.
  CHECK(bijk.inner_dim() == proto::kLoopK);
  CHECK(bijk.outer_dim() == proto::kLoopI);
  CHECK(bijk.run_length_tiles() == 4);
  CHECK(bijk.runs() == 6);
  const proto::TileCoord t13 = bijk.at(13);  // 13 = 1 * 12 + 0 * 4 + 1
  CHECK((t13.b == 1 && t13.i == 0 && t13.j == 0 && t13.k == 1));
  CHECK(bijk.index_at(proto::kLoopK, 13) == 1);
  CHECK(bijk.index_at(proto::kLoopB, 13) == 1);

  // k outermost, b innermost: strides b 1, i 2, k 6; tile 7 = 1 * 6 + 0 * 2 + 1.
  const LoopNest kjib(extents, order_of("kjib"));
  CHECK(kjib.inner_dim() == proto::kLoopB);
  CHECK(kjib.outer_dim() == proto::kLoopI);
  CHECK(kjib.run_length_tiles() == 2);
  const proto::TileCoord t7 = kjib.at(7);
  CHECK((t7.b == 1 && t7.i == 0 && t7.j == 0 && t7.k == 1));

  // A block box: tiles [1, 3) x [0, 2) x [4, 5) x [0, 1) -> 2 x 2 tiles, run over i.
  const proto::TileBox box{1, 3, 0, 2, 4, 5, 0, 1};
  const LoopNest block = LoopNest::of_box(box, order_of("bijk"));
  CHECK(block.tiles() == 4);
  CHECK(block.inner_dim() == proto::kLoopI);
  CHECK(block.outer_dim() == proto::kLoopB);
  CHECK(block.runs() == 2);
  // A single tile: no loop at all.
  const int64_t one[4] = {1, 1, 1, 1};
  CHECK(LoopNest(one, order_of("bijk")).inner_dim() == -1);
  CHECK(LoopNest(one, order_of("bijk")).run_length_tiles() == 1);
}

TEST_CASE("compute units: operand tile words and bytes", "[compute][units]") {
  // tb 2, tx 4, ty 8: A 2 x 4 x 4, B 4 x 8 (batched 2 x 4 x 8), output 2 x 4 x 8.
  const OperandTileWords plain = operand_tile_words(2, 4, 8, true, false);
  CHECK(plain.a == 32);
  CHECK(plain.b == 32);
  CHECK(plain.output == 64);
  CHECK(operand_tile_words(2, 4, 8, true, true).b == 64);
  const OperandTileWords add = operand_tile_words(2, 4, 8, false, false);
  CHECK((add.a == 64 && add.b == 64));
  // 20-bit words: 32 words at sparsity 0.5 -> ceil(32 * 20 * 0.5 / 8) = 40 bytes + 4 mask bytes;
  // partial sums are dense: 64 * 20 / 8 = 160 bytes.
  const OperandTileBytes bytes = operand_tile_bytes(plain, 20, 0.5, 0.75, 0.0);
  CHECK(bytes.a_data == 40);
  CHECK(bytes.a_mask == 4);
  CHECK(bytes.b_data == 20);
  CHECK(bytes.output_data == 160);
  CHECK(bytes.output_mask == 8);
  CHECK(bytes.psum == 160);
}

TEST_CASE("compute units: run reuse and dataflow broadcast", "[compute][units]") {
  CHECK(run_reuse(true, proto::kLoopJ, false, true, true).keep_a);
  CHECK_FALSE(run_reuse(true, proto::kLoopJ, false, false, true).keep_a);  // A does not fit
  CHECK(run_reuse(true, proto::kLoopB, false, true, true).keep_b);         // unbatched weight
  CHECK_FALSE(run_reuse(true, proto::kLoopB, true, true, true).keep_b);    // batched B
  CHECK(run_reuse(true, proto::kLoopK, false, false, false).psum_in_lane);
  CHECK_FALSE(run_reuse(false, proto::kLoopK, false, true, true).psum_in_lane);
  // 8 lanes used, 4 per PE, neighbouring runs differ in j (extent 2): groups of ceil(4 / 2) = 2
  // lanes per PE share an A tile: 16 reads -> ceil(16 * 2 / 4) = 8 left, 8 saved. B depends on j.
  const BroadcastSharing sharing(true, proto::kLoopJ, 2, 4, false);
  const OperandReads reads = sharing.apply(16, 16, 8);
  CHECK(reads.a == 8);
  CHECK(reads.broadcast_a == 8);
  CHECK(reads.b == 16);
  CHECK(reads.broadcast_b == 0);
  // One lane per PE: nothing to share.
  CHECK(sharing.apply(16, 16, 1).broadcast_a == 0);
}

TEST_CASE("compute units: block traffic and piece spans", "[compute][units]") {
  // 4 runs of 8 k-tiles, cut in 2 pieces each, the block holds all of k: a piece boundary
  // costs one partial-sum write and read per run; each run ends with its final output.
  RunReuse along_k;
  along_k.psum_in_lane = true;
  const BlockReduction all_k{0, 8, 8};
  const BlockTrafficTiles cut = block_traffic_tiles(along_k, true, 2, 32, 4, 2, all_k);
  CHECK(cut.reads_a == 32);
  CHECK(cut.reads_b == 32);
  CHECK(cut.psum_reads == 4);
  CHECK(cut.psum_writes == 4);
  CHECK(cut.final_outputs == 4);
  // k fixed along runs, block holds k tiles [0, 2) of 4: the first k reads no partial sum,
  // nothing is final.
  RunReuse along_j;
  along_j.keep_a = true;
  const BlockTrafficTiles first_half = block_traffic_tiles(along_j, true, 2, 32, 4, 1, {0, 2, 4});
  CHECK(first_half.reads_a == 4);  // once per piece
  CHECK(first_half.psum_reads == 16);
  CHECK(first_half.psum_writes == 32);
  CHECK(first_half.final_outputs == 0);

  // Runs of 8 tiles in pieces of 3: tile 10 is in run 1, piece 0 = tiles [8, 11).
  const PieceLayout layout{8, 3, 4};
  const PieceSpan a = layout.span(10, 100);
  CHECK((a.run == 1 && a.piece_in_run == 0 && a.piece_first == 8 && a.piece_end == 11));
  CHECK((a.first == 10 && a.end == 11));
  CHECK_FALSE(a.starts_piece());
  CHECK(a.ends_piece());
  CHECK(layout.lane_slot(a) == 1);
  // The last piece of run 1 is [14, 16); a job ending at 15 covers only its first tile.
  const PieceSpan b = layout.span(14, 15);
  CHECK((b.piece_in_run == 2 && b.piece_end == 16 && b.end == 15));
  CHECK(layout.lane_slot(b) == 2 * 4 + 1);
  // Counting that last piece in full (tiles 14, 15; global k 6, 7): one tile's partial sum stays
  // in the lane, one partial sum is read at the piece start, the run's final output is written.
  PieceTrafficCounter counter;
  counter.count_matmul(layout.span(14, 16), along_k, 8, all_k, 7);
  CHECK(counter.reads_a == 2);
  CHECK(counter.psum_in_lane_tiles == 1);
  CHECK(counter.psum_reads == 1);
  CHECK(counter.final_outputs == 1);
  CHECK(counter.psum_writes == 0);
}

namespace {
// One run of 8 k-tiles (partial sums stay in the lane), 10 cycles per tile, additions of 3
// cycles, on an array of 4 lanes whose ports move `port_bytes_per_cycle`.
PieceMapperBlock one_k_run() {
  PieceMapperBlock block;
  block.block_tiles = 8;
  block.run_length_tiles = 8;
  block.runs = 1;
  block.lane_cycles_per_tile = 10;
  block.add_cycles = 3;
  block.reuse.psum_in_lane = true;
  block.reduction = {0, 8, 8};
  block.bytes.a_data = 10;
  block.bytes.b_data = 10;
  block.bytes.psum = 100;
  block.bytes.output_data = 50;
  block.b_in_weight_buffer = true;
  return block;
}
PieceMapperArray four_lanes(double port_bytes_per_cycle) {
  PieceMapperArray array;
  array.total_lanes = 4;
  array.activation_port_bytes_per_cycle = port_bytes_per_cycle;
  array.weight_port_bytes_per_cycle = port_bytes_per_cycle;
  return array;
}
}  // namespace

TEST_CASE("compute units: the reduction tree across the pieces' lanes", "[compute][units]") {
  // 5 pieces, root = piece 4: level 0 adds 3 into 4 and 1 into 2, level 1 adds 2 into 4,
  // level 2 adds 0 into 4. 4 additions, 3 levels.
  const uint64_t expected[5] = {0, 0, 1, 0, 3};
  uint64_t total = 0;
  for (uint64_t piece = 0; piece < 5; ++piece) {
    CHECK(PieceReduction::additions_of_piece(piece, 5) == expected[piece]);
    total += PieceReduction::additions_of_piece(piece, 5);
  }
  CHECK(total == PieceReduction::additions(5));
  CHECK(PieceReduction::depth(5) == 3);
  CHECK(PieceReduction::depth(8) == 3);
  CHECK(PieceReduction::depth(2) == 1);
  CHECK(PieceReduction::depth(1) == 0);
  // 8 pieces: piece 3 gathers 2 and (1 + 0), piece 5 gathers 4, root 7 gathers 6, 5, 3.
  CHECK(PieceReduction::additions_of_piece(7, 8) == 3);
  CHECK(PieceReduction::additions_of_piece(3, 8) == 2);
  CHECK(PieceReduction::additions_of_piece(5, 8) == 1);
  CHECK(PieceReduction::additions_of_piece(1, 8) == 1);
  CHECK(PieceReduction::additions_of_piece(6, 8) == 0);
}

TEST_CASE("compute units: the piece mapper cuts a k-run on an idle array", "[compute][units]") {
  const PieceMapperBlock block = one_k_run();
  const PieceMapper mapper(four_lanes(1000), BroadcastSharing());
  // Cuts 1, 2, 4, 8 give 1, 2, 4 and 8 pieces: lane counts 1, 2, 4 (at most 4 lanes).
  const LaneCandidates candidates = mapper.lane_candidates(block);
  REQUIRE(candidates.count == 3);
  CHECK((candidates.lanes[0] == 4 && candidates.lanes[1] == 2 && candidates.lanes[2] == 1));
  // Idle lanes (waits 0). Whole run: 80 cycles on one lane. Pieces of 4 on 2 lanes: 40 + one
  // addition (3) = 43. Pieces of 2 on 4 lanes: 20 + a 2-level tree (6) = 26. Pieces of 1 on 4
  // lanes: 2 rounds of 10 + max(3 levels, 7 additions / 4 lanes -> 2) x 3 = 29.
  CHECK(mapper.cost_of(block, 8, 1, 0).completion_cycles == Approx(80));
  CHECK(mapper.cost_of(block, 4, 2, 0).completion_cycles == Approx(43));
  CHECK(mapper.cost_of(block, 2, 4, 0).completion_cycles == Approx(26));
  CHECK(mapper.cost_of(block, 1, 4, 0).completion_cycles == Approx(29));
  // Lane-cycles: 80 of tiles plus 3 additions of 3.
  CHECK(mapper.cost_of(block, 2, 4, 0).lane_cycles == Approx(89));
  // The 2-tile pieces on 4 lanes win.
  const PieceMapper::Choice choice = mapper.choose(block, candidates);
  CHECK(choice.piece_tiles == 2);
  CHECK(choice.lanes == 4);
}

TEST_CASE("compute units: the piece mapper does not cut onto busy lanes or bound ports",
          "[compute][units]") {
  const PieceMapperBlock block = one_k_run();
  // One lane is free now, the others in 100 cycles: the whole run on the free lane (80) beats
  // any cut (at least 100 + 20 + 6).
  const PieceMapper fast(four_lanes(1000), BroadcastSharing());
  LaneCandidates busy = fast.lane_candidates(block);
  busy.wait_cycles[0] = 100;  // 4 lanes
  busy.wait_cycles[1] = 100;  // 2 lanes
  busy.wait_cycles[2] = 0;    // 1 lane
  CHECK(fast.cost_of(block, 2, 4, 100).completion_cycles == Approx(126));
  PieceMapper::Choice choice = fast.choose(block, busy);
  CHECK(choice.piece_tiles == 8);
  CHECK(choice.lanes == 1);
  // Lanes free in 30 cycles: pieces of 2 on 4 lanes end at 30 + 26 = 56 < 80.
  busy.wait_cycles[0] = busy.wait_cycles[1] = 30;
  choice = fast.choose(block, busy);
  CHECK(choice.piece_tiles == 2);
  CHECK(choice.lanes == 4);
  // Slow ports (1 byte per cycle), idle lanes: the whole run moves 8 A tiles (80 bytes) and one
  // output (50 bytes) through the activation port: 130 cycles; every cut adds a 200-byte
  // partial-sum round trip (write, read), so cutting only makes it later.
  const PieceMapper slow(four_lanes(1), BroadcastSharing());
  CHECK(slow.cost_of(block, 8, 1, 0).completion_cycles == Approx(130));
  CHECK(slow.cost_of(block, 4, 2, 0).completion_cycles == Approx(330));
  choice = slow.choose(block, slow.lane_candidates(block));
  CHECK(choice.piece_tiles == 8);
  CHECK(choice.lanes == 1);
}

TEST_CASE("compute units: lane assignment", "[compute][units]") {
  // The 3 lanes free the earliest (ties: lowest index), in index order.
  const std::vector<uint64_t> lane_free = {5, 1, 3, 1, 0};
  std::vector<uint32_t> order = {0, 1, 2, 3, 4}, lanes;
  // Nested selections for 5, 3 and 2 lanes: the last of them is free at 5, 1 and 1.
  const uint64_t counts[3] = {5, 3, 2};
  uint64_t last_free[3] = {};
  select_earliest_free(lane_free, counts, 3, order, last_free);
  CHECK((last_free[0] == 5 && last_free[1] == 1 && last_free[2] == 1));
  take_earliest_lanes(order, 3, lanes);
  CHECK(lanes == std::vector<uint32_t>{1, 3, 4});
  take_earliest_lanes(order, 2, lanes);
  CHECK(lanes == std::vector<uint32_t>{1, 4});
  take_earliest_lanes(order, 5, lanes);
  CHECK(lanes == std::vector<uint32_t>{0, 1, 2, 3, 4});
  // Reference profile: chunks of lanes_per_pe (2) tiles go to the PE free the earliest; lanes
  // round-robin within a PE.
  RoundRobinLanes round_robin(2, 2);
  const std::vector<uint64_t> pe_free = {5, 2};
  CHECK(round_robin.pick_pe(-1, pe_free) == 1);
  CHECK(round_robin.pick_pe(-1, pe_free) == 1);
  CHECK(round_robin.pick_pe(-1, {1, 2}) == 0);  // a new chunk
  CHECK(round_robin.next_lane(1) == 0);
  CHECK(round_robin.next_lane(1) == 1);
  CHECK(round_robin.next_lane(1) == 0);
  CHECK(round_robin.pick_pe(0, pe_free) == 0);
  CHECK_THROWS_AS(round_robin.pick_pe(2, pe_free), std::invalid_argument);
}
