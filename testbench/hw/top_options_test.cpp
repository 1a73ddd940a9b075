// The configurable top (TopOptions): an external main memory bound to the exported socket,
// the DMA's AT bursts, the report built from the blocks of any top, the main-memory range the
// report states and the memory trace (hw/memory/memory_trace.hpp).
#include <tlm_utils/simple_initiator_socket.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/compiler/parts.hpp"
#include "acceltran/hw/accelerator_top.hpp"
#include "acceltran/hw/memory/memory_trace.hpp"
#include "acceltran/hw/report_builder.hpp"
#include "functional_util.hpp"
#include "standard_at_target.hpp"

using namespace acceltran;

namespace {
const Tensor& tensor_named(const Program& prog, const std::string& name) {
  for (const Tensor& t : prog.tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return prog.tensors.front();
}

// The weights' and embeddings' images into an external memory's store (before sc_start).
void load_initial_image(const Accelerator& top, SparseDataStore& store) {
  REQUIRE(!top.initial_image.empty());
  std::vector<unsigned char> bytes;
  for (const auto& [address, size] : top.initial_image) {
    bytes.resize(size);
    top.memory_contents->read(address, bytes.data(), size);
    store.write(address, bytes.data(), size);
  }
}

// After a functional BERT-Tiny run: the model's output parts are in the external memory.
void check_output_in(const Accelerator& top, const Program& prog, SparseDataStore& store) {
  const Tensor& out = tensor_named(prog, "L1.ffn.ln");
  for (uint32_t part = 0; part < part_grid(out).parts(); ++part) {
    std::vector<unsigned char> expect;
    uint64_t data = 0, mask = 0;
    top.datapath->pack_part(out.id, part, expect, data, mask);
    std::vector<unsigned char> got(expect.size());
    store.read(top.control_block->part_address(out.id, part), got.data(), got.size());
    CHECK(got == expect);
  }
}

RunOptions external_functional(const FunctionalInput& in, uint32_t burst_bytes) {
  RunOptions ro;
  ro.functional = &in;
  ro.sim.check_protocol = true;
  ro.top.main_memory = TopOptions::MainMemory::external;
  ro.top.dma_burst_bytes = burst_bytes;
  return ro;
}
}  // namespace

TEST_CASE("top: a functional run with an external memory bound to the exported socket", "[top]") {
  testutil::Setup s;
  const AcceleratorConfig cfg = s.accel("edge");
  const testbench::TinyFunctional tf(5, 0.02);
  const RunOptions ro = external_functional(tf.in, 0);
  Accelerator top("accelerator", tf.prog, cfg, s.tech, ro);
  REQUIRE(!top.main_memory);
  REQUIRE(top.memory_socket);
  // The user's memory: a MainMemory instance of the top level's own, holding contents.
  MainMemory memory("memory", cfg.main_memory, s.tech,
                    load_memory_timing(default_memory_timing_path()), ro.sim);
  SparseDataStore store;
  memory.attach_store(&store);
  top.memory_socket->bind(memory.socket);
  load_initial_image(top, store);
  sc_core::sc_start();
  REQUIRE(top.control_block->stats().finished);  // every LOAD_W checked against the weights
  CHECK(top.checkers.violations() == 0);
  check_output_in(top, tf.prog, store);
  // The report of the blocks: the memory figures are the external memory's own.
  const SimResult r = build_report(top.blocks(), tf.prog, cfg, s.tech, ro);
  CHECK(r.memory.at("bytes_read") == memory.stats().bytes_read);
  CHECK(r.memory.at("bytes_written") == memory.stats().bytes_written);
  CHECK(r.energy.back().first == "main_memory");
  CHECK(r.energy.back().second.dynamic_nj == Approx(memory.stats().dynamic_energy_nj));
  CHECK(r.memory.at("peak_bandwidth_gbps") == Approx(memory.peak_bytes_per_second() * 1e-9));
  CHECK(r.cycles == top.control_block->stats().end_cycle);
}

TEST_CASE("top: AT bursts through the exported socket to a standard four-phase memory", "[top]") {
  testutil::Setup s;
  const AcceleratorConfig cfg = s.accel("edge");
  const testbench::TinyFunctional tf(5, 0.02);
  const RunOptions ro = external_functional(tf.in, 64);
  Accelerator top("accelerator", tf.prog, cfg, s.tech, ro);
  // Holds each burst across its phases without acquiring it; 40 ns latency, 25.6 GB/s.
  testbench::StandardAtTarget memory("memory", testbench::AtStyle::four_phase, uint64_t{1} << 36,
                                     sc_core::sc_time(40, sc_core::SC_NS), 25.6);
  top.memory_socket->bind(memory.socket);
  load_initial_image(top, memory.contents);
  sc_core::sc_start();
  REQUIRE(top.control_block->stats().finished);
  CHECK(top.checkers.violations() == 0);
  CHECK(memory.released_too_early == 0);
  CHECK(memory.most_held > 1);  // bursts in flight at once
  CHECK(memory.requests == top.dma->stats().memory_accesses_64b);
  check_output_in(top, tf.prog, memory.contents);
}

TEST_CASE("top: the DMA's AT bursts on the internal memory give 0 protocol violations", "[top]") {
  testutil::Setup s;
  const AcceleratorConfig cfg = s.accel("edge");
  const Program prog = testutil::compile("bert-tiny", "hardware", "edge", 0, 32);
  RunOptions ro;
  ro.sim.check_protocol = true;
  ro.top.dma_burst_bytes = 64;
  Accelerator top("accelerator", prog, cfg, s.tech, ro);
  sc_core::sc_start();
  REQUIRE(top.control_block->stats().finished);
  CHECK(top.checkers.violations() == 0);
  const MainMemoryStats& memory = top.main_memory->stats();
  // One 64-byte transaction per burst: the bursts are the memory's 64-byte accesses.
  CHECK(memory.reads + memory.writes == memory.accesses_64b);
  CHECK(memory.reads + memory.writes > top.dma->stats().memory_transfers);
}

TEST_CASE("top: the memory trace accounts for every main-memory byte; the range holds it",
          "[top]") {
  testutil::Setup s;
  const AcceleratorConfig cfg = s.accel("edge");
  const Program prog = testutil::compile("bert-tiny", "hardware", "edge", 0, 32);
  MemoryTrace trace;
  RunOptions ro;
  ro.memory_trace = &trace;
  Accelerator top("accelerator", prog, cfg, s.tech, ro);
  sc_core::sc_start();
  REQUIRE(top.control_block->stats().finished);
  const SimResult r = build_report(top, prog, cfg, s.tech, ro);
  const MainMemoryStats& memory = top.main_memory->stats();
  CHECK(trace.bytes_read() == memory.bytes_read);
  CHECK(trace.bytes_written() == memory.bytes_written);
  CHECK(trace.records().size() == memory.reads + memory.writes);
  std::ostringstream stl;
  const uint64_t lines = trace.write_stl(stl, s.tech.clock_mhz);
  CHECK(lines == memory.accesses_64b);
  // Every line parses as DRAMSys STL, in request order, inside the stated range; the bursts
  // cover each transfer's bytes.
  const std::regex access(R"(^([0-9]+):\t(read|write)\t0x([0-9a-f]+)$)");
  const uint64_t range = static_cast<uint64_t>(r.memory.at("main_memory_range_bytes"));
  std::istringstream in(stl.str());
  std::string line;
  uint64_t parsed = 0, read_lines = 0, last_cycle = 0;
  bool in_order = true, in_range = true, aligned = true;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) continue;
    std::smatch m;
    if (!std::regex_match(line, m, access)) FAIL("not an STL access line: " << line);
    const uint64_t cycle = std::stoull(m[1]), address = std::stoull(m[3], nullptr, 16);
    in_order = in_order && cycle >= last_cycle;
    in_range = in_range && address + 64 <= (range + 63) / 64 * 64;
    aligned = aligned && address % 64 == 0;
    last_cycle = cycle;
    read_lines += m[2] == "read";
    ++parsed;
  }
  CHECK(parsed == lines);
  CHECK(in_order);
  CHECK(in_range);
  CHECK(aligned);
  CHECK(last_cycle < r.cycles);
  CHECK(read_lines * 64 >= memory.bytes_read);
  CHECK((lines - read_lines) * 64 >= memory.bytes_written);
  uint64_t end = 0;
  for (const MemoryTraceRecord& record : trace.records())
    end = std::max(end, record.address + record.bytes);
  CHECK(range == end);
  CHECK(range > 0);
  // Every transfer lies in the part homes, which end where the program region may begin.
  CHECK(r.memory.at("main_memory_homes_bytes") == top.homes_end_bytes());
  CHECK(range <= top.homes_end_bytes());
  CHECK(top.homes_end_bytes() % 4096 == 0);
}

