// A user's own SystemC top level on the installed AccelTranSC package: its own initiator moves
// 4 KiB from the Edge design's main memory into its weight buffer (two AccelTran blocks on the
// user's side of the sockets), through a protocol checker, and prints what it measured.
#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>

#include <cstdio>

#include <acceltran/config/accelerator_config.hpp>
#include <acceltran/hw/memory/main_memory.hpp>
#include <acceltran/hw/memory/memory_timing.hpp>
#include <acceltran/hw/memory/sram_buffer.hpp>
#include <acceltran/tlm/protocol.hpp>
#include <acceltran/tlm/protocol_checker.hpp>

using namespace acceltran;

struct Mover : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Mover> to_memory, to_buffer;
  bool ok = false;
  uint64_t done_cycle = 0;
  SC_HAS_PROCESS(Mover);
  explicit Mover(sc_core::sc_module_name n)
      : sc_module(n), to_memory("to_memory"), to_buffer("to_buffer") {
    SC_THREAD(run);
  }
  void run() {
    tlm::tlm_generic_payload gp;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    proto::set_transfer(gp, false, 0x10000, 4096);
    to_memory->b_transport(gp, delay);  // read from main memory
    const bool read_ok = gp.is_response_ok();
    proto::set_transfer(gp, true, 0, 4096);
    to_buffer->b_transport(gp, delay);  // write into the buffer, after the read
    ok = read_ok && gp.is_response_ok();
    done_cycle = proto::time_to_cycles(delay, 700);
  }
};

int sc_main(int, char*[]) {
  const std::string models = MODELS_DIR;
  const Technology tech = load_technology(models + "/technology.yaml");
  const DesignSpace space = load_design_space(models + "/design_space.yaml");
  const AcceleratorConfig cfg = load_accelerator(models + "/accelerators/edge.yaml", space, tech);
  const MemoryTimingTable timing = load_memory_timing(models + "/memory.yaml");
  const SimOptions opts;
  MainMemory mem("main_memory", cfg.main_memory, tech, timing, opts);
  auto wgt = SramBuffer::from_config("weight_buffer", proto::Buffer::weight, cfg, tech, opts);
  proto::ProtocolChecker checker("checker");
  Mover mover("mover");
  mover.to_memory.bind(checker.target_socket);
  checker.initiator_socket.bind(mem.socket);
  mover.to_buffer.bind(wgt->socket);
  sc_core::sc_start();
  std::printf(
      "moved 4096 bytes: %s, done at cycle %llu, memory read %llu bytes, buffer wrote %llu "
      "bytes, %llu protocol violations\n",
      mover.ok ? "ok" : "FAILED", static_cast<unsigned long long>(mover.done_cycle),
      static_cast<unsigned long long>(mem.stats().bytes_read),
      static_cast<unsigned long long>(wgt->stats().bytes_written),
      static_cast<unsigned long long>(checker.violations()));
  return mover.ok && checker.violations() == 0 && mem.stats().bytes_read == 4096 &&
                 wgt->stats().bytes_written == 4096 && mover.done_cycle > 0
             ? 0
             : 1;
}
