#include "acceltran/hw/memory/dma.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "acceltran/hw/memory/main_memory.hpp"

namespace acceltran {

Dma::Dma(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const Technology& tech,
         const MemoryTimingTable& timing, const SimOptions& opts, const DmaOptions& dopts)
    : sc_module(name),
      socket("socket"),
      fetch_socket("fetch_socket"),
      memory_socket("memory_socket"),
      activation_socket("activation_socket"),
      weight_socket("weight_socket"),
      mask_socket("mask_socket"),
      clock_mhz_(tech.clock_mhz),
      seed_buffers_on_store_(dopts.seed_buffers_on_store),
      burst_bytes_(dopts.burst_bytes) {
  int n = dopts.engines > 0 ? dopts.engines : cfg.pe;
  if (n <= 0) throw InputError(fmt::format("dma: engine count {} must be > 0", n));
  engine_free_cycle_.assign(static_cast<size_t>(n), 0);
  const MemoryPolicy policy = MemoryPolicy::for_profile(opts.profile);
  setup_cycles_ = dopts.setup_cycles >= 0    ? static_cast<uint64_t>(dopts.setup_cycles)
                  : policy.dma_setup_latency ? timing.dma_setup_cycles
                                             : 0;
  nj_per_busy_cycle_ = tech.nj_per_cycle(tech.dma.dynamic_mw + tech.dma.leakage_mw);
  socket.register_b_transport(this, &Dma::b_transport);
  fetch_socket.register_b_transport(this, &Dma::b_transport);
  memory_socket.register_nb_transport_bw(this, &Dma::nb_transport_bw);
  sub_gp_.set_extension(&sub_ext_);
}

Dma::~Dma() {
  sub_gp_.clear_extension(&sub_ext_);
}

sc_core::sc_time Dma::issue(tlm_utils::simple_initiator_socket<Dma>& s, bool write,
                            uint64_t address, uint64_t bytes, const proto::TransferExt& ext,
                            sc_core::sc_time at, unsigned char* data, uint64_t window) {
  sc_core::sc_time now = sc_core::sc_time_stamp();
  if (bytes == 0 || failed()) return at;
  if (&s == &memory_socket) {
    ++stats_.memory_transfers;
    stats_.memory_accesses_64b += MemoryTrace::bursts(address, bytes, kMainMemoryAccessBytes);
    stats_.memory_end_address = std::max(stats_.memory_end_address, address + bytes);
    if (memory_trace_) memory_trace_->record(cycle_at_or_after(at), write, address, bytes);
  }
  if (burst_bytes_ > 0 && &s == &memory_socket)
    return issue_bursts(write, address, bytes, ext, at, data);
  sub_ext_ = ext;
  proto::set_transfer(sub_gp_, write, address, static_cast<unsigned int>(bytes));
  if (data) sub_gp_.set_data_ptr(data);
  if (window > 0 && window < bytes) {
    window_enables_.assign(bytes, 0x00);
    std::fill(window_enables_.begin(), window_enables_.begin() + static_cast<long>(window), 0xff);
    sub_gp_.set_streaming_width(static_cast<unsigned int>(window));
    sub_gp_.set_byte_enable_ptr(window_enables_.data());
    sub_gp_.set_byte_enable_length(static_cast<unsigned int>(bytes));
  }
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
namespace {
sc_core::sc_time request_delay(const sc_core::sc_time& request, const sc_core::sc_time& now) {
  return request > now ? request - now : sc_core::SC_ZERO_TIME;
}
}  // namespace

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
    while (open_request_) sc_core::wait(end_req_);  // request exclusion
    const unsigned n = static_cast<unsigned>(std::min<uint64_t>(burst_bytes_, bytes - off));
    tlm::tlm_generic_payload* gp = pool_.get();
    gp->acquire();  // held until its transaction completes (complete()), whatever the target
    *pool_.ext_of(*gp) = ext;
    proto::set_transfer(*gp, write, address + off, n);
    gp->set_data_ptr(data + off);
    // Not before the previous request ended (an END_REQ may carry a delay).
    const sc_core::sc_time request = std::max(at, request_ends_);
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    sc_core::sc_time delay = request_delay(request, now);
    const sc_core::sc_time requested = now + delay;
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    open_request_ = gp;
    ++responses_due_;
    const tlm::tlm_sync_enum r = memory_socket->nb_transport_fw(*gp, phase, delay);
    on_forward_return(*gp, r, phase, requested, now + delay);
  }
  // A target that answers later (BEGIN_RESP on the backward path) makes the command wait.
  while (responses_due_ > 0) sc_core::wait(response_);
  return last_response_;
}

