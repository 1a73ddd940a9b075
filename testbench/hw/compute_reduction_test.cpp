// The PE array's reductions across lanes (docs/compute.md, "Pieces" and "Reductions across
// lanes"): a run over k cut into pieces on an idle array, its partial-sum tree, and no cut when
// the other lanes are busy. Hand-computed figures.
#include <catch2/catch.hpp>

#include <string>

#include "acceltran/hw/compute/pe_array.hpp"
#include "compute_common.hpp"

using namespace acceltran;
using namespace compute_test;

namespace {
// Edge lanes (16 MACs, tile 1x16x16), one PE of 4 lanes.
AcceleratorConfig four_lane_edge() {
  AcceleratorConfig cfg = accel("edge");
  cfg.pe = 1;
  cfg.lanes_per_pe = 4;
  return cfg;
}
proto::TileJobExt k_run_job(const Op& op) {
  proto::TileJobExt job =
      job_for(op, Opcode::MATMUL, 0, op.tile_count(), -1, LoopOrder::parse("b_i_j_k"));
  job.b_buffer = proto::Buffer::weight;
  job.output_sparsity = 0.5;
  return job;
}
}  // namespace

TEST_CASE("compute: a run over k is cut across idle lanes and its partial sums reduced",
          "[compute][pe][reduction]") {
  // (1,16,128) x (128,16): grid i = j = 1, k = 8: one run of 8 k-tiles. A tile: 4096 MACs at
  // (1 - 0.5)(1 - 0.5) effectual on 16 MACs + 5 = 69 cycles; an addition 5 + 256 / 16 = 21.
  // Whole run: 552 cycles on one lane. Pieces of 2 on the 4 lanes: 138 cycles, then a 2-level
  // tree (42): 180, the mapper's pick (pieces of 4 on 2 lanes: 297; of 1: 138 + 3 x 21 = 201).
  const AcceleratorConfig cfg = four_lane_edge();
  PeArray pe("pe_reduce_idle", cfg, tech(), SimOptions{});
  const Op op = make_op(OpKind::matmul, 1, 16, 128, 16, cfg.tile);
  REQUIRE(op.tile_count() == 8);
  proto::TileJobExt job = k_run_job(op);
  const LaneJobResult r = pe.dispatch(job, 0);
  // Pieces 0..3 end at 138; piece 1 adds piece 0 (159); root 3 adds 2, then 1: 138 + 2 x 21.
  CHECK(r.completion_cycle == 180);
  CHECK(pe.lane_free_cycle(0, 0) == 138);
  CHECK(pe.lane_free_cycle(0, 1) == 159);
  CHECK(pe.lane_free_cycle(0, 2) == 138);
  CHECK(pe.lane_free_cycle(0, 3) == 180);
  const PeArrayStats s = pe.stats();
  CHECK(s.reduction_additions == 3);
  CHECK(s.lanes.busy_cycles == 8 * 69 + 3 * 21);
  CHECK(r.busy_unit_cycles == 8 * 69 + 3 * 21);
  // 3 partial sums written and read back (dense: 256 words x 20 bits = 640 bytes); one final
  // output at 50 % sparsity (320 bytes + 32 mask bytes); the tiles stay in their lanes.
  CHECK(s.psum_write_bytes == 3 * 640);
  CHECK(s.psum_read_bytes == 3 * 640);
  CHECK(s.output_write_bytes == 320 + 32);
  CHECK(s.psum_in_lane_tiles == 4);
  // The additions cost lane energy (63 cycles at the lane's power), not FIFO energy.
  const double lane_nj_per_cycle =
      tech().nj_per_cycle(tech().lane(16, cfg.non_linearity).dynamic_mw);
  CHECK(s.lanes.dynamic_nj == Approx(615 * lane_nj_per_cycle));
  CHECK(s.fifo.busy_cycles == 8 * 69);
}

TEST_CASE("compute: a run over k stays whole on the one free lane when the others are busy",
          "[compute][pe][reduction]") {
  // First op: (1,48,128) x (128,16): 3 runs of 8 k-tiles. Cutting them in 2 on 4 lanes would
  // take 2 rounds (552 + 21), so they stay whole on lanes 0..2 until 552.
  const AcceleratorConfig cfg = four_lane_edge();
  PeArray pe("pe_reduce_busy", cfg, tech(), SimOptions{});
  const Op first = make_op(OpKind::matmul, 1, 48, 128, 16, cfg.tile, false, 0);
  proto::TileJobExt first_job = k_run_job(first);
  CHECK(pe.dispatch(first_job, 0).completion_cycle == 552);
  CHECK(pe.lane_free_cycle(0, 3) == 0);
  // Second op, one run of 8 k-tiles at cycle 0: lane 3 is free now, the others at 552. Whole
  // on lane 3: 552; pieces of 2 on all lanes: 552 + 180. No cut, no reduction.
  const Op second = make_op(OpKind::matmul, 1, 16, 128, 16, cfg.tile, false, 1);
  proto::TileJobExt second_job = k_run_job(second);
  const LaneJobResult r = pe.dispatch(second_job, 0);
  CHECK(r.completion_cycle == 552);
  CHECK(pe.lane_free_cycle(0, 3) == 552);
  const PeArrayStats s = pe.stats();
  CHECK(s.reduction_additions == 0);
  CHECK(s.psum_write_bytes == 0);
  CHECK(s.psum_read_bytes == 0);
}