namespace {
// A CPU stand-in for the programmable top: puts `program` at `base` in the memory, starts the
// accelerator and waits for its interrupt (`runs` times, clearing the interrupt in between);
// then holds what the registers say.
struct RegisterDriver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<RegisterDriver> csr;
  sc_core::sc_in<bool> irq;
  SparseDataStore* memory = nullptr;
  std::string program;
  uint64_t base = 0x100000;
  uint32_t status = 0, error = 0;
  bool interrupted = false;
  int runs = 1;
  std::vector<std::pair<uint32_t, uint64_t>> ends;  // per run: STATUS, CYCLES
  SC_HAS_PROCESS(RegisterDriver);
  explicit RegisterDriver(sc_core::sc_module_name name) : sc_module(name), csr("csr") {
    SC_THREAD(run);
  }
  uint32_t access(bool write, uint64_t offset, uint32_t value = 0) {
    unsigned char bytes[4];
    std::memcpy(bytes, &value, 4);
    tlm::tlm_generic_payload gp;
    proto::set_transfer(gp, write, offset, 4);
    gp.set_data_ptr(bytes);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    csr->b_transport(gp, delay);
    sc_core::wait(delay);
    std::memcpy(&value, bytes, 4);
    return gp.is_response_ok() ? value : ~0u;
  }
  void run() {
    memory->write(base, reinterpret_cast<const unsigned char*>(program.data()), program.size());
    access(true, registers::kProgramBaseLow, static_cast<uint32_t>(base));
    access(true, registers::kProgramLength, static_cast<uint32_t>(program.size()));
    access(true, registers::kInterruptEnable, registers::kInterruptBit);
    for (int run = 0; run < runs; ++run) {
      if (run > 0) {  // acknowledge the previous run's interrupt
        access(true, registers::kInterruptStatus, registers::kInterruptBit);
        sc_core::wait(sc_core::SC_ZERO_TIME);
      }
      access(true, registers::kControl, registers::kStart);
      sc_core::wait(irq.posedge_event());
      interrupted = true;
      status = access(false, registers::kStatus);
      error = access(false, registers::kErrorCode);
      ends.emplace_back(status, uint64_t{access(false, registers::kCyclesHigh)} << 32 |
                                    access(false, registers::kCyclesLow));
    }
  }
};

