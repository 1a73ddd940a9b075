// The DMA's approximately-timed burst option (DmaOptions::burst_bytes): every memory command of
// BERT-Tiny's instruction stream on Edge goes through the DMA to a small AT memory target
// written in the testbench (at_memory_target.hpp), as burst-sized nb_transport transactions
// with the DMA's memory manager, with a protocol checker on both DMA sockets.
#include <catch2/catch.hpp>

#include <vector>

#include "../compiler/test_util.hpp"
#include "at_memory_target.hpp"
#include "dma.hpp"
#include "memory_test_util.hpp"
#include "protocol_checker.hpp"
#include "sram_buffer.hpp"

using namespace acceltran;
using memtest::Driver;
using proto::ProtocolChecker;

TEST_CASE(
    "protocol: BERT-Tiny's memory commands through the DMA's AT burst option to an AT "
    "memory target",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  const Program prog = testutil::compile("bert-tiny");
  const Technology tech = memtest::tech();
  const MemoryTimingTable timing = memtest::timing();
  const AcceleratorConfig cfg = memtest::accel("edge");
  const SimOptions opts;
  DmaOptions dopts;
  dopts.burst_bytes = 256;
  Dma dma("dma", cfg, tech, timing, opts, dopts);
  auto act = SramBuffer::from_config("act", proto::Buffer::activation, cfg, tech, opts);
  auto wgt = SramBuffer::from_config("wgt", proto::Buffer::weight, cfg, tech, opts);
  auto msk = SramBuffer::from_config("msk", proto::Buffer::mask, cfg, tech, opts);
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
      ext.opcode = in.opcode;
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
  dma.activation_socket.bind(act->socket);
  dma.weight_socket.bind(wgt->socket);
  dma.mask_socket.bind(msk->socket);
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
