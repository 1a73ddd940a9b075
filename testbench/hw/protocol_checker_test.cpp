// The base-protocol checker (tlm/protocol_checker.hpp): a legal exchange passes with no
// violation and unchanged timing; each kind of bad transaction, bad target and bad phase
// sequence is counted with a message naming its rule; policy `error` stops at the first.
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "acceltran/tlm/protocol.hpp"
#include "acceltran/tlm/protocol_checker.hpp"
#include "at_memory_target.hpp"
#include "memory_test_util.hpp"

using namespace acceltran;
using Catch::Matchers::Contains;
using proto::ProtocolChecker;

namespace {

// A loosely-timed target that may misbehave: adds 10 ns; `misbehave` runs before it returns.
struct LtTarget : sc_core::sc_module {
  tlm_utils::simple_target_socket<LtTarget> socket;
  std::function<void(tlm::tlm_generic_payload&)> misbehave;
  explicit LtTarget(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &LtTarget::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    delay += sc_core::sc_time(10, sc_core::SC_NS);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    if (misbehave) misbehave(gp);
  }
};

// An initiator running `script` in a thread, with nb_transport_bw answered by `bw`.
struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket;
  std::function<void(Initiator&)> script;
  std::function<tlm::tlm_sync_enum(tlm::tlm_generic_payload&, tlm::tlm_phase&)> bw;
  SC_HAS_PROCESS(Initiator);
  Initiator(sc_core::sc_module_name n, std::function<void(Initiator&)> s)
      : sc_module(n), socket("socket"), script(std::move(s)) {
    socket.register_nb_transport_bw(this, &Initiator::nb_transport_bw);
    SC_THREAD(run);
  }
  void run() { script(*this); }
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time&) {
    return bw ? bw(gp, phase) : tlm::TLM_ACCEPTED;
  }
  // A legal read of 64 bytes, changed by `mutate`; returns the delay.
  sc_core::sc_time read(const std::function<void(tlm::tlm_generic_payload&)>& mutate = {}) {
    tlm::tlm_generic_payload gp;
    proto::set_transfer(gp, false, 0x40, 64);
    if (mutate) mutate(gp);
    sc_core::sc_time delay(5, sc_core::SC_NS);
    socket->b_transport(gp, delay);
    return delay;
  }
};

// A memory manager that pools payloads (nb_transport needs one).
struct Pool : tlm::tlm_mm_interface {
  std::vector<tlm::tlm_generic_payload*> idle, all;
  tlm::tlm_generic_payload* get() {
    if (idle.empty()) {
      all.push_back(new tlm::tlm_generic_payload(this));
      idle.push_back(all.back());
    }
    auto* gp = idle.back();
    idle.pop_back();
    return gp;
  }
  void free(tlm::tlm_generic_payload* gp) override {
    gp->reset();
    idle.push_back(gp);
  }
  ~Pool() {
    for (auto* gp : all) delete gp;
  }
};

bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& m : v)
    if (m.find(s) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("protocol checker: catches each bad b_transport and forwards legal ones unchanged",
          "[protocol]") {
  MEMTEST_ISOLATE();
  LtTarget target("target");
  ProtocolChecker checker("checker");
  std::vector<std::pair<std::string, uint64_t>> counts;  // after each step
  sc_core::sc_time legal_delay;
  Initiator ini("ini", [&](Initiator& self) {
    auto step = [&](const std::string& name) { counts.emplace_back(name, checker.violations()); };
    legal_delay = self.read();
    step("legal");
    self.read([](tlm::tlm_generic_payload& gp) { gp.set_data_ptr(nullptr); });
    step("null data pointer");
    self.read([](tlm::tlm_generic_payload& gp) {
      gp.set_data_length(0);
      gp.set_streaming_width(0);
    });
    step("zero length and streaming width");
    static unsigned char be[4] = {};
    self.read([](tlm::tlm_generic_payload& gp) { gp.set_byte_enable_ptr(be); });
    step("byte enables of length 0");
    self.read([](tlm::tlm_generic_payload& gp) { gp.set_response_status(tlm::TLM_OK_RESPONSE); });
    step("response status set by the initiator");
    target.misbehave = [](tlm::tlm_generic_payload& gp) { gp.set_address(0); };
    self.read();
    step("target changes the address");
    target.misbehave = [](tlm::tlm_generic_payload& gp) {
      gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    };
    self.read();
    step("target sets no response");
    target.misbehave = {};
  });
  ini.socket.bind(checker.target_socket);
  checker.initiator_socket.bind(target.socket);
  sc_core::sc_start();
  CHECK(legal_delay == sc_core::sc_time(15, sc_core::SC_NS));  // the target's 10 ns added, only
  REQUIRE(counts.size() == 7);
  CHECK(counts[0].second == 0);  // the legal read
  CHECK(counts[1].second == 1);
  CHECK(counts[2].second == 3);  // data length and streaming width
  CHECK(counts[3].second == 4);
  CHECK(counts[4].second == 5);
  CHECK(counts[5].second == 6);
  CHECK(counts[6].second == 7);
  CHECK(checker.transactions() == 7);
  const auto& m = checker.messages();
  REQUIRE(m.size() == 7);
  CHECK_THAT(m[0], Contains("data pointer (IEEE 1666-2011 14.11)") && Contains("checker") &&
                       Contains("read of 64 bytes at 0x40"));
  CHECK_THAT(m[1], Contains("data length (IEEE 1666-2011 14.12)"));
  CHECK_THAT(m[2], Contains("streaming width (IEEE 1666-2011 14.15)"));
  CHECK_THAT(m[3], Contains("byte enables"));
  CHECK_THAT(m[4], Contains("response status") && Contains("TLM_INCOMPLETE_RESPONSE"));
  CHECK_THAT(m[5], Contains("the target changed the address"));
  CHECK_THAT(m[6], Contains("without setting the response status"));
}

TEST_CASE("protocol checker: policy error stops the simulation at the first violation",
          "[protocol]") {
  MEMTEST_ISOLATE();
  LtTarget target("target");
  ProtocolChecker checker("checker", ProtocolChecker::Policy::error);
  std::string caught;
  Initiator ini("ini", [&](Initiator& self) {
    try {
      self.read([](tlm::tlm_generic_payload& gp) { gp.set_data_ptr(nullptr); });
    } catch (const sc_core::sc_report& r) {
      caught = r.what();
    }
  });
  ini.socket.bind(checker.target_socket);
  checker.initiator_socket.bind(target.socket);
  sc_core::sc_start();
  CHECK_THAT(caught, Contains("TLM-2.0 base protocol violation") && Contains("data pointer"));
}

TEST_CASE(
    "protocol checker: a legal AT exchange with an AT memory passes, and bad phase sequences "
    "are caught",
    "[protocol]") {
  MEMTEST_ISOLATE();
  testbench::AtMemoryTarget mem("mem", 1 << 20, sc_core::sc_time(20, sc_core::SC_NS), 8.0);
  ProtocolChecker checker("checker");
  Pool pool;
  std::vector<uint64_t> after;
  int responses = 0;
  Initiator ini("ini", [&](Initiator& self) {
    sc_core::sc_event done;
    self.bw = [&](tlm::tlm_generic_payload&, tlm::tlm_phase& phase) {
      if (phase == tlm::BEGIN_RESP) {
        ++responses;
        done.notify();
        return tlm::TLM_COMPLETED;  // END_RESP implied
      }
      return tlm::TLM_ACCEPTED;
    };
    auto begin_req = [&](tlm::tlm_generic_payload& gp) {
      tlm::tlm_phase ph = tlm::BEGIN_REQ;
      sc_core::sc_time d = sc_core::SC_ZERO_TIME;
      return self.socket->nb_transport_fw(gp, ph, d);
    };
    // Two legal bursts, one after the other.
    for (int i = 0; i < 2; ++i) {
      tlm::tlm_generic_payload* gp = pool.get();
      gp->acquire();
      proto::set_transfer(*gp, i == 1, 64 * static_cast<uint64_t>(i), 64);
      begin_req(*gp);
      sc_core::wait(done);
      gp->release();
    }
    after.push_back(checker.violations());
    // No memory manager.
    {
      tlm::tlm_generic_payload gp;
      proto::set_transfer(gp, false, 0, 64);
      self.bw = [&](tlm::tlm_generic_payload&, tlm::tlm_phase&) {
        done.notify();
        return tlm::TLM_COMPLETED;
      };
      begin_req(gp);
      sc_core::wait(done);
    }
    after.push_back(checker.violations());
    // END_RESP for a transaction that never began.
    {
      tlm::tlm_generic_payload* gp = pool.get();
      gp->acquire();
      proto::set_transfer(*gp, false, 0, 64);
      tlm::tlm_phase ph = tlm::END_RESP;
      sc_core::sc_time d = sc_core::SC_ZERO_TIME;
      self.socket->nb_transport_fw(*gp, ph, d);
      gp->release();
    }
    after.push_back(checker.violations());
  });
  ini.socket.bind(checker.target_socket);
  checker.initiator_socket.bind(mem.socket);
  sc_core::sc_start();
  REQUIRE(after.size() == 3);
  CHECK(after[0] == 0);
  CHECK(responses == 2);
  CHECK(mem.bytes == 64 * 3);
  CHECK(after[1] == 1);
  CHECK(any_contains(checker.messages(), "memory manager"));
  CHECK(after[2] == 2);
  CHECK(any_contains(checker.messages(),
                     "END_RESP on nb_transport_fw for a transaction with no "
                     "BEGIN_REQ"));
}
