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
}

sc_core::sc_time Dma::issue(tlm_utils::simple_initiator_socket<Dma>& s, bool write,
                            uint64_t address, uint64_t bytes, const proto::TransferExt& ext,
                            sc_core::sc_time at) {
  sc_core::sc_time now = sc_core::sc_time_stamp();
  if (bytes == 0) return at;
  tlm::tlm_generic_payload gp;
  proto::TransferExt sub = ext;
  gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  gp.set_address(address);
  gp.set_data_ptr(nullptr);
  gp.set_data_length(static_cast<unsigned int>(bytes));
  gp.set_streaming_width(static_cast<unsigned int>(bytes));
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  gp.set_extension(&sub);
  {
    // `sub` lives on the stack: detach it before gp is destroyed, also when the target throws.
    struct Detach {
      tlm::tlm_generic_payload& gp;
      proto::TransferExt* ext;
      ~Detach() { gp.clear_extension(ext); }
    } detach{gp, &sub};
    sc_core::sc_time d = at - now;
    s->b_transport(gp, d);
    at = now + d;
  }
  if (gp.is_response_error())
    throw std::runtime_error(
        fmt::format("{}: sub-transfer failed: {}", name(), gp.get_response_string()));
  return at;
}

void Dma::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<proto::TransferExt>();
  if (!ext || !is_memory(ext->opcode)) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  // Request cycle: the first clock edge at or after the request time.
  uint64_t req =
      static_cast<uint64_t>(std::ceil((now + delay).to_seconds() * clock_mhz_ * 1e6 - 1e-3));
  auto eng = std::min_element(engine_free_cycle_.begin(), engine_free_cycle_.end());
  uint64_t start = std::max(req, *eng);
  sc_core::sc_time at = proto::cycles_to_time(start + setup_cycles_, clock_mhz_);
  const uint64_t data = ext->data_bytes ? ext->data_bytes : gp.get_data_length();
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
