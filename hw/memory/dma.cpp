#include "dma.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace acceltran {

Dma::Dma(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const Technology& tech,
         const MemoryTimingTable& timing, const SimOptions& opts, const DmaOptions& dopts)
    : sc_module(name),
      socket("socket"),
      memory_socket("memory_socket"),
      activation_socket("activation_socket"),
      weight_socket("weight_socket"),
      mask_socket("mask_socket"),
      clock_mhz_(tech.clock_mhz),
      burst_bytes_(dopts.burst_bytes) {
  int n = dopts.engines > 0 ? dopts.engines : cfg.pe;
  if (n <= 0) throw InputError(fmt::format("dma: engine count {} must be > 0", n));
  engine_free_cycle_.assign(static_cast<size_t>(n), 0);
  // The published simulator has no DMA setup latency: none in the reference profile.
  setup_cycles_ = dopts.setup_cycles >= 0              ? static_cast<uint64_t>(dopts.setup_cycles)
                  : opts.profile == Profile::reference ? 0
                                                       : timing.dma_setup_cycles;
  nj_per_busy_cycle_ = tech.nj_per_cycle(tech.dma.dynamic_mw + tech.dma.leakage_mw);
  socket.register_b_transport(this, &Dma::b_transport);
  memory_socket.register_nb_transport_bw(this, &Dma::nb_transport_bw);
  sub_gp_.set_extension(&sub_ext_);
}

Dma::~Dma() {
  sub_gp_.clear_extension(&sub_ext_);
}

sc_core::sc_time Dma::issue(tlm_utils::simple_initiator_socket<Dma>& s, bool write,
                            uint64_t address, uint64_t bytes, const proto::TransferExt& ext,
                            sc_core::sc_time at, unsigned char* data) {
  sc_core::sc_time now = sc_core::sc_time_stamp();
  if (bytes == 0 || failed()) return at;
  if (burst_bytes_ > 0 && &s == &memory_socket)
    return issue_bursts(write, address, bytes, ext, at, data);
  sub_ext_ = ext;
  proto::set_transfer(sub_gp_, write, address, static_cast<unsigned int>(bytes));
  if (data) sub_gp_.set_data_ptr(data);
  sc_core::sc_time d = at - now;
  s->b_transport(sub_gp_, d);
  if (sub_gp_.is_response_error()) {
    last_error_ = fmt::format("{}: {} answered {} to a {}", name(), s.name(),
                              sub_gp_.get_response_string(), proto::describe(sub_gp_));
    return at;
  }
  return now + d;
}

// ---------------------------------------------------------------- AT burst option
proto::TransferExt* Dma::BurstPool::ext_of(tlm::tlm_generic_payload& gp) {
  return gp.get_extension<proto::TransferExt>();
}

tlm::tlm_generic_payload* Dma::BurstPool::get() {
  if (idle.empty()) {  // grows to the most bursts in flight at once, then reuses them
    auto* gp = new tlm::tlm_generic_payload(this);
    gp->set_extension(new proto::TransferExt);
    all.push_back(gp);
    idle.push_back(gp);
  }
  tlm::tlm_generic_payload* gp = idle.back();
  idle.pop_back();
  return gp;
}

Dma::BurstPool::~BurstPool() {
  for (auto* gp : all) delete gp;  // deletes its TransferExt too
}

sc_core::sc_time Dma::issue_bursts(bool write, uint64_t address, uint64_t bytes,
                                   const proto::TransferExt& ext, sc_core::sc_time at,
                                   unsigned char* contents) {
  unsigned char* data = contents ? contents : proto::scratch_data(bytes);
  last_response_ = at;
  for (uint64_t off = 0; off < bytes && !failed(); off += burst_bytes_) {
    while (request_open_) sc_core::wait(end_req_);  // request exclusion
    const unsigned n = static_cast<unsigned>(std::min<uint64_t>(burst_bytes_, bytes - off));
    tlm::tlm_generic_payload* gp = pool_.get();
    gp->acquire();
    *pool_.ext_of(*gp) = ext;
    proto::set_transfer(*gp, write, address + off, n);
    gp->set_data_ptr(data + off);
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    sc_core::sc_time d = at > now ? at - now : sc_core::SC_ZERO_TIME;
    request_open_ = true;
    ++responses_due_;
    const tlm::tlm_sync_enum r = memory_socket->nb_transport_fw(*gp, phase, d);
    if (r == tlm::TLM_COMPLETED) {  // early completion: the response is due at now + d
      request_open_ = false;
      on_response(*gp, now + d);
    } else if (r == tlm::TLM_UPDATED && phase == tlm::END_REQ) {
      request_open_ = false;
    } else if (r == tlm::TLM_UPDATED && phase == tlm::BEGIN_RESP) {
      request_open_ = false;  // BEGIN_RESP implies END_REQ; END_RESP on the forward path
      on_response(*gp, now + d);
      tlm::tlm_phase end = tlm::END_RESP;
      sc_core::sc_time z = sc_core::SC_ZERO_TIME;
      memory_socket->nb_transport_fw(*gp, end, z);
    }
    gp->release();
  }
  // A target that answers later (BEGIN_RESP on the backward path) makes the command wait.
  while (responses_due_ > 0) sc_core::wait(response_);
  return last_response_;
}

void Dma::on_response(tlm::tlm_generic_payload& gp, const sc_core::sc_time& when) {
  if (gp.is_response_error() && !failed()) {
    sub_gp_.set_response_status(gp.get_response_status());
    last_error_ = fmt::format("{}: {} answered {} to a {}", name(), memory_socket.name(),
                              gp.get_response_string(), proto::describe(gp));
  }
  last_response_ = std::max(last_response_, when);
  --responses_due_;
  response_.notify();
}