// The programmable top for BERT-Tiny (sequence 32) on Edge with its own memory and the driver
// placing `program` and starting it `runs` times; `inspect` (may be empty) sees the top and the
// driver at the end. Returns the driver's status and error code after the last run.
using Inspect =
    std::function<void(const ProgrammableAccelerator&, const RegisterDriver&, const Program&)>;
std::pair<uint32_t, uint32_t> run_programmable(const std::string& program, int runs = 1,
                                               const Inspect& inspect = {}) {
  testutil::Setup s;
  const AcceleratorConfig cfg = s.accel("edge");
  const Program prog = testutil::compile("bert-tiny", "hardware", "edge", 0, 32);
  RunOptions ro;
  ro.sim.check_protocol = true;
  ProgrammableAccelerator device("device", prog, cfg, s.tech, ro);
  MainMemory memory("memory", cfg.main_memory, s.tech,
                    load_memory_timing(default_memory_timing_path()), ro.sim);
  SparseDataStore store;
  memory.attach_store(&store);
  device.memory_socket().bind(memory.socket);
  RegisterDriver driver("driver");
  driver.memory = &store;
  driver.program = program.empty() ? device.program_text() : program;
  driver.base = device.accelerator->homes_end_bytes();
  driver.runs = runs;
  driver.csr.bind(device.register_socket());
  driver.irq.bind(device.registers.interrupt);
  sc_core::sc_start();
  REQUIRE(driver.interrupted);
  CHECK(device.accelerator->checkers.violations() == 0);
  CHECK(device.accelerator->dma->stats()
            .commands[static_cast<size_t>(proto::TransferKind::fetch_program)] ==
        static_cast<uint64_t>(runs));
  if (program.empty()) CHECK(device.accelerator->control_block->stats().finished);
  if (inspect) inspect(device, driver, prog);
  return {driver.status, driver.error};
}
}  // namespace

