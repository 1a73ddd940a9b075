// The DMA's AT burst option against a memory target written the standard way
// (standard_at_target.hpp: holds each transaction across its phases, never acquires it, moves
// the data when it responds), in every base-protocol style: four-phase, two-phase, END_REQ
// implied by BEGIN_RESP, TLM_UPDATED with BEGIN_RESP, early completion. Protocol checkers on the
// sockets find no violation, no payload is released or reused before its transaction completes,
// and the bytes are right: (1) BERT-Tiny's memory commands with their contents driven straight
// into the DMA; (2) the whole BERT-Tiny run under the control block; (3) a functional BERT-Tiny
// run whose weights come from, and whose outputs go to, the standard target.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "acceltran/compiler/parts.hpp"
#include "acceltran/hw/compute/datapath.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "acceltran/hw/control/transfer_kind.hpp"
#include "acceltran/tlm/protocol_checker.hpp"
#include "functional_util.hpp"
#include "protocol_system.hpp"
#include "standard_at_target.hpp"

using namespace acceltran;
using memtest::Driver;
using proto::ProtocolChecker;
using testbench::AtStyle;
using testbench::StandardAtTarget;

namespace {

constexpr uint64_t kMemoryCapacityBytes = uint64_t{1} << 36;
const sc_core::sc_time kLatency(40, sc_core::SC_NS);
constexpr double kBytesPerNs = 25.6;  // 25.6 GB/s

DmaOptions burst_options() {  // one 64-byte DRAM burst per transaction
  DmaOptions o;
  o.burst_bytes = 64;
  return o;
}

unsigned char pattern_at(uint64_t address) {
  return static_cast<unsigned char>(address * 131 + (address >> 8) * 7 + 1);
}

// One DMA command carrying its part's bytes (TransferExt::contents): `data` is its data array.
bool send_with_contents(Driver& driver, const Instruction& in, uint64_t address,
                        std::vector<unsigned char>& data, sc_core::sc_time* delay) {
  proto::TransferExt ext;
  ext.kind = transfer_kind(in.opcode);
  ext.tensor = in.tensor;
  ext.data_bytes = in.data_bytes;
  ext.mask_bytes = in.mask_bytes;
  ext.contents = true;
  tlm::tlm_generic_payload gp;
  proto::set_transfer(gp, !proto::is_load(ext.kind), address, static_cast<unsigned>(data.size()));
  gp.set_data_ptr(data.data());
  gp.set_extension(&ext);
  *delay = sc_core::SC_ZERO_TIME;
  driver.socket->b_transport(gp, *delay);
  gp.clear_extension(&ext);
  return gp.is_response_ok();
}

// What the command-level run found.
struct CommandRun {
  uint64_t commands = 0, failures = 0, wrong_loads = 0, wrong_stores = 0, memory_bytes = 0;
};

// BERT-Tiny's memory commands (STORE_A aside: no memory side) through the DMA's 64-byte AT
// bursts into `memory`: each load must bring the memory's bytes into the command's array and the
// buffer, each spill or store must leave the buffers' bytes in memory.
void run_commands_with_contents(AtStyle style) {
  testbench::DmaWithBuffers bench(burst_options());
  SparseDataStore act_store, wgt_store, msk_store;
  bench.act->attach_store(&act_store);
  bench.wgt->attach_store(&wgt_store);
  bench.msk->attach_store(&msk_store);
  StandardAtTarget memory("memory", style, kMemoryCapacityBytes, kLatency, kBytesPerNs);
  CommandRun run;
  Driver driver("driver", [&](Driver& d) {
    uint64_t address = 0;  // each command at its own home, 64-byte aligned
    for (const Instruction& in : bench.prog.instrs) {
      if (!is_memory(in.opcode) || in.opcode == Opcode::STORE_A) continue;
      const uint64_t bytes = in.data_bytes + in.mask_bytes;
      const bool load = in.opcode == Opcode::LOAD_W || in.opcode == Opcode::LOAD_A;
      std::vector<unsigned char> data(bytes), expect(bytes);
      for (uint64_t i = 0; i < bytes; ++i) expect[i] = pattern_at(address + i + run.commands);
      if (load) {
        memory.contents.write(address, expect.data(), bytes);
      } else {  // the DMA reads the part from the buffers (data at 0, its mask at 0)
        act_store.write(0, expect.data(), in.data_bytes);
        msk_store.write(0, expect.data() + in.data_bytes, in.mask_bytes);
      }
      sc_core::sc_time delay;
      if (!send_with_contents(d, in, address, data, &delay)) ++run.failures;
      std::vector<unsigned char> in_memory(bytes);
      memory.contents.read(address, in_memory.data(), bytes);
      if (load && data != expect) ++run.wrong_loads;
      if (!load && in_memory != expect) ++run.wrong_stores;
      ++run.commands;
      run.memory_bytes += bytes;
      address += (bytes + 63) / 64 * 64;
      sc_core::wait(delay);
    }
  });
  ProtocolChecker to_dma("check_dma"), to_memory("check_memory");
  driver.socket.bind(to_dma.target_socket);
  to_dma.initiator_socket.bind(bench.dma.socket);
  bench.dma.memory_socket.bind(to_memory.target_socket);
  to_memory.initiator_socket.bind(memory.socket);
  sc_core::sc_start();
  INFO(to_string(style) << ": " << run.commands << " commands, at most " << memory.most_held
                        << " held at once; first message: "
                        << (to_memory.messages().empty() ? "" : to_memory.messages()[0]));
  CHECK(run.commands >= 50);
  CHECK(run.failures == 0);
  CHECK(run.wrong_loads == 0);
  CHECK(run.wrong_stores == 0);
  CHECK(to_dma.violations() == 0);
  CHECK(to_memory.violations() == 0);
  CHECK(memory.released_too_early == 0);
  CHECK(memory.bytes == run.memory_bytes);
  CHECK(memory.requests >= run.memory_bytes / 64);
  // With END_REQ before BEGIN_RESP, bursts overlap in the target: the pool gave distinct payloads
  // and each stayed the DMA's until its response (an END_REQ implied by BEGIN_RESP serializes).
  if (style == AtStyle::four_phase || style == AtStyle::two_phase) CHECK(memory.most_held >= 2);
  if (style == AtStyle::implied_end_request) CHECK(memory.most_held == 1);
}

// The whole BERT-Tiny/Edge run under the control block, the DMA's 64-byte AT bursts into the
// standard target, checkers on the DMA, PE and memory sockets.
void run_tiny(AtStyle style) {
  testbench::TinySystem s(burst_options());
  StandardAtTarget memory("memory", style, kMemoryCapacityBytes, kLatency, kBytesPerNs);
  proto::ProtocolCheckers checks(true, ProtocolChecker::Policy::count);
  checks.connect(s.ctrl.dma_socket, s.dma.socket, "check_dma");
  checks.connect(s.ctrl.pe_socket, s.pe.target, "check_pe");
  checks.connect(s.dma.memory_socket, memory.socket, "check_memory");
  sc_core::sc_start();
  const ControlStats& st = s.ctrl.stats();
  INFO(to_string(style) << ": " << checks.summary() << ", cycles " << st.end_cycle << "; "
                        << st.deadlock);
  CHECK(st.finished);
  CHECK(checks.violations() == 0);
  CHECK(memory.released_too_early == 0);
  const uint64_t dma_bytes = s.dma.stats().bytes_from_memory + s.dma.stats().bytes_to_memory;
  CHECK(memory.bytes == dma_bytes);
  CHECK(memory.requests >= dma_bytes / 64);
  CHECK(static_cast<double>(st.end_cycle) / 700e6 >= static_cast<double>(dma_bytes) / 25.6e9);
}

}  // namespace

