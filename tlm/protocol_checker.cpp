#include "acceltran/tlm/protocol_checker.hpp"

#include <algorithm>
#include <cstdio>

namespace acceltran::proto {

namespace {
std::string transaction(const tlm::tlm_generic_payload& gp) {
  const tlm::tlm_command c = gp.get_command();
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s of %u bytes at 0x%llx",
                c == tlm::TLM_READ_COMMAND     ? "read"
                : c == tlm::TLM_WRITE_COMMAND  ? "write"
                : c == tlm::TLM_IGNORE_COMMAND ? "ignore"
                                               : "unknown command",
                gp.get_data_length(), static_cast<unsigned long long>(gp.get_address()));
  return buf;
}
const char* phase_name(const tlm::tlm_phase& p) {
  return p == tlm::BEGIN_REQ    ? "BEGIN_REQ"
         : p == tlm::END_REQ    ? "END_REQ"
         : p == tlm::BEGIN_RESP ? "BEGIN_RESP"
         : p == tlm::END_RESP   ? "END_RESP"
                                : "an unknown phase";
}
}  // namespace

ProtocolChecker::Attributes::Attributes(const tlm::tlm_generic_payload& gp)
    : command(gp.get_command()),
      address(gp.get_address()),
      data(gp.get_data_ptr()),
      length(gp.get_data_length()),
      streaming_width(gp.get_streaming_width()),
      byte_enable_length(gp.get_byte_enable_length()),
      byte_enables(gp.get_byte_enable_ptr()) {}

ProtocolChecker::ProtocolChecker(sc_core::sc_module_name name, Policy policy)
    : sc_module(name),
      target_socket("target_socket"),
      initiator_socket("initiator_socket"),
      policy_(policy) {
  target_socket.register_b_transport(this, &ProtocolChecker::b_transport);
  target_socket.register_nb_transport_fw(this, &ProtocolChecker::nb_transport_fw);
  target_socket.register_transport_dbg(this, &ProtocolChecker::transport_dbg);
  target_socket.register_get_direct_mem_ptr(this, &ProtocolChecker::get_direct_mem_ptr);
  initiator_socket.register_nb_transport_bw(this, &ProtocolChecker::nb_transport_bw);
  initiator_socket.register_invalidate_direct_mem_ptr(this,
                                                      &ProtocolChecker::invalidate_direct_mem_ptr);
}

void ProtocolChecker::violation(const std::string& rule, const std::string& what,
                                const tlm::tlm_generic_payload* gp) {
  ++violations_;
  std::string m = rule + ": " + what + " (" + name();
  if (gp) m += ", " + transaction(*gp);
  m += ")";
  if (policy_ == Policy::error)
    SC_REPORT_ERROR("acceltran/protocol_checker",
                    ("TLM-2.0 base protocol violation: " + m).c_str());
  if (messages_.size() < kMaxMessages) messages_.push_back(std::move(m));
}

void ProtocolChecker::check_request(const tlm::tlm_generic_payload& gp, const char* call) {
  const std::string on = std::string(" on ") + call;
  const tlm::tlm_command c = gp.get_command();
  if (c != tlm::TLM_READ_COMMAND && c != tlm::TLM_WRITE_COMMAND && c != tlm::TLM_IGNORE_COMMAND)
    violation("command", "not a read, write or ignore command" + on, &gp);
  if (!gp.get_data_ptr())
    violation("data pointer (IEEE 1666-2011 14.11)", "the data pointer is null" + on, &gp);
  if (gp.get_data_length() == 0)
    violation("data length (IEEE 1666-2011 14.12)", "the data length is 0" + on, &gp);
  if (gp.get_byte_enable_ptr() && gp.get_byte_enable_length() == 0)
    violation("byte enables", "a byte-enable pointer with a byte-enable length of 0" + on, &gp);
  if (gp.get_streaming_width() == 0)
    violation("streaming width (IEEE 1666-2011 14.15)", "the streaming width is 0" + on, &gp);
  if (gp.get_response_status() != tlm::TLM_INCOMPLETE_RESPONSE)
    violation("response status", "the initiator did not set TLM_INCOMPLETE_RESPONSE before" + on,
              &gp);
}

void ProtocolChecker::check_unchanged(const Attributes& b, const tlm::tlm_generic_payload& gp,
                                      const char* call) {
  const Attributes a(gp);
  const char* changed = a.command != b.command                         ? "command"
                        : a.address != b.address                       ? "address"
                        : a.data != b.data                             ? "data pointer"
                        : a.length != b.length                         ? "data length"
                        : a.streaming_width != b.streaming_width       ? "streaming width"
                        : a.byte_enables != b.byte_enables             ? "byte-enable pointer"
                        : a.byte_enable_length != b.byte_enable_length ? "byte-enable length"
                                                                       : nullptr;
  if (changed)
    violation("attribute modifiability",
              std::string("the target changed the ") + changed + " during " + call, &gp);
}