TEST_CASE("top: the programmable top fetches its program from memory and runs it", "[top]") {
  const auto [status, error] = run_programmable("");
  CHECK(status == static_cast<uint32_t>(registers::Status::done));
  CHECK(error == static_cast<uint32_t>(registers::ErrorCode::none));
}

TEST_CASE("top: a second START runs the program again from a clean state", "[top]") {
  std::vector<std::pair<uint32_t, uint64_t>> ends;
  uint64_t completed = 0, instructions = 0;
  const auto [status, error] =
      run_programmable("", 2,
                       [&](const ProgrammableAccelerator& device, const RegisterDriver& driver,
                           const Program& prog) {
                         ends = driver.ends;
                         // The second run's statistics are its own: every instruction once, not
                         // twice.
                         for (uint64_t n : device.accelerator->control_block->stats().completed)
                           completed += n;
                         instructions = prog.instrs.size();
                       });
  CHECK(status == static_cast<uint32_t>(registers::Status::done));
  CHECK(error == static_cast<uint32_t>(registers::ErrorCode::none));
  REQUIRE(ends.size() == 2);
  CHECK(ends[0].first == static_cast<uint32_t>(registers::Status::done));
  CHECK(completed == instructions);
  // Both runs start from empty buffers: the same work, the same time within the main memory's
  // state (open rows, refresh phase) the first run leaves.
  const double first = static_cast<double>(ends[0].second);
  const double second = static_cast<double>(ends[1].second);
  INFO("cycles: " << ends[0].second << " then " << ends[1].second);
  CHECK(first > 0);
  CHECK(std::abs(second - first) <= 0.02 * first);
}

TEST_CASE("top: the programmable top refuses bytes that are not an instruction stream", "[top]") {
  const auto [status, error] = run_programmable("# acceltran-isa 3\nnot a program\n");
  CHECK(status == static_cast<uint32_t>(registers::Status::error));
  CHECK(error == static_cast<uint32_t>(registers::ErrorCode::not_a_program));
}

TEST_CASE("top: the programmable top refuses a program other than the one it was built for",
          "[top]") {
  std::ostringstream other;
  write_program(other, testutil::compile("bert-tiny", "hardware", "edge", 0, 16));
  const auto [status, error] = run_programmable(other.str());
  CHECK(status == static_cast<uint32_t>(registers::Status::error));
  CHECK(error == static_cast<uint32_t>(registers::ErrorCode::other_program));
}

namespace {
// Accesses to a register block alone: each (write, offset, value, length) with its response.
struct RegisterProbe : sc_core::sc_module {
  struct Access {
    bool write;
    uint64_t offset;
    uint32_t value;
    unsigned length;
    tlm::tlm_response_status response = tlm::TLM_INCOMPLETE_RESPONSE;
    uint32_t read = 0;
  };
  tlm_utils::simple_initiator_socket<RegisterProbe> csr;
  std::vector<Access> accesses;
  SC_HAS_PROCESS(RegisterProbe);
  explicit RegisterProbe(sc_core::sc_module_name name) : sc_module(name), csr("csr") {
    SC_THREAD(run);
  }
  void run() {
    for (Access& a : accesses) {
      unsigned char bytes[8] = {};
      std::memcpy(bytes, &a.value, 4);
      tlm::tlm_generic_payload gp;
      proto::set_transfer(gp, a.write, a.offset, a.length);
      gp.set_data_ptr(bytes);
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      tlm::tlm_phase phase = tlm::BEGIN_REQ;
      if (a.offset == registers::kProgramLength && !a.write)  // through nb_transport_fw
        CHECK(csr->nb_transport_fw(gp, phase, delay) == tlm::TLM_COMPLETED);
      else
        csr->b_transport(gp, delay);
      sc_core::wait(delay);
      a.response = gp.get_response_status();
      std::memcpy(&a.read, bytes, 4);
    }
  }
};
}  // namespace