TEST_CASE("protocol: DMA AT bursts, four-phase standard target: 0 violations, right bytes",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_commands_with_contents(AtStyle::four_phase);
}

TEST_CASE("protocol: DMA AT bursts, two-phase standard target: 0 violations, right bytes",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_commands_with_contents(AtStyle::two_phase);
}

TEST_CASE("protocol: DMA AT bursts, standard target implying END_REQ: 0 violations, right bytes",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_commands_with_contents(AtStyle::implied_end_request);
}

TEST_CASE(
    "protocol: DMA AT bursts, standard target answering TLM_UPDATED with BEGIN_RESP: 0 "
    "violations, right bytes",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_commands_with_contents(AtStyle::updated_response);
}

TEST_CASE(
    "protocol: DMA AT bursts, standard target with early completion: 0 violations, right bytes",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_commands_with_contents(AtStyle::early_completion);
}

TEST_CASE("protocol: BERT-Tiny on Edge with AT bursts into a four-phase standard target",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_tiny(AtStyle::four_phase);
}

TEST_CASE("protocol: BERT-Tiny on Edge with AT bursts into a two-phase standard target",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_tiny(AtStyle::two_phase);
}

TEST_CASE("protocol: BERT-Tiny on Edge with AT bursts into a standard target implying END_REQ",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_tiny(AtStyle::implied_end_request);
}

