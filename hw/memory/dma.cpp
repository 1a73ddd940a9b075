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
      clock_mhz_(tech.clock_mhz) {
  int n = dopts.engines > 0 ? dopts.engines : cfg.pe;
  if (n <= 0) throw InputError(fmt::format("dma: engine count {} must be > 0", n));
  engine_free_cycle_.assign(static_cast<size_t>(n), 0);
  // The published simulator has no DMA setup latency: none in the reference profile.
  setup_cycles_ = dopts.setup_cycles >= 0              ? static_cast<uint64_t>(dopts.setup_cycles)
                  : opts.profile == Profile::reference ? 0
                                                       : timing.dma_setup_cycles;
  nj_per_busy_cycle_ = tech.nj_per_cycle(tech.dma.dynamic_mw + tech.dma.leakage_mw);
  socket.register_b_transport(this, &Dma::b_transport);
  sub_gp_.set_extension(&sub_ext_);
}

Dma::~Dma() {
  sub_gp_.clear_extension(&sub_ext_);
}

sc_core::sc_time Dma::issue(tlm_utils::simple_initiator_socket<Dma>& s, bool write,
                            uint64_t address, uint64_t bytes, const proto::TransferExt& ext,
                            sc_core::sc_time at) {
  sc_core::sc_time now = sc_core::sc_time_stamp();
  if (bytes == 0 || failed()) return at;
  sub_ext_ = ext;
  proto::set_transfer(sub_gp_, write, address, static_cast<unsigned int>(bytes));
  sc_core::sc_time d = at - now;
  s->b_transport(sub_gp_, d);
  if (sub_gp_.is_response_error()) {
    last_error_ = fmt::format("{}: {} answered {} to a {}", name(), s.name(),
                              sub_gp_.get_response_string(), proto::describe(sub_gp_));
    return at;
  }
  return now + d;
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
  sc_core::sc_time done = at;
  auto later = [&](const sc_core::sc_time& t) { done = std::max(done, t); };
  switch (ext->opcode) {
    case Opcode::LOAD_W:
    case Opcode::LOAD_A: {
      auto& buf = ext->opcode == Opcode::LOAD_W ? weight_socket : activation_socket;
      // Buffers first: a transfer a buffer rejects (too large) leaves the memory untouched.
      later(issue(buf, true, 0, data, *ext, at));
      later(issue(mask_socket, true, 0, mask, *ext, at));
      later(issue(memory_socket, false, addr, data + mask, *ext, at));
      stats_.bytes_from_memory += data + mask;
      stats_.bytes_to_buffers += data + mask;
      break;
    }
    case Opcode::STORE_A:
      later(issue(activation_socket, true, 0, data, *ext, at));
      later(issue(mask_socket, true, 0, mask, *ext, at));
      stats_.bytes_to_buffers += data + mask;
      break;
    case Opcode::SPILL:
    case Opcode::STORE_M:
      later(issue(activation_socket, false, 0, data, *ext, at));
      later(issue(mask_socket, false, 0, mask, *ext, at));
      later(issue(memory_socket, true, addr, data + mask, *ext, at));
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
  delay = t_end > now ? t_end - now : sc_core::SC_ZERO_TIME;
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace acceltran
