// TLM scenario of the compute engines (the only [compute] test that calls sc_start; kept in a
// file that sorts last so that running all of "[compute]" in one process still works).
#include <tlm_utils/simple_initiator_socket.h>
#include <catch2/catch.hpp>

#include <vector>

#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "compute_common.hpp"

using namespace acceltran;
using compute_test::accel;
using compute_test::job_for;
using compute_test::make_op;
using compute_test::tech;

namespace {
struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> to_pe, to_sm, to_ln;
  const Op* mm = nullptr;
  const Op* sop = nullptr;
  std::vector<uint64_t> times;
  SC_HAS_PROCESS(Initiator);
  explicit Initiator(sc_core::sc_module_name n)
      : sc_module(n), to_pe("to_pe"), to_sm("to_sm"), to_ln("to_ln") {
    SC_THREAD(run);
  }
  void send(tlm_utils::simple_initiator_socket<Initiator>& s, proto::TileJobExt& j,
            sc_core::sc_time delay) {
    tlm::tlm_generic_payload gp;
    proto::set_tile_job(gp);
    gp.set_extension(&j);
    s->b_transport(gp, delay);
    gp.clear_extension(&j);
    REQUIRE(gp.get_response_status() == tlm::TLM_OK_RESPONSE);
    wait(delay);
    times.push_back(proto::time_to_cycles(sc_core::sc_time_stamp(), 700));
  }
  void run() {
    const LoopOrder order;
    // The first 32 tiles in b_i_j_k order: 4 runs over k of 8 tiles. The piece mapper cuts each
    // run in two pieces of 4 tiles on 8 lanes: 4 tiles x 69 cycles, then the root lane adds the
    // other piece's partial sum (one EWISE tile, 21 cycles).
    auto j = job_for(*mm, Opcode::MATMUL, 0, 32, 0, order);
    send(to_pe, j, sc_core::SC_ZERO_TIME);
    auto s = job_for(*sop, Opcode::SOFTMAX, 0, 4, 0, order);  // 4 modules of PE 0: one round
    send(to_sm, s, proto::cycles_to_time(10, 700));           // requested 10 cycles later
    s.kind = proto::JobKind::layer_norm;
    send(to_ln, s, sc_core::SC_ZERO_TIME);  // one module: 4 rounds
  }
};
}  // namespace

TEST_CASE("compute: TLM b_transport returns completion delays", "[compute][pe][tlm]") {
  const auto cfg = accel("edge");
  const SimOptions o;
  const Op mm = make_op(OpKind::matmul, 4, 128, 128, 64, cfg.tile);
  const Op sop = make_op(OpKind::softmax, 4, 128, 1, 128, cfg.tile);
  PeArray pe("tlm_pe", cfg, tech(), o);
  SoftmaxEngine sm("tlm_sm", cfg, tech(), o);
  LayerNormEngine ln("tlm_ln", cfg, tech(), o);
  Initiator ini("ini");
  ini.mm = &mm;
  ini.sop = &sop;
  ini.to_pe.bind(pe.target);
  ini.to_sm.bind(sm.target);
  ini.to_ln.bind(ln.target);
  sc_core::sc_start();
  REQUIRE(ini.times.size() == 3);
  CHECK(ini.times[0] == 4 * 69 + 21);
  CHECK(ini.times[1] == 4 * 69 + 21 + 10 + 27);
  CHECK(ini.times[2] == 4 * 69 + 21 + 10 + 27 + 4 * 27);
  CHECK(pe.stats().reduction_additions == 4);
  CHECK(pe.stats().tiles == 32);
  CHECK(sm.stats().tiles == 4);
}
