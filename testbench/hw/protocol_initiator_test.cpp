// Initiator side: the control block turns an error response into a simulation error naming the
// block, the socket, the response and the transaction; the DMA passes a refused sub-transfer's
// response on (BERT-Tiny on Edge, with one target replaced by one that refuses everything).
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "../compiler/test_util.hpp"
#include "control_block.hpp"
#include "dma.hpp"
#include "layer_norm_engine.hpp"
#include "main_memory.hpp"
#include "memory_test_util.hpp"
#include "pe_array.hpp"
#include "softmax_engine.hpp"
#include "sram_buffer.hpp"

using namespace acceltran;
using Catch::Matchers::Contains;

namespace {

// A target that answers every transaction with `status`.
struct Refuser : sc_core::sc_module {
  tlm_utils::simple_target_socket<Refuser> socket;
  tlm::tlm_response_status status;
  Refuser(sc_core::sc_module_name n, tlm::tlm_response_status s)
      : sc_module(n), socket("socket"), status(s) {
    socket.register_b_transport(this, &Refuser::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time&) {
    gp.set_response_status(status);
  }
};

// An initiator that sends nothing (binds the target socket of a block taken out of the run).
struct Idle : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Idle> socket;
  explicit Idle(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}
};

// BERT-Tiny on Edge: the real blocks, except main memory (behind the DMA) or the PE array
// replaced by a Refuser. Returns the message of the error that ends the run ("" if it
// finishes).
std::string run_with_refuser(bool refuse_dma) {
  const Program prog = testutil::compile("bert-tiny");
  const Technology tech = memtest::tech();
  const MemoryTimingTable timing = memtest::timing();
  const AcceleratorConfig cfg = memtest::accel("edge");
  const SimOptions opts;
  auto act = SramBuffer::from_config("act", proto::Buffer::activation, cfg, tech, opts);
  auto wgt = SramBuffer::from_config("wgt", proto::Buffer::weight, cfg, tech, opts);
  auto msk = SramBuffer::from_config("msk", proto::Buffer::mask, cfg, tech, opts);
  MainMemory mem("mem", cfg.main_memory, tech, timing, opts);
  Dma dma("dma", cfg, tech, timing, opts);
  PeArray pe("pe", cfg, tech, opts);
  SoftmaxEngine sm("sm", cfg, tech, opts);
  LayerNormEngine ln("ln", cfg, tech, opts);
  Refuser refuser("refuser",
                  refuse_dma ? tlm::TLM_ADDRESS_ERROR_RESPONSE : tlm::TLM_COMMAND_ERROR_RESPONSE);
  Idle idle("idle");
  ControlBlock ctrl("control_block", prog, cfg, tech, ControlOptions{}, *act, *wgt, *msk);
  dma.activation_socket.bind(act->socket);
  dma.weight_socket.bind(wgt->socket);
  dma.mask_socket.bind(msk->socket);
  ctrl.dma_socket.bind(dma.socket);
  if (refuse_dma) {
    dma.memory_socket.bind(refuser.socket);
    idle.socket.bind(mem.socket);
    ctrl.pe_socket.bind(pe.target);
  } else {
    dma.memory_socket.bind(mem.socket);
    idle.socket.bind(pe.target);
    ctrl.pe_socket.bind(refuser.socket);
  }
  ctrl.softmax_socket.bind(sm.target);
  ctrl.layer_norm_socket.bind(ln.target);
  try {
    sc_core::sc_start();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE(
    "protocol: the control block stops the run on a DMA error response (main memory "
    "refuses), naming it",
    "[protocol]") {
  MEMTEST_ISOLATE();
  CHECK_THAT(run_with_refuser(true), Contains("control_block: control_block.dma_socket answered "
                                              "TLM_ADDRESS_ERROR_RESPONSE to LOAD_W of tensor '") &&
                                         Contains("(read of ") && Contains(" bytes at 0x"));
}

TEST_CASE("protocol: the control block stops the run on an engine error response, naming it",
          "[protocol]") {
  MEMTEST_ISOLATE();
  CHECK_THAT(run_with_refuser(false), Contains("control_block: control_block.pe_socket answered "
                                               "TLM_COMMAND_ERROR_RESPONSE to the ") &&
                                          Contains(" tile job of op '") &&
                                          Contains("(instruction "));
}
