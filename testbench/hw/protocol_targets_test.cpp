// TLM-2.0 base protocol, target side: every target of the accelerator answers each malformed
// transaction with the standard error response (and charges nothing), a legal one with OK;
// transport_dbg and DMI of the memories (tlm/protocol.hpp, docs/architecture.md).
#include <tlm_utils/simple_initiator_socket.h>
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "acceltran/hw/memory/data_store.hpp"
#include "acceltran/hw/memory/dma.hpp"
#include "acceltran/hw/memory/main_memory.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "compute_common.hpp"
#include "memory_test_util.hpp"

using namespace acceltran;
using Catch::Matchers::Contains;
constexpr uint64_t kKiB = 1024;
using Mutation = std::function<void(tlm::tlm_generic_payload&)>;

namespace {

// One initiator socket per target; run() sends the probes of `script` from an SC_THREAD.
struct Prober : sc_core::sc_module {
  std::map<std::string, std::unique_ptr<tlm_utils::simple_initiator_socket<Prober>>> to;
  std::function<void(Prober&)> script;
  SC_HAS_PROCESS(Prober);
  Prober(sc_core::sc_module_name n, const std::vector<std::string>& targets,
         std::function<void(Prober&)> s)
      : sc_module(n), script(std::move(s)) {
    for (const auto& t : targets)
      to[t] = std::make_unique<tlm_utils::simple_initiator_socket<Prober>>(t.c_str());
    SC_THREAD(run);
  }
  void run() { script(*this); }
  // Sends `base` changed by `mutate` to `target`; the response status.
  tlm::tlm_response_status probe(const std::string& target,
                                 const std::function<void(tlm::tlm_generic_payload&)>& base,
                                 const Mutation& mutate = {}) {
    tlm::tlm_generic_payload gp;
    base(gp);
    if (mutate) mutate(gp);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    (*to.at(target))->b_transport(gp, delay);
    gp.clear_extension<proto::TileJobExt>();
    gp.clear_extension<proto::TransferExt>();
    return gp.get_response_status();
  }
};

// Neither enabled (0xff) nor disabled (0x00): refused by every target (protocol_nb_targets_test.cpp
// covers all-enabled and partial byte enables).
unsigned char malformed_byte_enables[4] = {0xff, 0x0f, 0xff, 0x0f};

// The malformed variants of a legal transaction, by name.
std::vector<std::pair<std::string, Mutation>> malformed(uint64_t bad_address) {
  return {
      {"bad address", [=](tlm::tlm_generic_payload& gp) { gp.set_address(bad_address); }},
      {"malformed byte enables",
       [](tlm::tlm_generic_payload& gp) {
         gp.set_byte_enable_ptr(malformed_byte_enables);
         gp.set_byte_enable_length(4);
       }},
      {"short streaming width",
       [](tlm::tlm_generic_payload& gp) { gp.set_streaming_width(gp.get_data_length() / 2); }},
      {"zero data length",
       [](tlm::tlm_generic_payload& gp) {
         gp.set_data_length(0);
         gp.set_streaming_width(0);
       }},
      {"null data pointer", [](tlm::tlm_generic_payload& gp) { gp.set_data_ptr(nullptr); }},
  };
}

// Main memory of the Edge design and its buffers on demand, performance mode.
struct Memories {
  const Technology tech = memtest::tech();
  const MemoryTimingTable timing = memtest::timing();
  const AcceleratorConfig cfg = memtest::accel("edge");
  const SimOptions opts;
  std::unique_ptr<MainMemory> mem =
      std::make_unique<MainMemory>("mem", cfg.main_memory, tech, timing, opts);
  std::unique_ptr<SramBuffer> buffer(proto::Buffer kind) const {
    return SramBuffer::from_config(proto::to_string(kind), kind, cfg, tech, opts);
  }
};

}  // namespace

