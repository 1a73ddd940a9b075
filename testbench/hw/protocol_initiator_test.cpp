// Initiator side: the control block turns an error response into a simulation error naming the
// block, the socket, the response and the transaction; the DMA passes a refused sub-transfer's
// response on (BERT-Tiny on Edge, with one target replaced by one that refuses everything).
#include <catch2/catch.hpp>

#include <string>

#include "protocol_system.hpp"

using namespace acceltran;
using Catch::Matchers::Contains;

namespace {

// BERT-Tiny on Edge: the real blocks, except main memory (behind the DMA) or the PE array
// replaced by a Refuser. Returns the message of the error that ends the run ("" if it
// finishes).
std::string run_with_refuser(bool refuse_dma) {
  testbench::TinySystem s;
  MainMemory mem("mem", s.cfg.main_memory, s.tech, s.timing, s.opts);
  testbench::Refuser refuser(
      "refuser", refuse_dma ? tlm::TLM_ADDRESS_ERROR_RESPONSE : tlm::TLM_COMMAND_ERROR_RESPONSE);
  testbench::Idle idle("idle");
  s.ctrl.dma_socket.bind(s.dma.socket);
  if (refuse_dma) {
    s.dma.memory_socket.bind(refuser.socket);
    idle.socket.bind(mem.socket);
    s.ctrl.pe_socket.bind(s.pe.target);
  } else {
    s.dma.memory_socket.bind(mem.socket);
    idle.socket.bind(s.pe.target);
    s.ctrl.pe_socket.bind(refuser.socket);
  }
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