TEST_CASE(
    "protocol: BERT-Tiny on Edge with AT bursts into a standard target answering TLM_UPDATED "
    "with BEGIN_RESP",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_tiny(AtStyle::updated_response);
}

TEST_CASE("protocol: BERT-Tiny on Edge with AT bursts into a standard target with early completion",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  run_tiny(AtStyle::early_completion);
}

namespace {

// A functional BERT-Tiny/Edge system (as Accelerator::attach_functional assembles one) whose
// main memory is the standard target, reached through the DMA's 64-byte AT bursts.
struct FunctionalTinySystem {
  const testbench::TinyFunctional input{3, 0.02};
  testbench::TinySystem s;
  Datapath datapath{input.prog, input.in};
  DynaTranUnit dynatran{"dynatran", input.in.prune};
  StandardAtTarget memory;
  proto::ProtocolCheckers checks{true, ProtocolChecker::Policy::count};

  static ControlOptions dense_homes() {
    ControlOptions o;
    o.dense_homes = true;  // as Accelerator sets it for functional runs
    return o;
  }

  explicit FunctionalTinySystem(AtStyle style)
      : s(burst_options(), dense_homes(), input.prog),
        memory("memory", style, kMemoryCapacityBytes, kLatency, kBytesPerNs) {
    checks.connect(s.ctrl.dma_socket, s.dma.socket, "check_dma");
    checks.connect(s.ctrl.pe_socket, s.pe.target, "check_pe");
    checks.connect(s.dma.memory_socket, memory.socket, "check_memory");
    checks.connect(s.pe.dynatran_port, dynatran.target, "check_pe_dynatran");
    checks.connect(s.sm.dynatran_port, dynatran.target, "check_softmax_dynatran");
    s.pe.set_datapath(&datapath);
    s.sm.set_datapath(&datapath);
    s.ln.set_datapath(&datapath);
    s.ctrl.set_contents(&datapath);
    std::vector<unsigned char> image;  // weights and embeddings at their homes
    for (const Tensor& t : input.prog.tensors) {
      if (t.cls == TensorClass::activation) continue;
      for (uint32_t part = 0; part < part_grid(t).parts(); ++part) {
        uint64_t data_bytes = 0, mask_bytes = 0;
        datapath.pack_part(t.id, part, image, data_bytes, mask_bytes);
        memory.contents.write(s.ctrl.part_address(t.id, part), image.data(), image.size());
      }
    }
  }

  // Parts of the model's output whose bytes in the standard target are not the data path's.
  uint64_t wrong_output_parts(uint64_t* parts_checked) {
    uint64_t wrong = 0;
    for (const Tensor& t : input.prog.tensors) {
      if (t.name != "L1.ffn.ln") continue;
      for (uint32_t part = 0; part < part_grid(t).parts(); ++part) {
        std::vector<unsigned char> expect, got;
        uint64_t data_bytes = 0, mask_bytes = 0;
        datapath.pack_part(t.id, part, expect, data_bytes, mask_bytes);
        got.resize(expect.size());
        memory.contents.read(s.ctrl.part_address(t.id, part), got.data(), got.size());
        wrong += got != expect;
        ++*parts_checked;
      }
    }
    return wrong;
  }
};

// The run finishes (the control block checks every LOAD_W's bytes against the weights' images
// and stops the run on a difference), the model's output in the target is the data path's, and
// the checkers on all sockets see no violation.
void run_functional_tiny(AtStyle style) {
  FunctionalTinySystem f(style);
  sc_core::sc_start();
  INFO(to_string(style) << ": " << f.checks.summary() << "; " << f.s.ctrl.stats().deadlock);
  CHECK(f.s.ctrl.stats().finished);
  CHECK(f.checks.violations() == 0);
  CHECK(f.memory.released_too_early == 0);
  uint64_t parts_checked = 0;
  CHECK(f.wrong_output_parts(&parts_checked) == 0);
  CHECK(parts_checked >= 2);
  CHECK(f.s.dma.stats().bytes_to_memory > 0);
}

}  // namespace

TEST_CASE(
    "protocol: functional BERT-Tiny with AT bursts into a four-phase standard target: right "
    "weights in, right outputs out",
    "[protocol][memory][functional]") {
  MEMTEST_ISOLATE();
  run_functional_tiny(AtStyle::four_phase);
}

TEST_CASE(
    "protocol: functional BERT-Tiny with AT bursts into a standard target with early "
    "completion: right weights in, right outputs out",
    "[protocol][memory][functional]") {
  MEMTEST_ISOLATE();
  run_functional_tiny(AtStyle::early_completion);
}
