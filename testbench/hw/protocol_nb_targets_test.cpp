// Every target of the accelerator takes nb_transport_fw as well as b_transport (IEEE 1666-2011
// base protocol): the PE array, the softmax and layer-norm engines, both sockets of an SRAM
// buffer, main memory and the DynaTran module answer BEGIN_REQ with TLM_COMPLETED and the same
// timing and effect as b_transport on a twin block; the DMA answers through its socket's
// conversion (BEGIN_RESP on the backward path at the command's completion). Protocol checkers on
// every socket. Byte enables: all-enabled arrays are accepted everywhere, partial ones move only
// the enabled bytes of the memories and are refused elsewhere, malformed ones are refused.
#include <tlm_utils/simple_initiator_socket.h>
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "acceltran/hw/memory/data_store.hpp"
#include "acceltran/hw/memory/dma.hpp"
#include "acceltran/hw/memory/main_memory.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "acceltran/tlm/protocol_checker.hpp"
#include "compute_common.hpp"
#include "memory_test_util.hpp"

using namespace acceltran;
using proto::ProtocolChecker;
using Setup = std::function<void(tlm::tlm_generic_payload&)>;

namespace {

// A memory manager for nb_transport payloads.
struct PayloadPool : tlm::tlm_mm_interface {
  std::vector<std::unique_ptr<tlm::tlm_generic_payload>> all;
  std::vector<tlm::tlm_generic_payload*> idle;
  tlm::tlm_generic_payload* get() {
    if (idle.empty()) {
      all.push_back(std::make_unique<tlm::tlm_generic_payload>(this));
      idle.push_back(all.back().get());
    }
    tlm::tlm_generic_payload* gp = idle.back();
    idle.pop_back();
    return gp;
  }
  void free(tlm::tlm_generic_payload* gp) override { idle.push_back(gp); }
};

// What a transaction came back with: its response and the absolute time of its response.
struct Outcome {
  tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
  sc_core::sc_time response;
  tlm::tlm_sync_enum first_return = tlm::TLM_ACCEPTED;  // nb: what BEGIN_REQ returned
};

// One initiator socket per target; `script` runs in an SC_THREAD. b() sends by b_transport,
// nb() by nb_transport_fw with a pooled payload held until its transaction completes.
struct Initiator : sc_core::sc_module {
  std::map<std::string, std::unique_ptr<tlm_utils::simple_initiator_socket<Initiator>>> to;
  std::function<void(Initiator&)> script;
  SC_HAS_PROCESS(Initiator);
  Initiator(sc_core::sc_module_name name, const std::vector<std::string>& targets,
            std::function<void(Initiator&)> s)
      : sc_module(name), script(std::move(s)) {
    for (const auto& t : targets) {
      to[t] = std::make_unique<tlm_utils::simple_initiator_socket<Initiator>>(t.c_str());
      to[t]->register_nb_transport_bw(this, &Initiator::nb_transport_bw);
    }
    SC_THREAD(run);
  }
  void run() { script(*this); }

  Outcome b(const std::string& target, const Setup& setup) {
    tlm::tlm_generic_payload gp;
    setup(gp);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    (*to.at(target))->b_transport(gp, delay);
    clear_extensions(gp);
    return Outcome{gp.get_response_status(), sc_core::sc_time_stamp() + delay, tlm::TLM_ACCEPTED};
  }

  Outcome nb(const std::string& target, const Setup& setup) {
    tlm::tlm_generic_payload* gp = pool_.get();
    gp->acquire();
    setup(*gp);
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    responded_ = false;
    Outcome out;
    out.first_return = (*to.at(target))->nb_transport_fw(*gp, phase, delay);
    if (out.first_return == tlm::TLM_COMPLETED) {
      response_at_ = sc_core::sc_time_stamp() + delay;
    } else if (out.first_return == tlm::TLM_UPDATED && phase == tlm::BEGIN_RESP) {
      response_at_ = sc_core::sc_time_stamp() + delay;
      tlm::tlm_phase end = tlm::END_RESP;
      (*to.at(target))->nb_transport_fw(*gp, end, delay);
    } else {
      while (!responded_) sc_core::wait(response_);
    }
    out.status = gp->get_response_status();
    out.response = response_at_;
    clear_extensions(*gp);
    gp->release();
    return out;
  }

