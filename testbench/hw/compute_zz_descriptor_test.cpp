// An initiator other than the control block drives the PE array: it fills the job descriptor
// (tlm/tile_job.hpp) by hand, with no compiler type, and checks the completion time against a
// hand-computed figure. Calls sc_start, so its cases are not tagged [compute] (that tag runs in
// one process; each CTest case is its own process).
#include <tlm_utils/simple_initiator_socket.h>
#include <catch2/catch.hpp>

#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/tlm/tile_job.hpp"
#include "compute_common.hpp"

using namespace acceltran;

namespace {

// A 32 x 64 x 16 matmul (tiles 16 x 16): grid b 1, i 2, j 1, k 4, one block, loop order
// b_i_j_k. Sparsities 0.5 / 0.5.
proto::TileJobExt hand_built_matmul() {
  proto::TileJobExt job;
  job.kind = proto::JobKind::matmul;
  job.op_id = 7;
  job.output_tensor = 3;
  job.dims = proto::ProblemDims{1, 32, 64, 16};
  job.grid = proto::TileGrid{1, 2, 1, 4};
  job.block = 0;
  job.block_box = proto::TileBox{0, 1, 0, 2, 0, 1, 0, 4};
  job.first_tile = 0;
  job.tile_count = 8;
  job.activation_sparsity = 0.5;
  job.weight_sparsity = 0.5;
  job.a_buffer = proto::Buffer::activation;
  job.b_buffer = proto::Buffer::weight;
  return job;
}

struct HandInitiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<HandInitiator> socket;
  proto::TileJobExt job = hand_built_matmul();
  uint64_t request_cycle = 10, done_cycle = 0;
  tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
  SC_HAS_PROCESS(HandInitiator);
  explicit HandInitiator(sc_core::sc_module_name name) : sc_module(name), socket("socket") {
    SC_THREAD(run);
  }
  void run() {
    tlm::tlm_generic_payload gp;
    proto::set_tile_job(gp);
    gp.set_extension(&job);
    sc_core::sc_time delay = proto::cycles_to_time(request_cycle, 700);
    socket->b_transport(gp, delay);
    gp.clear_extension(&job);
    status = gp.get_response_status();
    wait(delay);
    done_cycle = proto::time_to_cycles(sc_core::sc_time_stamp(), 700);
  }
};

}  // namespace

TEST_CASE("compute: a hand-built job descriptor drives the PE array over TLM",
          "[descriptor][tlm]") {
  // One PE of 2 lanes of 16 MACs (Edge's tile 16 x 16 and technology figures).
  AcceleratorConfig cfg = compute_test::accel("edge");
  REQUIRE(cfg.tile.x == 16);
  REQUIRE(cfg.mac_per_lane == 16);
  cfg.pe = 1;
  cfg.lanes_per_pe = 2;
  const SimOptions opts;  // hardware profile
  PeArray pe("hand_pe", cfg, compute_test::tech(), opts);
  HandInitiator initiator("hand_initiator");
  initiator.socket.bind(pe.target);
  sc_core::sc_start();
  REQUIRE(initiator.status == tlm::TLM_OK_RESPONSE);
  // A tile: 16 x 16 x 16 = 4096 MACs, effectual 4096 x 0.5 x 0.5 = 1024, 1024 / 16 = 64 cycles
  // (the mask walk is 256 / 16 = 16), plus the 5-stage pipeline: 69 cycles. The block has two
  // runs over k (i = 0, 1) of 4 tiles; with two lanes each run keeps one lane (cutting runs
  // would not shorten the lanes' time), so the job ends 4 x 69 cycles after its request.
  CHECK(initiator.done_cycle == 10 + 4 * 69);
  CHECK(pe.lane_free_cycle(0, 0) == 10 + 4 * 69);
  CHECK(pe.lane_free_cycle(0, 1) == 10 + 4 * 69);
  const PeArrayStats stats = pe.stats();
  CHECK(stats.tiles == 8);
  CHECK(stats.effectual_macs == 8 * 1024);
  // Partial sums stay in the lanes along k: 3 of each run's 4 tiles; each run writes one final
  // output tile.
  CHECK(stats.psum_in_lane_tiles == 6);
  CHECK(stats.psum_write_bytes == 0);
  CHECK(initiator.job.busy_unit_cycles == 8 * 69);
}

TEST_CASE("compute: a descriptor without a tile grid is a generic error", "[descriptor][tlm]") {
  AcceleratorConfig cfg = compute_test::accel("edge");
  const SimOptions opts;
  PeArray pe("empty_pe", cfg, compute_test::tech(), opts);
  HandInitiator initiator("empty_initiator");
  initiator.job = proto::TileJobExt{};  // nothing described
  initiator.socket.bind(pe.target);
  sc_core::sc_start();
  CHECK(initiator.status == tlm::TLM_GENERIC_ERROR_RESPONSE);
}