TEST_CASE("protocol: the engines answer malformed tile jobs with the standard error responses",
          "[protocol]") {
  MEMTEST_ISOLATE();
  const auto cfg = compute_test::accel("edge");
  const SimOptions o;
  const Op mm = compute_test::make_op(OpKind::matmul, 4, 128, 128, 64, cfg.tile);
  const Op sop = compute_test::make_op(OpKind::softmax, 4, 128, 1, 128, cfg.tile);
  PeArray pe("pe", cfg, compute_test::tech(), o);
  SoftmaxEngine sm("sm", cfg, compute_test::tech(), o);
  LayerNormEngine ln("ln", cfg, compute_test::tech(), o);
  std::map<std::string, std::map<std::string, tlm::tlm_response_status>> got;
  const std::map<std::string, std::pair<const Op*, Opcode>> jobs = {
      {"pe", {&mm, Opcode::MATMUL}},
      {"sm", {&sop, Opcode::SOFTMAX}},
      {"ln", {&sop, Opcode::LAYERNORM}}};
  Prober p("prober", {"pe", "sm", "ln"}, [&](Prober& self) {
    for (const auto& [target, what] : jobs) {
      proto::TileJobExt job = compute_test::job_for(*what.first, what.second, 0, 4, 0, LoopOrder{});
      auto base = [&](tlm::tlm_generic_payload& gp) {
        proto::set_tile_job(gp);
        gp.set_extension(&job);
      };
      auto& r = got[target];
      for (const auto& [name, m] : malformed(64)) r[name] = self.probe(target, base, m);
      r["read command"] = self.probe(target, base, [](tlm::tlm_generic_payload& gp) {
        gp.set_command(tlm::TLM_READ_COMMAND);
      });
      r["write command"] = self.probe(target, base, [](tlm::tlm_generic_payload& gp) {
        gp.set_command(tlm::TLM_WRITE_COMMAND);
      });
      r["missing extension"] =
          self.probe(target, [](tlm::tlm_generic_payload& gp) { proto::set_tile_job(gp); });
      r["wrong opcode"] = self.probe(target, base, [&](tlm::tlm_generic_payload&) {
        job.kind = what.second == Opcode::MATMUL ? proto::JobKind::softmax : proto::JobKind::matmul;
      });
      job.kind = job_kind(what.second);
      r["legal"] = self.probe(target, base);
    }
  });
  p.to.at("pe")->bind(pe.target);
  p.to.at("sm")->bind(sm.target);
  p.to.at("ln")->bind(ln.target);
  sc_core::sc_start();
  for (const std::string t : {"pe", "sm", "ln"}) {
    INFO("target " << t);
    auto& r = got[t];
    CHECK(r["bad address"] == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(r["malformed byte enables"] == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    CHECK(r["short streaming width"] == tlm::TLM_BURST_ERROR_RESPONSE);
    CHECK(r["zero data length"] == tlm::TLM_BURST_ERROR_RESPONSE);
    CHECK(r["null data pointer"] == tlm::TLM_GENERIC_ERROR_RESPONSE);
    CHECK(r["read command"] == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(r["write command"] == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(r["missing extension"] == tlm::TLM_GENERIC_ERROR_RESPONSE);
    CHECK(r["wrong opcode"] == tlm::TLM_COMMAND_ERROR_RESPONSE);
    CHECK(r["legal"] == tlm::TLM_OK_RESPONSE);
  }
  // Only the legal jobs ran.
  CHECK(pe.stats().tiles == 4);
  CHECK(sm.stats().tiles == 4);
}

TEST_CASE(
    "protocol: main memory and the SRAM buffers answer malformed transfers with the "
    "standard error responses and charge nothing",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  Memories m;
  MainMemory& mem = *m.mem;
  auto act = m.buffer(proto::Buffer::activation);
  std::map<std::string, std::map<std::string, tlm::tlm_response_status>> got;
  const uint64_t len = 4 * kKiB;
  auto base = [&](tlm::tlm_generic_payload& gp) { proto::set_transfer(gp, false, 0, len); };
  Prober p("prober", {"mem", "dma_port", "core_port"}, [&](Prober& self) {
    const std::map<std::string, uint64_t> bad = {{"mem", mem.capacity_bytes() - len / 2},
                                                 {"dma_port", act->capacity_bytes() - 16},
                                                 {"core_port", act->capacity_bytes()}};
    for (const auto& [target, bad_address] : bad) {
      auto& r = got[target];
      for (const auto& [name, m] : malformed(bad_address)) r[name] = self.probe(target, base, m);
      r["ignore command"] = self.probe(target, base, [](tlm::tlm_generic_payload& gp) {
        gp.set_command(tlm::TLM_IGNORE_COMMAND);
      });
      r["far address"] = self.probe(
          target, base, [](tlm::tlm_generic_payload& gp) { gp.set_address(uint64_t{1} << 50); });
    }
  });
  p.to.at("mem")->bind(mem.socket);
  p.to.at("dma_port")->bind(act->socket);
  p.to.at("core_port")->bind(act->core_socket);
  sc_core::sc_start();
  CHECK(mem.capacity_bytes() == uint64_t{1} << 36);
  for (const std::string t : {"mem", "dma_port", "core_port"}) {
    INFO("target " << t);
    auto& r = got[t];
    CHECK(r["bad address"] == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(r["far address"] == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(r["malformed byte enables"] == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    CHECK(r["zero data length"] == tlm::TLM_BURST_ERROR_RESPONSE);
    CHECK(r["null data pointer"] == tlm::TLM_GENERIC_ERROR_RESPONSE);
    CHECK(r["ignore command"] == tlm::TLM_COMMAND_ERROR_RESPONSE);
  }
  // Whole transfers only on main memory; the buffers' sockets take streams through a window
  // (the engines' port streams; the DMA's part larger than its placement, dma.hpp).
  CHECK(got["mem"]["short streaming width"] == tlm::TLM_BURST_ERROR_RESPONSE);
  CHECK(got["dma_port"]["short streaming width"] == tlm::TLM_OK_RESPONSE);
  CHECK(got["core_port"]["short streaming width"] == tlm::TLM_OK_RESPONSE);
  CHECK(mem.stats().reads == 0);
  CHECK(mem.stats().dynamic_energy_nj == 0);
  CHECK(act->stats().port_accesses == 2);  // the legal short-streaming-width streams only
  CHECK(act->stats().bytes_read == 2 * len);
}

TEST_CASE(
    "protocol: the DMA checks its commands and ends a command a target refuses with that "
    "target's response",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  Memories m;
  MainMemory& mem = *m.mem;
  Dma dma("dma", m.cfg, m.tech, m.timing, m.opts);
  dma.memory_socket.bind(mem.socket);
  auto act = m.buffer(proto::Buffer::activation), wgt = m.buffer(proto::Buffer::weight),
       msk = m.buffer(proto::Buffer::mask);
  dma.activation_socket.bind(act->socket);
  dma.weight_socket.bind(wgt->socket);
  dma.mask_socket.bind(msk->socket);
  std::map<std::string, tlm::tlm_response_status> r;
  std::string far_error;
  const uint64_t len = 4 * kKiB;
  proto::TransferExt ext;
  ext.kind = proto::TransferKind::load_weights;
  ext.tensor = 3;
  ext.data_bytes = len;
  ext.mask_bytes = 64;
  auto base = [&](tlm::tlm_generic_payload& gp) {
    proto::set_transfer(gp, false, 0, static_cast<unsigned>(len + 64));
    gp.set_extension(&ext);
  };
  Prober p("prober", {"dma"}, [&](Prober& self) {
    for (const auto& [name, m] : malformed(uint64_t{1} << 40)) r[name] = self.probe("dma", base, m);
    far_error = dma.last_error();
    r["write for a load"] = self.probe(
        "dma", base, [](tlm::tlm_generic_payload& gp) { gp.set_command(tlm::TLM_WRITE_COMMAND); });
    r["ignore command"] = self.probe(
        "dma", base, [](tlm::tlm_generic_payload& gp) { gp.set_command(tlm::TLM_IGNORE_COMMAND); });
    r["missing extension"] = self.probe("dma", [&](tlm::tlm_generic_payload& gp) {
      proto::set_transfer(gp, false, 0, static_cast<unsigned>(len));
    });
    r["legal"] = self.probe("dma", base);
  });
  p.to.at("dma")->bind(dma.socket);
  sc_core::sc_start();
  // The memory refuses the address beyond its capacity; the DMA passes its response on.
  CHECK(r["bad address"] == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK_THAT(far_error, Contains("memory_socket") && Contains("TLM_ADDRESS_ERROR_RESPONSE") &&
                            Contains("read of 4160 bytes at 0x10000000000"));
  CHECK(r["malformed byte enables"] == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
  CHECK(r["short streaming width"] == tlm::TLM_BURST_ERROR_RESPONSE);
  CHECK(r["zero data length"] == tlm::TLM_BURST_ERROR_RESPONSE);
  CHECK(r["null data pointer"] == tlm::TLM_GENERIC_ERROR_RESPONSE);
  CHECK(r["write for a load"] == tlm::TLM_COMMAND_ERROR_RESPONSE);
  CHECK(r["ignore command"] == tlm::TLM_COMMAND_ERROR_RESPONSE);
  CHECK(r["missing extension"] == tlm::TLM_GENERIC_ERROR_RESPONSE);
  CHECK(r["legal"] == tlm::TLM_OK_RESPONSE);
  CHECK(dma.stats().commands[static_cast<size_t>(proto::TransferKind::load_weights)] == 1);
  CHECK(mem.stats().reads == 1);
}

TEST_CASE("protocol: transport_dbg reads back what a functional run wrote, and DMI to main memory",
          "[protocol][memory]") {
  MEMTEST_ISOLATE();
  Memories m;
  MainMemory& mem = *m.mem;
  auto wgt = m.buffer(proto::Buffer::weight);
  // Performance mode: no store, no contents, no DMI.
  std::vector<unsigned char> data(10000), back(10000, 0xee);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7 + 1);
  unsigned perf_dbg = 0;
  bool perf_dmi = true, dmi = false;
  unsigned mem_dbg = 0, wgt_dbg = 0, dbg_write = 0;
  std::vector<unsigned char> wgt_back(10000), mem_back(10000), dmi_bytes(16);
  tlm::tlm_dmi dmi_data;
  SparseDataStore mem_store, wgt_store;
  Prober p("prober", {"mem", "wgt"}, [&](Prober& self) {
    tlm::tlm_generic_payload gp;
    gp.set_command(tlm::TLM_READ_COMMAND);
    gp.set_address(0x1000);
    gp.set_data_ptr(back.data());
    gp.set_data_length(100);
    perf_dbg = (*self.to.at("mem"))->transport_dbg(gp);
    tlm::tlm_dmi none;
    perf_dmi = (*self.to.at("mem"))->get_direct_mem_ptr(gp, none);
    // Functional mode: a write through b_transport with real data.
    mem.attach_store(&mem_store);
    wgt->attach_store(&wgt_store);
    for (const std::string t : {"mem", "wgt"}) {
      tlm::tlm_generic_payload w;
      proto::set_transfer(w, true, 0x1234, static_cast<unsigned>(data.size()));
      w.set_data_ptr(data.data());
      sc_core::sc_time d = sc_core::SC_ZERO_TIME;
      (*self.to.at(t))->b_transport(w, d);
      REQUIRE(w.is_response_ok());
    }
    gp.set_address(0x1234);
    gp.set_data_length(static_cast<unsigned>(data.size()));
    gp.set_data_ptr(mem_back.data());
    mem_dbg = (*self.to.at("mem"))->transport_dbg(gp);
    gp.set_data_ptr(wgt_back.data());
    wgt_dbg = (*self.to.at("wgt"))->transport_dbg(gp);
    // A debug write, read back through DMI.
    unsigned char poke[4] = {1, 2, 3, 4};
    gp.set_command(tlm::TLM_WRITE_COMMAND);
    gp.set_address(0x8000);
    gp.set_data_ptr(poke);
    gp.set_data_length(4);
    dbg_write = (*self.to.at("mem"))->transport_dbg(gp);
    dmi = (*self.to.at("mem"))->get_direct_mem_ptr(gp, dmi_data);
    if (dmi)
      for (size_t i = 0; i < 16; ++i)
        dmi_bytes[i] = dmi_data.get_dmi_ptr()[0x8000 - dmi_data.get_start_address() + i];
  });
  p.to.at("mem")->bind(mem.socket);
  p.to.at("wgt")->bind(wgt->socket);
  sc_core::sc_start();
  CHECK(perf_dbg == 0);
  CHECK(back[0] == 0xee);  // untouched
  CHECK_FALSE(perf_dmi);
  CHECK(mem_dbg == data.size());
  CHECK(wgt_dbg == data.size());
  CHECK(mem_back == data);
  CHECK(wgt_back == data);
  CHECK(dbg_write == 4);
  REQUIRE(dmi);
  CHECK(dmi_data.is_read_write_allowed());
  CHECK(dmi_data.get_start_address() <= 0x8000);
  CHECK(dmi_data.get_end_address() >= 0x8003);
  CHECK(dmi_bytes[0] == 1);
  CHECK(dmi_bytes[3] == 4);
  CHECK(dmi_bytes[4] == 0);
  // Debug accesses cost nothing.
  CHECK(mem.stats().writes == 1);
  CHECK(mem.stats().reads == 0);
}

TEST_CASE("protocol: the scratch data array grows on demand and never moves a pointer in use",
          "[protocol]") {
  unsigned char* small = proto::scratch_data(16);
  REQUIRE(small != nullptr);
  CHECK(proto::scratch_data(4096) == small);  // within the first region: no allocation
  unsigned char* big = proto::scratch_data(3 * 1024 * 1024);
  CHECK(big != small);
  CHECK(big[3 * 1024 * 1024 - 1] == 0);  // zero-filled to the requested length
  small[0] = 1;                          // the older region is still valid
  CHECK(small[0] == 1);
  CHECK(proto::scratch_data(64) == big);  // the newest region serves every smaller request
}