 private:
  static void clear_extensions(tlm::tlm_generic_payload& gp) {
    gp.clear_extension<proto::TileJobExt>();
    gp.clear_extension<proto::TransferExt>();
    gp.clear_extension<PruneTileExt>();
  }
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload&, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay) {
    if (phase != tlm::BEGIN_RESP) return tlm::TLM_ACCEPTED;
    response_at_ = sc_core::sc_time_stamp() + delay;
    responded_ = true;
    response_.notify();
    return tlm::TLM_COMPLETED;
  }
  PayloadPool pool_;
  bool responded_ = false;
  sc_core::sc_time response_at_;
  sc_core::sc_event response_;
};

// Main memory, the three buffers and a DMA of the Edge design, wired (performance mode), and a
// main memory and an activation buffer of their own for the tests to reach.
struct MemorySide {
  std::unique_ptr<MainMemory> memory, dma_memory;
  std::unique_ptr<SramBuffer> act, wgt, msk, buffer;
  std::unique_ptr<Dma> dma;
  MemorySide(const std::string& prefix, const Technology& tech, const MemoryTimingTable& timing,
             const AcceleratorConfig& cfg, const SimOptions& opts) {
    memory = std::make_unique<MainMemory>((prefix + "_memory").c_str(), cfg.main_memory, tech,
                                          timing, opts);
    act = SramBuffer::from_config((prefix + "_act").c_str(), proto::Buffer::activation, cfg, tech,
                                  opts);
    wgt =
        SramBuffer::from_config((prefix + "_wgt").c_str(), proto::Buffer::weight, cfg, tech, opts);
    msk = SramBuffer::from_config((prefix + "_msk").c_str(), proto::Buffer::mask, cfg, tech, opts);
    buffer = SramBuffer::from_config((prefix + "_buffer").c_str(), proto::Buffer::activation, cfg,
                                     tech, opts);
    dma = std::make_unique<Dma>((prefix + "_dma").c_str(), cfg, tech, timing, opts);
    dma_memory = std::make_unique<MainMemory>((prefix + "_dma_memory").c_str(), cfg.main_memory,
                                              tech, timing, opts);
    dma->memory_socket.bind(dma_memory->socket);
    dma->activation_socket.bind(act->socket);
    dma->weight_socket.bind(wgt->socket);
    dma->mask_socket.bind(msk->socket);
  }
};

// Twin blocks: "b_*" served by b_transport, "nb_*" by nb_transport_fw.
struct Twins {
  const Technology tech = memtest::tech();
  const MemoryTimingTable timing = memtest::timing();
  const AcceleratorConfig cfg = memtest::accel("edge");
  const SimOptions opts;
  PeArray b_pe{"b_pe", cfg, tech, opts}, nb_pe{"nb_pe", cfg, tech, opts};
  SoftmaxEngine b_sm{"b_sm", cfg, tech, opts}, nb_sm{"nb_sm", cfg, tech, opts};
  LayerNormEngine b_ln{"b_ln", cfg, tech, opts}, nb_ln{"nb_ln", cfg, tech, opts};
  MemorySide b_side{"b", tech, timing, cfg, opts}, nb_side{"nb", tech, timing, cfg, opts};
  DynaTranUnit b_dynatran{"b_dynatran", PruneMode{PruneMode::Kind::dynatran, 0.5, 0}};
  DynaTranUnit nb_dynatran{"nb_dynatran", PruneMode{PruneMode::Kind::dynatran, 0.5, 0}};
};