// What the return of a burst's BEGIN_REQ (sent for absolute time `request`) says, at absolute
// time `when` (now + the returned delay). TLM_ACCEPTED, or TLM_UPDATED with END_REQ: the
// transaction goes on through nb_transport_bw.
void Dma::on_forward_return(tlm::tlm_generic_payload& gp, tlm::tlm_sync_enum result,
                            const tlm::tlm_phase& phase, const sc_core::sc_time& request,
                            const sc_core::sc_time& when) {
  // Answered within the call (early completion, or BEGIN_RESP on the return path): the request
  // ends at its own time, as the target serves its requests in order itself; the response is
  // due at `when`.
  if (result == tlm::TLM_COMPLETED) {
    end_request(gp, request);
    complete(gp, when);
  } else if (result == tlm::TLM_UPDATED && phase == tlm::END_REQ) {
    end_request(gp, when);
  } else if (result == tlm::TLM_UPDATED && phase == tlm::BEGIN_RESP) {
    end_request(gp, request);  // END_RESP forward, annotated at the response time

    tlm::tlm_phase end = tlm::END_RESP;
    sc_core::sc_time delay = when - sc_core::sc_time_stamp();
    memory_socket->nb_transport_fw(gp, end, delay);
    complete(gp, when);
  }
}

// The request of `gp` ends at absolute time `when` (if it is the one open).
void Dma::end_request(const tlm::tlm_generic_payload& gp, const sc_core::sc_time& when) {
  if (&gp != open_request_) return;
  open_request_ = nullptr;
  request_ends_ = std::max(request_ends_, when);
  end_req_.notify();
}

// A burst's response at absolute time `when`: its status, the command's latest response, and the
// pool's hold on the payload released (it returns to the pool once the target holds it no more).
void Dma::complete(tlm::tlm_generic_payload& gp, const sc_core::sc_time& when) {
  if (gp.is_response_error() && !failed()) {
    sub_gp_.set_response_status(gp.get_response_status());
    last_error_ = fmt::format("{}: {} answered {} to a {}", name(), memory_socket.name(),
                              gp.get_response_string(), proto::describe(gp));
  }
  last_response_ = std::max(last_response_, when);
  --responses_due_;
  response_.notify();
  gp.release();
}

tlm::tlm_sync_enum Dma::nb_transport_bw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                        sc_core::sc_time& delay) {
  const sc_core::sc_time when = sc_core::sc_time_stamp() + delay;
  if (phase == tlm::END_REQ) {
    end_request(gp, when);
    return tlm::TLM_ACCEPTED;
  }
  if (phase == tlm::BEGIN_RESP) {
    end_request(gp, when);  // BEGIN_RESP implies END_REQ
    complete(gp, when);
    return tlm::TLM_COMPLETED;  // response taken at once: END_RESP implied
  }
  return tlm::TLM_ACCEPTED;  // an ignorable phase
}

