// A TLM-2.0 base-protocol checker: a pass-through module placed between an initiator socket and
// a target socket (initiator -> target_socket, initiator_socket -> target). It forwards every
// call unchanged (b_transport, nb_transport both ways, transport_dbg, DMI and its invalidation),
// so a run with checkers gives the same figures as one without, and checks the rules of the
// base protocol (IEEE 1666-2011 TLM-2.0 generic payload, base protocol, debug transport and DMI;
// see docs/architecture.md):
//  * attributes the initiator must set: data pointer not null, data length > 0, streaming
//    width > 0, byte-enable length > 0 when a byte-enable pointer is given, a known command,
//    response status TLM_INCOMPLETE_RESPONSE on entry;
//  * attributes the target must not modify (command, address, data pointer, data length,
//    byte-enable pointer and length, streaming width) and the response status it must set;
//  * a transaction is not sent again while it is still in progress on this socket;
//  * nb_transport: a memory manager, and a reference count above 0 at every phase (IEEE
//    1666-2011 14.5: the initiator holds the transaction until it completes, whether or not the
//    target acquires it), the phase sequence BEGIN_REQ, END_REQ, BEGIN_RESP, END_RESP (END_REQ
//    may be implied by BEGIN_RESP; TLM_COMPLETED ends the transaction), the request and response
//    exclusion rules, timing annotations that never go back in time within a transaction
//    (15.2.7), attributes unchanged from BEGIN_REQ to BEGIN_RESP;
//  * transport_dbg: a read, write or ignore command, a data pointer for a non-zero length, at most
//    data-length bytes reported; DMI: a granted region contains the address and has a pointer.
// Each violation is counted and described (rule, socket, transaction). Policy `count` keeps
// them (messages()); policy `error` raises SC_REPORT_ERROR at the first one (the simulation
// stops with that message).
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace acceltran::proto {

class ProtocolChecker : public sc_core::sc_module {
 public:
  enum class Policy { count, error };

  tlm_utils::simple_target_socket<ProtocolChecker> target_socket;        // from the initiator
  tlm_utils::simple_initiator_socket<ProtocolChecker> initiator_socket;  // to the target

  explicit ProtocolChecker(sc_core::sc_module_name name, Policy policy = Policy::count);

  uint64_t transactions() const { return transactions_; }  // b_transport + nb BEGIN_REQ
  uint64_t violations() const { return violations_; }
  // The first kMaxMessages violation messages, each "rule: what (socket, transaction)".
  static constexpr size_t kMaxMessages = 100;
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  // What the initiator set, to see whether the target changed it.
  struct Attributes {
    tlm::tlm_command command;
    uint64_t address;
    unsigned char* data;
    unsigned length, streaming_width, byte_enable_length;
    unsigned char* byte_enables;
    explicit Attributes(const tlm::tlm_generic_payload& gp);
  };
  struct NbState {
    tlm::tlm_phase phase;  // last phase seen on this transaction
    bool request_open;     // BEGIN_REQ seen, END_REQ not yet
    sc_core::sc_time at;   // the time of that phase (now + its annotated delay)
  };

  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& gp);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);
  void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end);

  void check_request(const tlm::tlm_generic_payload& gp, const char* call);
  void check_unchanged(const Attributes& before, const tlm::tlm_generic_payload& gp,
                       const char* call);
  // A phase passed (forward or backward) or returned (TLM_UPDATED / TLM_COMPLETED).
  // `delay`: the phase's timing annotation.
  void on_phase(tlm::tlm_generic_payload& gp, const tlm::tlm_phase& phase, bool forward,
                const char* call, const sc_core::sc_time& delay);
  void check_held_and_timed(const tlm::tlm_generic_payload& gp, NbState& state,
                            const std::string& where, const sc_core::sc_time& delay);
  void on_completed(tlm::tlm_generic_payload& gp, const char* call);
  void violation(const std::string& rule, const std::string& what,
                 const tlm::tlm_generic_payload* gp);

  Policy policy_;
  uint64_t transactions_ = 0, violations_ = 0;
  std::vector<std::string> messages_;
  std::vector<const tlm::tlm_generic_payload*> in_b_transport_;
  std::unordered_map<const tlm::tlm_generic_payload*, NbState> nb_;
  const tlm::tlm_generic_payload* request_in_progress_ = nullptr;   // request exclusion
  const tlm::tlm_generic_payload* response_in_progress_ = nullptr;  // response exclusion
};

// Connects initiator sockets to target sockets, with a ProtocolChecker between each pair when
// enabled (`acceltran simulate --check-protocol`), directly otherwise. With `report`, the
// destructor prints one line: sockets, transactions and violations of all its checkers.
class ProtocolCheckers {
 public:
  explicit ProtocolCheckers(bool enabled = false,
                            ProtocolChecker::Policy policy = ProtocolChecker::Policy::error,
                            bool report = false)
      : enabled_(enabled), report_(report), policy_(policy) {}
  ~ProtocolCheckers();
  ProtocolCheckers(const ProtocolCheckers&) = delete;
  ProtocolCheckers& operator=(const ProtocolCheckers&) = delete;

  // `name`: the checker's sc_module name (unique in its parent module).
  template <typename Initiator, typename Target>
  void connect(Initiator& initiator, Target& target, const char* name) {
    if (!enabled_) {
      initiator.bind(target);
      return;
    }
    checkers_.push_back(std::make_unique<ProtocolChecker>(name, policy_));
    initiator.bind(checkers_.back()->target_socket);
    checkers_.back()->initiator_socket.bind(target);
  }
  bool enabled() const { return enabled_; }
  const std::vector<std::unique_ptr<ProtocolChecker>>& checkers() const { return checkers_; }
  uint64_t transactions() const;
  uint64_t violations() const;
  std::string summary() const;  // "protocol check: 17 sockets, 1234 transactions, 0 violations"

 private:
  bool enabled_, report_;
  ProtocolChecker::Policy policy_;
  std::vector<std::unique_ptr<ProtocolChecker>> checkers_;
};

}  // namespace acceltran::proto