// The DMA last: its nb_transport answer comes later (the others are all requested at time 0).
const std::vector<std::string> kTargets = {"pe",     "sm",          "ln",       "memory",
                                           "buffer", "buffer_core", "dynatran", "dma"};

// Binds prefix + target sockets of `initiator` to the twins of `prefix` through checkers.
void bind_twins(Initiator& initiator, Twins& t, const std::string& prefix,
                proto::ProtocolCheckers& checks) {
  const bool b = prefix == "b_";
  MemorySide& side = b ? t.b_side : t.nb_side;
  auto connect = [&](const std::string& target, auto& socket) {
    checks.connect(*initiator.to.at(prefix + target), socket, ("check_" + prefix + target).c_str());
  };
  connect("pe", b ? t.b_pe.target : t.nb_pe.target);
  connect("sm", b ? t.b_sm.target : t.nb_sm.target);
  connect("ln", b ? t.b_ln.target : t.nb_ln.target);
  connect("memory", side.memory->socket);
  connect("buffer", side.buffer->socket);
  connect("buffer_core", side.buffer->core_socket);
  connect("dma", side.dma->socket);
  connect("dynatran", b ? t.b_dynatran.target : t.nb_dynatran.target);
}

// A legal transaction for each target, for twin b (b_transport) or nb (nb_transport_fw); each
// twin has its own extensions (a job's results are added to its extension).
struct LegalTransactions {
  const Op mm, sop;
  proto::TileJobExt mm_job[2], sm_job[2], ln_job[2];  // [1]: twin b, [0]: twin nb
  proto::TransferExt load;
  std::vector<int32_t> tile[2];  // DynaTran's blocks (8 x 8 Q4.16 words)
  PruneTileExt prune[2];

  explicit LegalTransactions(const AcceleratorConfig& cfg)
      : mm(compute_test::make_op(OpKind::matmul, 4, 128, 128, 64, cfg.tile)),
        sop(compute_test::make_op(OpKind::softmax, 4, 128, 1, 128, cfg.tile)) {
    load.kind = proto::TransferKind::load_weights;
    load.data_bytes = 4096;
    load.mask_bytes = 64;
    for (int i = 0; i < 2; ++i) {
      mm_job[i] = compute_test::job_for(mm, Opcode::MATMUL, 0, 4, 0, LoopOrder{});
      sm_job[i] = compute_test::job_for(sop, Opcode::SOFTMAX, 0, 4, 0, LoopOrder{});
      ln_job[i] = compute_test::job_for(sop, Opcode::LAYERNORM, 0, 4, 0, LoopOrder{});
      for (int v = 0; v < 64; ++v) tile[i].push_back(v % 3 == 0 ? 1 << 20 : 100);
      prune[i].rows = prune[i].cols = prune[i].ld = 8;
    }
  }

  Setup of(const std::string& target, bool b) {
    if (target == "pe") return tile_job(&mm_job[b]);
    if (target == "sm") return tile_job(&sm_job[b]);
    if (target == "ln") return tile_job(&ln_job[b]);
    if (target == "memory")
      return [](tlm::tlm_generic_payload& gp) { proto::set_transfer(gp, false, 0x1000, 4096); };
    if (target == "buffer")
      return [](tlm::tlm_generic_payload& gp) { proto::set_transfer(gp, true, 0, 4096); };
    if (target == "buffer_core")
      return [](tlm::tlm_generic_payload& gp) { proto::set_transfer(gp, false, 0, 4096, 64); };
    if (target == "dma")
      return [this](tlm::tlm_generic_payload& gp) {
        proto::set_transfer(gp, false, 0, 4160);
        gp.set_extension(&load);
      };
    return [this, b](tlm::tlm_generic_payload& gp) {  // dynatran
      proto::set_transfer(gp, true, 0, 256);
      gp.set_data_ptr(reinterpret_cast<unsigned char*>(tile[b].data()));
      gp.set_extension(&prune[b]);
    };
  }