TEST_CASE("top: the register map's accesses and error responses", "[top]") {
  AcceleratorRegisters regs("registers", 700);
  RegisterProbe probe("probe");
  probe.csr.bind(regs.socket);
  using R = RegisterProbe::Access;
  probe.accesses = {
      R{false, registers::kId, 0, 4},                  // 0: ID
      R{true, registers::kProgramLength, 1234, 4},     // 1
      R{false, registers::kProgramLength, 0, 4},       // 2: read back (nb_transport_fw)
      R{true, registers::kId, 1, 4},                   // 3: read-only
      R{false, registers::kBytes, 0, 4},               // 4: past the map
      R{false, registers::kStatus, 0, 8},              // 5: length 8
      R{false, registers::kStatus + 2, 0, 4},          // 6: misaligned
      R{true, registers::kProgramBaseHigh, 0x12, 4},   // 7
      R{true, registers::kProgramBaseLow, 0x3400, 4},  // 8
      R{false, registers::kStatus, 0, 4},              // 9: idle
  };
  sc_core::sc_start();
  const auto& a = probe.accesses;
  CHECK(a[0].response == tlm::TLM_OK_RESPONSE);
  CHECK(a[0].read == registers::kIdValue);
  CHECK(a[2].read == 1234);
  CHECK(regs.program_length() == 1234);
  CHECK(a[3].response == tlm::TLM_COMMAND_ERROR_RESPONSE);
  CHECK(a[4].response == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(a[5].response == tlm::TLM_BURST_ERROR_RESPONSE);
  CHECK(a[6].response == tlm::TLM_BURST_ERROR_RESPONSE);
  CHECK(regs.program_base() == 0x1200003400ull);
  CHECK(a[9].read == static_cast<uint32_t>(registers::Status::idle));
  CHECK(!regs.interrupt.read());
  // transport_dbg reads the registers (no write).
  uint32_t id = 0;
  tlm::tlm_generic_payload gp;
  proto::set_transfer(gp, false, registers::kId, 4);
  gp.set_data_ptr(reinterpret_cast<unsigned char*>(&id));
  CHECK(probe.csr->transport_dbg(gp) == 4);
  CHECK(id == registers::kIdValue);
}

TEST_CASE("top: a memory trace splits transfers into the bursts they overlap in cycle order",
          "[top]") {
  CHECK(MemoryTrace::bursts(0, 0, 64) == 0);
  CHECK(MemoryTrace::bursts(0, 64, 64) == 1);
  CHECK(MemoryTrace::bursts(0, 65, 64) == 2);
  CHECK(MemoryTrace::bursts(60, 8, 64) == 2);  // straddles a burst boundary
  MemoryTrace trace;
  trace.record(9, true, 0x1000, 100);  // requested later, recorded first
  trace.record(3, false, 0x40, 64);
  trace.record(3, false, 0x3c, 8);
  CHECK(trace.bytes_read() == 72);
  CHECK(trace.bytes_written() == 100);
  std::ostringstream stl, ramulator;
  CHECK(trace.write_stl(stl, 700) == 5);
  CHECK(trace.write_ramulator(ramulator) == 5);
  const std::string text = stl.str();
  const std::string body = text.substr(text.find("3:\t"));
  CHECK(body ==
        "3:\tread\t0x40\n3:\tread\t0x0\n3:\tread\t0x40\n9:\twrite\t0x1000\n"
        "9:\twrite\t0x1040\n");
  CHECK(text.find("# clkMhz: 700") != std::string::npos);
  CHECK(ramulator.str() == "LD 0x40\nLD 0x0\nLD 0x40\nST 0x1000\nST 0x1040\n");
}
