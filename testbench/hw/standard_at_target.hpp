// An approximately-timed memory target written the standard way (as the TLM-2.0 examples write
// theirs), for the testbenches of AT initiators: it keeps a pointer to each transaction from
// BEGIN_REQ until the transaction ends and NEVER calls acquire() or release(), relying on the
// initiator's hold (IEEE 1666-2011 14.5). It moves the data late, when it sends BEGIN_RESP, so
// an initiator that reuses a payload it still owes this target gets the wrong bytes.
//  * One request bus: a request is accepted accept_delay after its request time, not before the
//    previous one was; one data bus of bytes_per_ns after `latency`; responses in order, one at a
//    time (response exclusion).
//  * The phases by AtStyle (each a base-protocol path); the initiator may answer BEGIN_RESP with
//    TLM_COMPLETED, TLM_UPDATED with END_RESP, or TLM_ACCEPTED and a later END_RESP.
//  * Contents: a SparseDataStore (reads of unwritten bytes give 0); reads and writes within
//    [0, capacity), no byte enables, streaming width = data length; anything else gets the
//    standard error response (proto::check_access) with no data moved.
//  * Counters: requests, bytes, the most transactions held at once, and transactions seen with
//    a reference count of 0 while held (released by the initiator before they completed).
#pragma once
#include <tlm_utils/peq_with_cb_and_phase.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <set>

#include "acceltran/hw/memory/data_store.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran::testbench {

enum class AtStyle {
  four_phase,           // BEGIN_REQ: TLM_ACCEPTED; END_REQ, then BEGIN_RESP on the backward path
  two_phase,            // BEGIN_REQ: TLM_UPDATED with END_REQ; BEGIN_RESP on the backward path
  implied_end_request,  // BEGIN_REQ: TLM_ACCEPTED; BEGIN_RESP (END_REQ implied) backward
  updated_response,     // BEGIN_REQ: TLM_UPDATED with BEGIN_RESP at the response time
  early_completion      // BEGIN_REQ: TLM_COMPLETED with the response time in the delay
};

inline const char* to_string(AtStyle style) {
  switch (style) {
    case AtStyle::four_phase:
      return "four-phase";
    case AtStyle::two_phase:
      return "two-phase";
    case AtStyle::implied_end_request:
      return "implied END_REQ";
    case AtStyle::updated_response:
      return "TLM_UPDATED with BEGIN_RESP";
    case AtStyle::early_completion:
      return "early completion";
  }
  return "?";
}

struct StandardAtTarget : sc_core::sc_module {
  tlm_utils::simple_target_socket<StandardAtTarget> socket;
  SparseDataStore contents;
  uint64_t requests = 0, bytes = 0;
  uint64_t most_held = 0;           // transactions between BEGIN_REQ and their end, at most
  uint64_t released_too_early = 0;  // held transactions seen with reference count 0

  StandardAtTarget(sc_core::sc_module_name name, AtStyle style, uint64_t capacity_bytes,
                   sc_core::sc_time latency, double bytes_per_ns,
                   sc_core::sc_time accept_delay = sc_core::sc_time(5, sc_core::SC_NS))
      : sc_module(name),
        socket("socket"),
        style_(style),
        capacity_bytes_(capacity_bytes),
        latency_(latency),
        bytes_per_ns_(bytes_per_ns),
        accept_delay_(accept_delay),
        queue_(this, &StandardAtTarget::on_queue) {
    socket.register_nb_transport_fw(this, &StandardAtTarget::nb_transport_fw);
  }