 private:
  static Setup tile_job(proto::TileJobExt* job) {
    return [job](tlm::tlm_generic_payload& gp) {
      proto::set_tile_job(gp);
      gp.set_extension(job);
    };
  }
};

std::vector<std::string> prefixed(const std::string& prefix) {
  std::vector<std::string> v;
  for (const auto& t : kTargets) v.push_back(prefix + t);
  return v;
}

}  // namespace

TEST_CASE(
    "protocol: nb_transport_fw into every target completes with the timing and effect of "
    "b_transport, with 0 checker violations",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  Twins twins;
  LegalTransactions legal(twins.cfg);
  std::map<std::string, Outcome> by_b, by_nb;
  Initiator b_side("b_initiator", prefixed("b_"), [&](Initiator& self) {
    for (const auto& t : kTargets) by_b[t] = self.b("b_" + t, legal.of(t, true));
  });
  Initiator nb_side("nb_initiator", prefixed("nb_"), [&](Initiator& self) {
    for (const auto& t : kTargets) by_nb[t] = self.nb("nb_" + t, legal.of(t, false));
  });
  proto::ProtocolCheckers checks(true, ProtocolChecker::Policy::count);
  bind_twins(b_side, twins, "b_", checks);
  bind_twins(nb_side, twins, "nb_", checks);
  sc_core::sc_start();
  INFO(checks.summary());
  CHECK(checks.violations() == 0);
  CHECK(checks.transactions() == 2 * kTargets.size());
  for (const auto& t : kTargets) {
    INFO("target " << t);
    CHECK(by_b[t].status == tlm::TLM_OK_RESPONSE);
    CHECK(by_nb[t].status == tlm::TLM_OK_RESPONSE);
    CHECK(by_nb[t].response == by_b[t].response);
    CHECK(by_nb[t].first_return == (t == "dma" ? tlm::TLM_ACCEPTED : tlm::TLM_COMPLETED));
  }
  CHECK(by_b["pe"].response > sc_core::SC_ZERO_TIME);
  CHECK(by_b["memory"].response > sc_core::SC_ZERO_TIME);
  CHECK(twins.nb_pe.stats().tiles == twins.b_pe.stats().tiles);
  CHECK(twins.nb_side.memory->stats().bytes_read == twins.b_side.memory->stats().bytes_read);
  CHECK(twins.nb_side.buffer->stats().bytes_written == twins.b_side.buffer->stats().bytes_written);
  CHECK(twins.nb_side.buffer->stats().bytes_read == twins.b_side.buffer->stats().bytes_read);
  CHECK(twins.nb_side.dma_memory->stats().bytes_read ==
        twins.b_side.dma_memory->stats().bytes_read);
  CHECK(twins.nb_side.dma->stats().busy_engine_cycles ==
        twins.b_side.dma->stats().busy_engine_cycles);
  CHECK(legal.prune[0].zeros == legal.prune[1].zeros);
  CHECK(legal.prune[0].zeros > 0);
  CHECK(legal.tile[0] == legal.tile[1]);
}