tlm::tlm_sync_enum Dma::nb_transport_bw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                        sc_core::sc_time& delay) {
  if (phase == tlm::END_REQ) {
    request_open_ = false;
    end_req_.notify();
    return tlm::TLM_ACCEPTED;
  }
  if (phase == tlm::BEGIN_RESP) {
    if (request_open_) {  // BEGIN_RESP implies END_REQ
      request_open_ = false;
      end_req_.notify();
    }
    on_response(gp, sc_core::sc_time_stamp() + delay);
    return tlm::TLM_COMPLETED;  // response taken at once: END_RESP implied
  }
  return tlm::TLM_ACCEPTED;
}

void Dma::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<proto::TransferExt>();
  if (!ext || !is_memory(ext->opcode)) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  const bool load = ext->opcode == Opcode::LOAD_W || ext->opcode == Opcode::LOAD_A;
  const unsigned len = gp.get_data_length();
  tlm::tlm_response_status st = tlm::TLM_OK_RESPONSE;
  if (gp.get_command() != (load ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND))
    st = tlm::TLM_COMMAND_ERROR_RESPONSE;
  else if (len == 0 || gp.get_streaming_width() != len)
    st = tlm::TLM_BURST_ERROR_RESPONSE;
  else if (gp.get_byte_enable_ptr() || gp.get_byte_enable_length())
    st = tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE;
  else if (!gp.get_data_ptr())
    st = tlm::TLM_GENERIC_ERROR_RESPONSE;
  if (st != tlm::TLM_OK_RESPONSE) {
    gp.set_response_status(st);
    return;
  }
  sub_gp_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  last_error_.clear();
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  // Request cycle: the first clock edge at or after the request time.
  uint64_t req =
      static_cast<uint64_t>(std::ceil((now + delay).to_seconds() * clock_mhz_ * 1e6 - 1e-3));
  auto eng = std::min_element(engine_free_cycle_.begin(), engine_free_cycle_.end());
  uint64_t start = std::max(req, *eng);
  sc_core::sc_time at = proto::cycles_to_time(start + setup_cycles_, clock_mhz_);
  const uint64_t data = ext->data_bytes;
  const uint64_t mask = ext->mask_bytes;
  const uint64_t addr = gp.get_address();
  // Functional runs: the command's data array is the part (data, then mask); it travels on.
  unsigned char* contents = nullptr;
  if (ext->contents) {
    if (gp.get_data_length() < data + mask) {
      gp.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
      return;
    }
    contents = gp.get_data_ptr();
  }
  sc_core::sc_time done = at;
  auto later = [&](const sc_core::sc_time& t) { done = std::max(done, t); };
  switch (ext->opcode) {
    case Opcode::LOAD_W:
    case Opcode::LOAD_A: {
      auto& buf = ext->opcode == Opcode::LOAD_W ? weight_socket : activation_socket;
      if (contents) {  // functional: the part's bytes come from memory, then go to the buffers
        later(issue(memory_socket, false, addr, data + mask, *ext, at, contents));
        later(issue(buf, true, 0, data, *ext, at, contents));
        later(issue(mask_socket, true, 0, mask, *ext, at, contents + data));
      } else {
        // Buffers first: a transfer a buffer rejects (too large) leaves the memory untouched.
        later(issue(buf, true, 0, data, *ext, at));
        later(issue(mask_socket, true, 0, mask, *ext, at));
        later(issue(memory_socket, false, addr, data + mask, *ext, at));
      }
      stats_.bytes_from_memory += data + mask;
      stats_.bytes_to_buffers += data + mask;
      break;
    }
    case Opcode::STORE_A:
      later(issue(activation_socket, true, 0, data, *ext, at, contents));
      later(issue(mask_socket, true, 0, mask, *ext, at, contents ? contents + data : nullptr));
      stats_.bytes_to_buffers += data + mask;
      break;
    case Opcode::SPILL:
    case Opcode::STORE_M:
      later(issue(activation_socket, false, 0, data, *ext, at, contents));
      later(issue(mask_socket, false, 0, mask, *ext, at, contents ? contents + data : nullptr));
      later(issue(memory_socket, true, addr, data + mask, *ext, at, contents));
      stats_.bytes_from_buffers += data + mask;
      stats_.bytes_to_memory += data + mask;
      break;
    default:
      gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return;
  }
  if (failed()) {  // a buffer or the memory refused: the command ends with its response
    gp.set_response_status(sub_gp_.get_response_status());
    return;
  }
  // Whole cycles at the block boundary: round the completion up to the next clock edge.
  uint64_t end = static_cast<uint64_t>(std::ceil(done.to_seconds() * clock_mhz_ * 1e6 - 1e-3));
  end = std::max(end, start + setup_cycles_);
  *eng = end;
  stats_.busy_engine_cycles += end - start;
  stats_.energy_nj += nj_per_busy_cycle_ * static_cast<double>(end - start);
  ++stats_.commands[static_cast<size_t>(ext->opcode)];
  // Commands overlapping this one in time (the ones still in flight at `start`).
  intervals_.erase(std::remove_if(intervals_.begin(), intervals_.end(),
                                  [&](const auto& iv) { return iv.second <= start; }),
                   intervals_.end());
  intervals_.emplace_back(start, end);
  stats_.max_in_flight = std::max<uint64_t>(stats_.max_in_flight, intervals_.size());
  sc_core::sc_time t_end = proto::cycles_to_time(end, clock_mhz_);
  const sc_core::sc_time now_after = sc_core::sc_time_stamp();  // later with AT bursts
  delay = t_end > now_after ? t_end - now_after : sc_core::SC_ZERO_TIME;
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace acceltran