 private:
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay) {
    if (phase == tlm::BEGIN_REQ) return begin_request(gp, phase, delay);
    if (phase == tlm::END_RESP) {
      if (&gp == responding_) end_response(gp);
      return tlm::TLM_COMPLETED;
    }
    return tlm::TLM_ACCEPTED;  // an ignorable phase
  }

  tlm::tlm_sync_enum begin_request(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                   sc_core::sc_time& delay) {
    ++requests;
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    const sc_core::sc_time accepted = std::max(now + delay, request_free_) + accept_delay_;
    request_free_ = accepted;
    const tlm::tlm_response_status status = proto::check_access(gp, capacity_bytes_);
    gp.set_response_status(status);
    sc_core::sc_time done = accepted + latency_;
    if (status == tlm::TLM_OK_RESPONSE) {
      bytes += gp.get_data_length();
      const sc_core::sc_time start = std::max(accepted, bus_free_);
      bus_free_ = start + sc_core::sc_time(gp.get_data_length() / bytes_per_ns_, sc_core::SC_NS);
      done = std::max(done, bus_free_ + latency_);
    }
    switch (style_) {
      case AtStyle::early_completion:
        move_data(gp);
        delay = done - now;
        return tlm::TLM_COMPLETED;
      case AtStyle::updated_response:
        move_data(gp);
        delay = done - now;
        phase = tlm::BEGIN_RESP;
        return tlm::TLM_UPDATED;
      case AtStyle::two_phase:
        hold(gp);
        queue_.notify(gp, tlm::BEGIN_RESP, done - now);
        delay = accepted - now;
        phase = tlm::END_REQ;
        return tlm::TLM_UPDATED;
      case AtStyle::four_phase:
        hold(gp);
        queue_.notify(gp, tlm::END_REQ, accepted - now);
        queue_.notify(gp, tlm::BEGIN_RESP, done - now);
        return tlm::TLM_ACCEPTED;
      case AtStyle::implied_end_request:
        hold(gp);
        queue_.notify(gp, tlm::BEGIN_RESP, done - now);
        return tlm::TLM_ACCEPTED;
    }
    return tlm::TLM_ACCEPTED;
  }

  void hold(tlm::tlm_generic_payload& gp) {
    held_.insert(&gp);
    most_held = std::max<uint64_t>(most_held, held_.size());
  }

  void move_data(tlm::tlm_generic_payload& gp) {
    if (!gp.is_response_ok()) return;
    copy_contents(contents, gp.get_command() == tlm::TLM_WRITE_COMMAND, gp.get_address(),
                  gp.get_data_ptr(), gp.get_data_length(), gp.get_data_length());
  }

  void on_queue(tlm::tlm_generic_payload& gp, const tlm::tlm_phase& phase) {
    if (gp.has_mm() && gp.get_ref_count() == 0) ++released_too_early;
    if (phase == tlm::END_REQ) {
      tlm::tlm_phase end = tlm::END_REQ;
      sc_core::sc_time zero = sc_core::SC_ZERO_TIME;
      socket->nb_transport_bw(gp, end, zero);  // the initiator answers TLM_ACCEPTED
      return;
    }
    if (responding_) {
      waiting_.push_back(&gp);
      return;
    }
    begin_response(gp);
  }

  void begin_response(tlm::tlm_generic_payload& gp) {
    responding_ = &gp;
    move_data(gp);
    tlm::tlm_phase phase = tlm::BEGIN_RESP;
    sc_core::sc_time zero = sc_core::SC_ZERO_TIME;
    const tlm::tlm_sync_enum r = socket->nb_transport_bw(gp, phase, zero);
    if (r == tlm::TLM_COMPLETED || (r == tlm::TLM_UPDATED && phase == tlm::END_RESP))
      end_response(gp);
  }

  void end_response(tlm::tlm_generic_payload& gp) {
    held_.erase(&gp);
    responding_ = nullptr;
    if (waiting_.empty()) return;
    tlm::tlm_generic_payload* next = waiting_.front();
    waiting_.pop_front();
    queue_.notify(*next, tlm::BEGIN_RESP, sc_core::SC_ZERO_TIME);
  }

  AtStyle style_;
  uint64_t capacity_bytes_;
  sc_core::sc_time latency_;
  double bytes_per_ns_;
  sc_core::sc_time accept_delay_;
  tlm_utils::peq_with_cb_and_phase<StandardAtTarget> queue_;
  sc_core::sc_time request_free_ = sc_core::SC_ZERO_TIME, bus_free_ = sc_core::SC_ZERO_TIME;
  tlm::tlm_generic_payload* responding_ = nullptr;
  std::deque<tlm::tlm_generic_payload*> waiting_;
  std::set<const tlm::tlm_generic_payload*> held_;
};

}  // namespace acceltran::testbench