namespace {

unsigned char kAllEnabled[4] = {0xff, 0xff, 0xff, 0xff};
unsigned char kEvenEnabled[2] = {0xff, 0x00};
unsigned char kMiddleEnabled[4] = {0x00, 0xff, 0xff, 0x00};
unsigned char kMalformed[2] = {0xff, 0x0f};  // neither enabled (0xff) nor disabled (0x00)

Setup with_byte_enables(Setup setup, unsigned char* enables, unsigned length) {
  return [setup, enables, length](tlm::tlm_generic_payload& gp) {
    setup(gp);
    gp.set_byte_enable_ptr(enables);
    gp.set_byte_enable_length(length);
  };
}

// 8 bytes at `address` through a memory socket: all 0x11, then 0xaa with every other byte
// enabled; then a read into 0xee bytes with bytes 1 and 2 of every 4 enabled. Returns the read.
std::vector<unsigned char> partial_round_trip(Initiator& self, const std::string& target,
                                              uint64_t address, unsigned streaming_width) {
  std::vector<unsigned char> ones(8, 0x11), stripes(8, 0xaa), read(8, 0xee);
  auto access = [=](bool write, unsigned char* data) -> Setup {
    return [=](tlm::tlm_generic_payload& gp) {
      proto::set_transfer(gp, write, address, 8, streaming_width);
      gp.set_data_ptr(data);
    };
  };
  const bool ok =
      self.b(target, access(true, ones.data())).status == tlm::TLM_OK_RESPONSE &&
      self.b(target, with_byte_enables(access(true, stripes.data()), kEvenEnabled, 2)).status ==
          tlm::TLM_OK_RESPONSE &&
      self.b(target, with_byte_enables(access(false, read.data()), kMiddleEnabled, 4)).status ==
          tlm::TLM_OK_RESPONSE;
  return ok ? read : std::vector<unsigned char>{};
}

}  // namespace

TEST_CASE(
    "protocol: byte enables, all enabled accepted by every target, partial ones served by the "
    "memories and refused elsewhere, malformed ones refused",
    "[protocol][memory]") {
  MEMTEST_ISOLATE();
  Twins twins;
  LegalTransactions legal(twins.cfg);
  SparseDataStore memory_store, buffer_store;
  twins.b_side.memory->attach_store(&memory_store);
  twins.b_side.buffer->attach_store(&buffer_store);
  std::map<std::string, std::map<std::string, tlm::tlm_response_status>> got;
  std::map<std::string, std::vector<unsigned char>> round_trips;
  Initiator initiator("initiator", prefixed("b_"), [&](Initiator& self) {
    for (const auto& t : kTargets) {
      auto& r = got[t];
      r["all enabled"] =
          self.b("b_" + t, with_byte_enables(legal.of(t, true), kAllEnabled, 4)).status;
      r["partial"] = self.b("b_" + t, with_byte_enables(legal.of(t, true), kEvenEnabled, 2)).status;
      r["malformed"] = self.b("b_" + t, with_byte_enables(legal.of(t, true), kMalformed, 2)).status;
      r["zero length"] =
          self.b("b_" + t, with_byte_enables(legal.of(t, true), kAllEnabled, 0)).status;
    }
    round_trips["memory"] = partial_round_trip(self, "b_memory", 0x2000, 8);
    round_trips["buffer"] = partial_round_trip(self, "b_buffer", 0x100, 8);
    round_trips["buffer_core"] = partial_round_trip(self, "b_buffer_core", 0x200, 8);
  });
  Initiator idle("idle", prefixed("nb_"), [](Initiator&) {});  // the nb twins stay unused
  proto::ProtocolCheckers checks(true, ProtocolChecker::Policy::count);
  bind_twins(initiator, twins, "b_", checks);
  bind_twins(idle, twins, "nb_", checks);
  sc_core::sc_start();
  const std::vector<unsigned char> expect = {0xee, 0x11, 0xaa, 0xee, 0xee, 0x11, 0xaa, 0xee};
  for (const auto& t : kTargets) {
    INFO("target " << t);
    const bool memory = t == "memory" || t == "buffer" || t == "buffer_core";
    CHECK(got[t]["all enabled"] == tlm::TLM_OK_RESPONSE);
    CHECK(got[t]["partial"] ==
          (memory ? tlm::TLM_OK_RESPONSE : tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE));
    CHECK(got[t]["malformed"] == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    CHECK(got[t]["zero length"] == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    if (memory) CHECK(round_trips[t] == expect);
  }
  // The checkers see a byte-enable pointer with length 0 as the initiator's error, nothing else.
  CHECK(checks.violations() == kTargets.size());
}
