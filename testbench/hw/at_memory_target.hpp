// A small approximately-timed (AT) memory target for the testbenches: the TLM-2.0 base protocol
// with all four phases, as a third-party memory model would speak it.
//  * BEGIN_REQ: accepted at once (TLM_UPDATED, END_REQ); the data transfer is scheduled on one
//    data bus of `bytes_per_ns` after `latency`; requests are served in order.
//  * BEGIN_RESP on the backward path when the data are through; the initiator answers
//    TLM_COMPLETED or TLM_ACCEPTED and then END_RESP. One response in flight at a time
//    (response exclusion): later ones wait.
//  * With `early_completion`, BEGIN_REQ is answered TLM_COMPLETED at once with the response time
//    in the annotated delay (the base protocol's early completion): no phase needs time to
//    pass, as the control block requires of the DMA today.
//  * Only reads and writes within [0, capacity) without byte enables, streaming width = length;
//    anything else gets the standard error response (proto::check_access).
// The target acquires a transaction (memory manager) while it holds it.
#pragma once
#include <tlm_utils/peq_with_cb_and_phase.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <algorithm>
#include <cstdint>
#include <deque>

#include "acceltran/tlm/protocol.hpp"

namespace acceltran::testbench {

struct AtMemoryTarget : sc_core::sc_module {
  tlm_utils::simple_target_socket<AtMemoryTarget> socket;
  uint64_t capacity_bytes;
  sc_core::sc_time latency;
  double bytes_per_ns;
  bool early_completion;
  uint64_t requests = 0, bytes = 0;

  AtMemoryTarget(sc_core::sc_module_name n, uint64_t capacity, sc_core::sc_time lat,
                 double bytes_per_ns_, bool early = false)
      : sc_module(n),
        socket("socket"),
        capacity_bytes(capacity),
        latency(lat),
        bytes_per_ns(bytes_per_ns_),
        early_completion(early),
        peq_(this, &AtMemoryTarget::on_peq) {
    socket.register_nb_transport_fw(this, &AtMemoryTarget::nb_transport_fw);
  }

 private:
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay) {
    if (phase == tlm::BEGIN_REQ) {
      if (gp.has_mm() && !early_completion) gp.acquire();
      ++requests;
      const tlm::tlm_response_status st = proto::check_access(gp, capacity_bytes);
      gp.set_response_status(st);
      sc_core::sc_time start = std::max(sc_core::sc_time_stamp() + delay, bus_free_);
      sc_core::sc_time done = start + latency;
      if (st == tlm::TLM_OK_RESPONSE) {
        bytes += gp.get_data_length();
        done += sc_core::sc_time(gp.get_data_length() / bytes_per_ns, sc_core::SC_NS);
        bus_free_ = done - latency;
      }
      if (early_completion) {
        delay = done - sc_core::sc_time_stamp();
        return tlm::TLM_COMPLETED;
      }
      peq_.notify(gp, tlm::BEGIN_RESP, done - sc_core::sc_time_stamp());
      phase = tlm::END_REQ;
      return tlm::TLM_UPDATED;
    }
    if (phase == tlm::END_RESP) {
      if (&gp == responding_) finish(gp);
      return tlm::TLM_COMPLETED;
    }
    return tlm::TLM_ACCEPTED;  // not reached with a base-protocol initiator
  }

  void on_peq(tlm::tlm_generic_payload& gp, const tlm::tlm_phase&) {
    if (responding_)
      waiting_.push_back(&gp);
    else
      respond(gp);
  }

  void respond(tlm::tlm_generic_payload& gp) {
    responding_ = &gp;
    tlm::tlm_phase phase = tlm::BEGIN_RESP;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    if (socket->nb_transport_bw(gp, phase, delay) == tlm::TLM_COMPLETED) finish(gp);
  }

  void finish(tlm::tlm_generic_payload& gp) {
    responding_ = nullptr;
    if (gp.has_mm()) gp.release();
    if (!waiting_.empty()) {
      tlm::tlm_generic_payload* next = waiting_.front();
      waiting_.pop_front();
      peq_.notify(*next, tlm::BEGIN_RESP, sc_core::SC_ZERO_TIME);
    }
  }

  tlm_utils::peq_with_cb_and_phase<AtMemoryTarget> peq_;
  sc_core::sc_time bus_free_ = sc_core::SC_ZERO_TIME;
  tlm::tlm_generic_payload* responding_ = nullptr;
  std::deque<tlm::tlm_generic_payload*> waiting_;
};

}  // namespace acceltran::testbench