void ProtocolChecker::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  ++transactions_;
  check_request(gp, "b_transport");
  if (std::find(in_b_transport_.begin(), in_b_transport_.end(), &gp) != in_b_transport_.end() ||
      nb_.count(&gp))
    violation("transaction reuse", "b_transport of a transaction still in progress", &gp);
  const Attributes before(gp);
  in_b_transport_.push_back(&gp);
  initiator_socket->b_transport(gp, delay);
  in_b_transport_.erase(std::find(in_b_transport_.begin(), in_b_transport_.end(), &gp));
  check_unchanged(before, gp, "b_transport");
  if (gp.get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE)
    violation("response status",
              "the target returned from b_transport without setting the response status", &gp);
}

void ProtocolChecker::on_completed(tlm::tlm_generic_payload& gp, const char* call) {
  if (!nb_.count(&gp)) return;  // not a transaction in progress: already reported
  if (gp.get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE)
    violation("response status",
              std::string("TLM_COMPLETED without a response status from ") + call, &gp);
  if (request_in_progress_ == &gp) request_in_progress_ = nullptr;
  if (response_in_progress_ == &gp) response_in_progress_ = nullptr;
  nb_.erase(&gp);
}

// The initiator's hold on a transaction in progress, and the time order of its phases.
void ProtocolChecker::check_held_and_timed(const tlm::tlm_generic_payload& gp, NbState& state,
                                           const std::string& where,
                                           const sc_core::sc_time& delay) {
  if (gp.has_mm() && gp.get_ref_count() == 0)
    violation("memory manager (IEEE 1666-2011 14.5)",
              where + " of a transaction with reference count 0 (released before it completed)",
              &gp);
  const sc_core::sc_time at = sc_core::sc_time_stamp() + delay;
  if (at < state.at)
    violation("timing annotation (IEEE 1666-2011 15.2.7)",
              where + " annotated earlier than the previous phase of the transaction", &gp);
  state.at = at;
}

void ProtocolChecker::on_phase(tlm::tlm_generic_payload& gp, const tlm::tlm_phase& phase,
                               bool from_initiator, const char* call,
                               const sc_core::sc_time& delay) {
  const std::string where = std::string(phase_name(phase)) + " on " + call;
  auto it = nb_.find(&gp);
  if (from_initiator && phase == tlm::BEGIN_REQ) {
    ++transactions_;
    check_request(gp, call);
    if (!gp.has_mm())
      violation("memory manager", "a transaction passed through nb_transport has no memory manager",
                &gp);
    if (it != nb_.end())
      violation("phase sequence", "BEGIN_REQ of a transaction already in progress", &gp);
    if (request_in_progress_)
      violation("request exclusion",
                "BEGIN_REQ before the END_REQ (or BEGIN_RESP) of the previous request", &gp);
    NbState& state = nb_[&gp];
    state = NbState{tlm::BEGIN_REQ, true, sc_core::SC_ZERO_TIME};
    check_held_and_timed(gp, state, where, delay);
    request_in_progress_ = &gp;
    return;
  }
  if (it == nb_.end()) {
    violation("phase sequence", where + " for a transaction with no BEGIN_REQ", &gp);
    return;
  }
  NbState& s = it->second;
  check_held_and_timed(gp, s, where, delay);
  if (from_initiator && phase == tlm::END_RESP) {
    if (s.phase != tlm::BEGIN_RESP) violation("phase sequence", where + " before BEGIN_RESP", &gp);
    if (response_in_progress_ == &gp) response_in_progress_ = nullptr;
    nb_.erase(it);
  } else if (!from_initiator && phase == tlm::END_REQ) {
    if (s.phase != tlm::BEGIN_REQ) violation("phase sequence", where + " not after BEGIN_REQ", &gp);
    s.phase = tlm::END_REQ;
    s.request_open = false;
    if (request_in_progress_ == &gp) request_in_progress_ = nullptr;
  } else if (!from_initiator && phase == tlm::BEGIN_RESP) {
    if (s.phase != tlm::BEGIN_REQ && s.phase != tlm::END_REQ)
      violation("phase sequence", where + " not after BEGIN_REQ or END_REQ", &gp);
    if (response_in_progress_ && response_in_progress_ != &gp)
      violation("response exclusion", where + " before the END_RESP of the previous response", &gp);
    if (gp.get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE)
      violation("response status", where + " without a response status", &gp);
    s.phase = tlm::BEGIN_RESP;
    s.request_open = false;  // BEGIN_RESP implies END_REQ
    if (request_in_progress_ == &gp) request_in_progress_ = nullptr;
    response_in_progress_ = &gp;
  } else {
    violation("phase sequence",
              where + (from_initiator ? " sent by the initiator" : " sent by the target"), &gp);
  }
}