// The target checks of a command (dma.hpp): TLM_OK_RESPONSE, or the error response.
tlm::tlm_response_status Dma::check_command(const tlm::tlm_generic_payload& gp,
                                            const proto::TransferExt* ext) const {
  if (!ext) return tlm::TLM_GENERIC_ERROR_RESPONSE;
  const bool load = proto::is_load(ext->kind) || ext->kind == proto::TransferKind::fetch_program;
  const unsigned length = gp.get_data_length();
  if (gp.get_command() != (load ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND))
    return tlm::TLM_COMMAND_ERROR_RESPONSE;
  if (length == 0 || gp.get_streaming_width() != length) return tlm::TLM_BURST_ERROR_RESPONSE;
  if (!proto::byte_enables_accepted(gp, false)) return tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE;
  if (!gp.get_data_ptr()) return tlm::TLM_GENERIC_ERROR_RESPONSE;
  return tlm::TLM_OK_RESPONSE;
}

// The first clock edge at or after absolute time `t`.
uint64_t Dma::cycle_at_or_after(const sc_core::sc_time& t) const {
  return static_cast<uint64_t>(std::ceil(t.to_seconds() * clock_mhz_ * 1e6 - 1e-3));
}

void Dma::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  const auto* ext = gp.get_extension<proto::TransferExt>();
  if (const tlm::tlm_response_status status = check_command(gp, ext);
      status != tlm::TLM_OK_RESPONSE) {
    gp.set_response_status(status);
    return;
  }
  sub_gp_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  last_error_.clear();
  // Functional runs: the command's data array is the part (data, then mask); it travels on.
  if (ext->contents && gp.get_data_length() < ext->data_bytes + ext->mask_bytes) {
    gp.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  // The command takes the earliest-free engine and waits its setup before moving anything.
  const uint64_t request_cycle = cycle_at_or_after(sc_core::sc_time_stamp() + delay);
  auto engine = std::min_element(engine_free_cycle_.begin(), engine_free_cycle_.end());
  const uint64_t start_cycle = std::max(request_cycle, *engine);
  const sc_core::sc_time at = proto::cycles_to_time(start_cycle + setup_cycles_, clock_mhz_);
  unsigned char* contents = ext->contents ? gp.get_data_ptr() : nullptr;
  sc_core::sc_time done = at;
  if (!move_part(*ext, gp.get_address(), contents, at, &done)) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  if (failed()) {  // a buffer or the memory refused: the command ends with its response
    gp.set_response_status(sub_gp_.get_response_status());
    return;
  }
  // Whole cycles at the block boundary: round the completion up to the next clock edge.
  const uint64_t end_cycle = std::max(cycle_at_or_after(done), start_cycle + setup_cycles_);
  *engine = end_cycle;
  account_command(ext->kind, start_cycle, end_cycle);
  const sc_core::sc_time end = proto::cycles_to_time(end_cycle, clock_mhz_);
  const sc_core::sc_time now_after = sc_core::sc_time_stamp();  // later with AT bursts
  delay = end > now_after ? end - now_after : sc_core::SC_ZERO_TIME;
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

// The memory side and the buffer side of a command, all issued at `at` (streaming overlap);
// `*done` becomes the latest completion. False: not a transfer kind (a corrupt extension).
bool Dma::move_part(const proto::TransferExt& ext, uint64_t address, unsigned char* contents,
                    const sc_core::sc_time& at, sc_core::sc_time* done) {
  const uint64_t data = ext.data_bytes;
  const uint64_t mask = ext.mask_bytes;
  unsigned char* mask_contents = contents ? contents + data : nullptr;
  const proto::Buffer data_buffer = ext.kind == proto::TransferKind::load_weights
                                        ? proto::Buffer::weight
                                        : proto::Buffer::activation;
  const Placement data_at = placement(data_buffer, address, ext);
  const Placement mask_at = placement(proto::Buffer::mask, address, ext);
  auto later = [&](const sc_core::sc_time& t) { *done = std::max(*done, t); };
  switch (ext.kind) {
    case proto::TransferKind::load_weights:
    case proto::TransferKind::load_activations: {
      auto& buffer =
          ext.kind == proto::TransferKind::load_weights ? weight_socket : activation_socket;
      if (contents) {  // functional: the part's bytes come from memory, then go to the buffers
        later(issue(memory_socket, false, address, data + mask, ext, at, contents));
        later(issue(buffer, true, data_at.address, data, ext, at, contents, data_at.bytes));
        later(
            issue(mask_socket, true, mask_at.address, mask, ext, at, mask_contents, mask_at.bytes));
      } else {
        // Buffers first: a transfer a buffer rejects (too large) leaves the memory untouched.
        later(issue(buffer, true, data_at.address, data, ext, at, nullptr, data_at.bytes));
        later(issue(mask_socket, true, mask_at.address, mask, ext, at, nullptr, mask_at.bytes));
        later(issue(memory_socket, false, address, data + mask, ext, at));
      }
      stats_.bytes_from_memory += data + mask;
      stats_.bytes_to_buffers += data + mask;
      stats_.loaded_bytes[static_cast<size_t>(ext.kind == proto::TransferKind::load_weights
                                                  ? proto::Buffer::weight
                                                  : proto::Buffer::activation)] += data;
      stats_.loaded_bytes[static_cast<size_t>(proto::Buffer::mask)] += mask;
      return true;
    }
    case proto::TransferKind::store_activations:
      later(
          issue(activation_socket, true, data_at.address, data, ext, at, contents, data_at.bytes));
      later(issue(mask_socket, true, mask_at.address, mask, ext, at, mask_contents, mask_at.bytes));
      stats_.bytes_to_buffers += data + mask;
      return true;
    case proto::TransferKind::spill:
    case proto::TransferKind::store_output:
      if (contents && seed_buffers_on_store_) {  // the engines' values (dma.hpp)
        seed(activation_socket, data_at, contents, data);
        seed(mask_socket, mask_at, mask_contents, mask);
      }
      later(
          issue(activation_socket, false, data_at.address, data, ext, at, contents, data_at.bytes));
      later(
          issue(mask_socket, false, mask_at.address, mask, ext, at, mask_contents, mask_at.bytes));
      later(issue(memory_socket, true, address, data + mask, ext, at, contents));
      stats_.bytes_from_buffers += data + mask;
      stats_.bytes_to_memory += data + mask;
      return true;
    case proto::TransferKind::fetch_program:  // the requester's array is the destination
      if (!contents) return false;
      later(issue(memory_socket, false, address, data, ext, at, contents));
      stats_.bytes_from_memory += data;
      return true;
    default:
      return false;
  }
}

// Writes `bytes` of `contents` into a buffer at `at` with transport_dbg (no time, no energy),
// clipped to the placement.
void Dma::seed(tlm_utils::simple_initiator_socket<Dma>& s, const Placement& at,
               unsigned char* contents, uint64_t bytes) {
  const uint64_t n = at.bytes > 0 ? std::min(bytes, at.bytes) : bytes;
  if (n == 0) return;
  tlm::tlm_generic_payload gp;
  proto::set_transfer(gp, true, at.address, static_cast<unsigned int>(n));
  gp.set_data_ptr(contents);
  s->transport_dbg(gp);
}

// Busy time, energy and the commands overlapping this one (those still in flight at start).
void Dma::account_command(proto::TransferKind kind, uint64_t start_cycle, uint64_t end_cycle) {
  stats_.busy_engine_cycles += end_cycle - start_cycle;
  stats_.energy_nj += nj_per_busy_cycle_ * static_cast<double>(end_cycle - start_cycle);
  ++stats_.commands[static_cast<size_t>(kind)];
  intervals_.erase(std::remove_if(intervals_.begin(), intervals_.end(),
                                  [&](const auto& iv) { return iv.second <= start_cycle; }),
                   intervals_.end());
  intervals_.emplace_back(start_cycle, end_cycle);
  stats_.max_in_flight = std::max<uint64_t>(stats_.max_in_flight, intervals_.size());
}

}  // namespace acceltran
