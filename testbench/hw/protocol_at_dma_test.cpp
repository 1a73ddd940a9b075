// The DMA's approximately-timed burst option (DmaOptions::burst_bytes) with a small AT memory
// target written in the testbench (at_memory_target.hpp): burst-sized nb_transport transactions
// with the DMA's memory manager, protocol checkers on the DMA's sockets. (1) BERT-Tiny's memory
// commands driven straight into the DMA against the four-phase target; (2) the whole BERT-Tiny
// run under the control block against the target in early-completion mode.
#include <catch2/catch.hpp>

#include <vector>

#include "acceltran/hw/control/transfer_kind.hpp"
#include "acceltran/tlm/protocol_checker.hpp"
#include "at_memory_target.hpp"
#include "protocol_system.hpp"

using namespace acceltran;
using memtest::Driver;
using proto::ProtocolChecker;

TEST_CASE(
    "protocol: BERT-Tiny's memory commands through the DMA's AT burst option to an AT "
    "memory target",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  DmaOptions dopts;
  dopts.burst_bytes = 256;
  testbench::DmaWithBuffers bench(dopts);
  const Program& prog = bench.prog;
  Dma& dma = bench.dma;
  // 25.6 GB/s = 25.6 bytes/ns, 40 ns latency.
  testbench::AtMemoryTarget mem("at_mem", uint64_t{1} << 32, sc_core::sc_time(40, sc_core::SC_NS),
                                25.6);
  ProtocolChecker to_dma("check_dma"), to_mem("check_mem");
  uint64_t commands = 0, memory_bytes = 0, failures = 0;
  sc_core::sc_time end;
  Driver drv("drv", [&](Driver& d) {
    uint64_t address = 0;  // each command at its own home, 64-byte aligned
    for (const Instruction& in : prog.instrs) {
      if (!is_memory(in.opcode)) continue;
      proto::TransferExt ext;
      ext.kind = transfer_kind(in.opcode);
      ext.tensor = in.tensor;
      ext.data_bytes = in.data_bytes;
      ext.mask_bytes = in.mask_bytes;
      const bool load = in.opcode == Opcode::LOAD_W || in.opcode == Opcode::LOAD_A;
      const sc_core::sc_time delay =
          d.transfer(!load, address, in.data_bytes + in.mask_bytes, &ext);
      if (!d.last_ok) ++failures;
      ++commands;
      if (in.opcode != Opcode::STORE_A) memory_bytes += in.data_bytes + in.mask_bytes;
      address += (in.data_bytes + in.mask_bytes + 63) / 64 * 64;
      sc_core::wait(delay);
    }
    end = sc_core::sc_time_stamp();
  });
  drv.socket.bind(to_dma.target_socket);
  to_dma.initiator_socket.bind(dma.socket);
  dma.memory_socket.bind(to_mem.target_socket);
  to_mem.initiator_socket.bind(mem.socket);
  sc_core::sc_start();
  INFO(to_dma.messages().size() << " / " << to_mem.messages().size() << " messages");
  CHECK(commands >= 50);  // 94 memory instructions today
  CHECK(failures == 0);
  CHECK(to_dma.violations() == 0);
  CHECK(to_mem.violations() == 0);
  CHECK(mem.bytes == memory_bytes);
  CHECK(mem.requests == to_mem.transactions());
  CHECK(mem.requests >= memory_bytes / 256);  // burst-sized transactions
  CHECK(dma.stats().bytes_from_memory + dma.stats().bytes_to_memory == memory_bytes);
  // The memory's bus is the bottleneck: the run lasts at least the bytes at 25.6 bytes/ns.
  CHECK(end.to_seconds() * 1e9 >= static_cast<double>(memory_bytes) / 25.6);
}

namespace {
// BERT-Tiny/Edge through the DMA's 64-byte AT bursts into the testbench AT memory (40 ns, one
// 25.6 GB/s bus), checkers on the DMA, PE and memory sockets: the run finishes, the checkers see
// no violation, the memory moves exactly the DMA's bytes in burst-sized transactions, and the
// memory-bound run lasts at least its bytes at the bus rate. Returns the cycles.
uint64_t run_tiny_through_at_memory(bool early_completion) {
  DmaOptions dopts;
  dopts.burst_bytes = 64;  // one DRAM burst per transaction
  testbench::TinySystem s(dopts);
  testbench::AtMemoryTarget mem("at_mem", uint64_t{1} << 36, sc_core::sc_time(40, sc_core::SC_NS),
                                25.6, early_completion);
  proto::ProtocolCheckers checks(true, ProtocolChecker::Policy::count);
  checks.connect(s.ctrl.dma_socket, s.dma.socket, "check_dma");
  checks.connect(s.ctrl.pe_socket, s.pe.target, "check_pe");
  checks.connect(s.dma.memory_socket, mem.socket, "check_mem");
  sc_core::sc_start();
  const ControlStats& st = s.ctrl.stats();
  INFO(checks.summary() << ", cycles " << st.end_cycle << ", memory bytes " << mem.bytes << " in "
                        << mem.requests << " bursts; " << st.deadlock);
  CHECK(st.finished);
  CHECK(checks.violations() == 0);
  const uint64_t dma_bytes = s.dma.stats().bytes_from_memory + s.dma.stats().bytes_to_memory;
  CHECK(mem.bytes == dma_bytes);
  CHECK(mem.requests >= dma_bytes / 64);
  CHECK(static_cast<double>(st.end_cycle) / 700e6 >= static_cast<double>(dma_bytes) / 25.6e9);
  return st.end_cycle;
}
}  // namespace

TEST_CASE(
    "protocol: BERT-Tiny on Edge runs to completion with the DMA's AT burst option and an "
    "AT memory target",
    "[protocol][memory]") {
  // Early completion: each burst's response time in the annotated delay of TLM_COMPLETED.
  MEMTEST_ISOLATE();
  CHECK(run_tiny_through_at_memory(true) > 0);
}

TEST_CASE(
    "protocol: BERT-Tiny on Edge runs to completion with an AT memory that answers on the "
    "backward path",
    "[protocol][memory]") {
  // A four-phase memory model (BEGIN_RESP later, on the backward path): the DMA's command waits
  // for its last burst, and the control block catches up with the time that passed.
  MEMTEST_ISOLATE();
  CHECK(run_tiny_through_at_memory(false) > 0);
}
