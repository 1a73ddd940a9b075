// The blocks of an AccelTran top level for the [protocol] testbenches, assembled by hand so
// that a test can put its own target (an AT memory, a refusing target) or a protocol checker on
// any socket: BERT-Tiny compiled for Edge, the real blocks, and the bindings every variant
// shares (DMA -> buffers, control block -> softmax and layer-norm engines). The test binds
// control block -> DMA / PE array and DMA -> memory itself.
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>

#include <memory>
#include <utility>

#include "../compiler/test_util.hpp"
#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "acceltran/hw/control/control_block.hpp"
#include "acceltran/hw/memory/dma.hpp"
#include "acceltran/hw/memory/main_memory.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "memory_test_util.hpp"

namespace acceltran::testbench {

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

// BERT-Tiny (or `program`) compiled for Edge, and the DMA with its three buffers bound (the test
// binds the DMA's command socket and memory socket).
struct DmaWithBuffers {
  const Program prog;
  const Technology tech = memtest::tech();
  const MemoryTimingTable timing = memtest::timing();
  const AcceleratorConfig cfg = memtest::accel("edge");
  const SimOptions opts;
  std::unique_ptr<SramBuffer> act =
      SramBuffer::from_config("act", proto::Buffer::activation, cfg, tech, opts);
  std::unique_ptr<SramBuffer> wgt =
      SramBuffer::from_config("wgt", proto::Buffer::weight, cfg, tech, opts);
  std::unique_ptr<SramBuffer> msk =
      SramBuffer::from_config("msk", proto::Buffer::mask, cfg, tech, opts);
  Dma dma;

  explicit DmaWithBuffers(const DmaOptions& dopts = {},
                          Program program = testutil::compile("bert-tiny"))
      : prog(std::move(program)), dma("dma", cfg, tech, timing, opts, dopts) {
    dma.activation_socket.bind(act->socket);
    dma.weight_socket.bind(wgt->socket);
    dma.mask_socket.bind(msk->socket);
  }
};

// Those and the compute engines and the control block (its softmax and layer-norm sockets bound).
struct TinySystem : DmaWithBuffers {
  PeArray pe{"pe", cfg, tech, opts};
  SoftmaxEngine sm{"sm", cfg, tech, opts};
  LayerNormEngine ln{"ln", cfg, tech, opts};
  ControlBlock ctrl;

  explicit TinySystem(const DmaOptions& dopts = {}, const ControlOptions& copts = {},
                      Program program = testutil::compile("bert-tiny"))
      : DmaWithBuffers(dopts, std::move(program)),
        ctrl("control_block", prog, cfg, tech, copts, *act, *wgt, *msk) {
    ctrl.softmax_socket.bind(sm.target);
    ctrl.layer_norm_socket.bind(ln.target);
  }
};

}  // namespace acceltran::testbench