tlm::tlm_sync_enum ProtocolChecker::nb_transport_fw(tlm::tlm_generic_payload& gp,
                                                    tlm::tlm_phase& phase,
                                                    sc_core::sc_time& delay) {
  on_phase(gp, phase, true, "nb_transport_fw", delay);
  const Attributes before(gp);
  const tlm::tlm_phase sent = phase;
  const tlm::tlm_sync_enum r = initiator_socket->nb_transport_fw(gp, phase, delay);
  check_unchanged(before, gp, "nb_transport_fw");
  if (r == tlm::TLM_UPDATED)
    on_phase(gp, phase, false, "the return path of nb_transport_fw", delay);
  else if (r == tlm::TLM_COMPLETED)
    on_completed(gp, "the target");
  else if (phase != sent)
    violation("phase sequence", "TLM_ACCEPTED with a changed phase on nb_transport_fw", &gp);
  return r;
}

tlm::tlm_sync_enum ProtocolChecker::nb_transport_bw(tlm::tlm_generic_payload& gp,
                                                    tlm::tlm_phase& phase,
                                                    sc_core::sc_time& delay) {
  on_phase(gp, phase, false, "nb_transport_bw", delay);
  const tlm::tlm_phase sent = phase;
  const tlm::tlm_sync_enum r = target_socket->nb_transport_bw(gp, phase, delay);
  if (r == tlm::TLM_UPDATED)
    on_phase(gp, phase, true, "the return path of nb_transport_bw", delay);
  else if (r == tlm::TLM_COMPLETED)
    on_completed(gp, "the initiator");
  else if (phase != sent)
    violation("phase sequence", "TLM_ACCEPTED with a changed phase on nb_transport_bw", &gp);
  return r;
}

unsigned int ProtocolChecker::transport_dbg(tlm::tlm_generic_payload& gp) {
  const tlm::tlm_command c = gp.get_command();
  if (c != tlm::TLM_READ_COMMAND && c != tlm::TLM_WRITE_COMMAND && c != tlm::TLM_IGNORE_COMMAND)
    violation("debug transport", "not a read, write or ignore command", &gp);
  if (gp.get_data_length() > 0 && !gp.get_data_ptr())
    violation("debug transport", "a data length with a null data pointer", &gp);
  const unsigned length = gp.get_data_length();
  const unsigned n = initiator_socket->transport_dbg(gp);
  if (n > length)
    violation("debug transport", "the target reported more bytes than the data length", &gp);
  return n;
}

bool ProtocolChecker::get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi) {
  const tlm::tlm_command c = gp.get_command();
  if (c != tlm::TLM_READ_COMMAND && c != tlm::TLM_WRITE_COMMAND)
    violation("DMI", "a DMI request that is not a read or a write", &gp);
  const uint64_t address = gp.get_address();
  const bool granted = initiator_socket->get_direct_mem_ptr(gp, dmi);
  if (granted &&
      (!dmi.get_dmi_ptr() || dmi.get_start_address() > address || dmi.get_end_address() < address))
    violation("DMI", "a granted DMI region without a pointer or not containing the address", &gp);
  return granted;
}

void ProtocolChecker::invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end) {
  if (start > end) violation("DMI", "invalidate_direct_mem_ptr with start > end", nullptr);
  target_socket->invalidate_direct_mem_ptr(start, end);
}

uint64_t ProtocolCheckers::transactions() const {
  uint64_t n = 0;
  for (const auto& c : checkers_) n += c->transactions();
  return n;
}

uint64_t ProtocolCheckers::violations() const {
  uint64_t n = 0;
  for (const auto& c : checkers_) n += c->violations();
  return n;
}

std::string ProtocolCheckers::summary() const {
  return "protocol check: " + std::to_string(checkers_.size()) + " sockets, " +
         std::to_string(transactions()) + " transactions, " + std::to_string(violations()) +
         " violations";
}

ProtocolCheckers::~ProtocolCheckers() {
  if (report_ && enabled_) std::printf("  %s\n", summary().c_str());
}

}  // namespace acceltran::proto
