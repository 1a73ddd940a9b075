// The TLM-2.0 protocol between AccelTran blocks (see docs/architecture.md).
//
// Style: loosely timed, blocking transport with annotated delays, resource reservation.
//  * An initiator calls b_transport(gp, delay); the request time is sc_time_stamp() + delay.
//  * A target never calls wait(). It reserves its own resources (MAC lanes, softmax modules,
//    buffer ports, memory banks) at or after the request time, computes when the job completes
//    from its own parameters, charges its energy and statistics, and returns with
//    delay = completion time - sc_time_stamp().
//  * The initiator (the control block or the DMA) turns completion times into kernel events,
//    so simulated time advances from event to event, never cycle by cycle.
//  * gp.command: TLM_READ_COMMAND for transfers toward the accelerator core (loads),
//    TLM_WRITE_COMMAND for stores, spills and tile jobs. gp.address: a byte address in main
//    memory (transfers) or 0 (jobs). gp.data_length: bytes moved (transfers) or 0. gp.data_ptr
//    may be null: in performance mode no data values travel.
//  * Exactly one of the extensions below says what the transaction is.
#pragma once
#include <systemc>
#include <tlm>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "isa.hpp"

namespace acceltran::proto {

// What a tile job did (default profile): MACs, bytes through the buffer ports by kind, and
// the energy of the units that ran it. Accumulated by the target into the job's extension.
struct JobTraffic {
  uint64_t start_cycle = ~uint64_t{0};  // first tile start
  uint64_t dense_macs = 0, effectual_macs = 0;
  uint64_t operand_bytes = 0;  // operand tiles read (zero-free data + masks)
  uint64_t psum_bytes = 0;     // partial sums written back to and read again from the buffer
  uint64_t output_bytes = 0;   // final output tiles written (zero-free data + masks)
  uint64_t param_bytes = 0;    // biases, LayerNorm gamma/beta read
  double unit_energy_nj = 0;   // dynamic energy of the lanes / modules for this job
};

// A group of tile jobs of one op, all for the same engine class (MAC lanes, softmax modules,
// layer-norm modules). The target spreads the tiles over its free units and reports the
// completion time of the last one.
struct TileJobExt : tlm::tlm_extension<TileJobExt> {
  const Op* op = nullptr;
  Opcode opcode = Opcode::MATMUL;
  uint64_t first_tile = 0;  // range in the op's loop-order enumeration
  uint64_t tile_count = 0;
  LoopOrder loop_order;
  double activation_sparsity = 0.5;  // fraction of zeros in the first operand
  double weight_sparsity = 0.5;      // fraction of zeros in the second operand
  int pe = -1;                       // PE to run on; -1: the target chooses
  // Default profile (buffer-level blocks, see compiler/parts.hpp):
  uint32_t block = 0;               // block of the op; first_tile/tile_count count its tiles
  uint32_t issue_width = 0;         // tiles issued per cycle from the request time (0: all at once)
  double output_sparsity = 0;       // zeros in the output tile after DynaTran (zero-free writes)
  bool a_in_weight_buffer = false;  // first operand lives in the weight buffer (embeddings)
  bool b_in_weight_buffer = false;  // second operand lives in the weight buffer (weights)
  uint32_t param_words_per_tile = 0;  // bias / gamma-beta words read per output tile
  // Filled by the target:
  uint64_t busy_unit_cycles = 0;     // sum over units of cycles held
  uint64_t operand_reads_saved = 0;  // operand tiles reused (FIFO / broadcast)
  JobTraffic traffic;                // default profile: what the job did (added to)

  tlm::tlm_extension_base* clone() const override { return new TileJobExt(*this); }
  void copy_from(const tlm::tlm_extension_base& e) override {
    *this = static_cast<const TileJobExt&>(e);
  }
};

enum class Buffer : uint8_t { activation, weight, mask };
const char* to_string(Buffer b);

// A transfer between main memory and an on-chip buffer, or from the PEs into a buffer.
struct TransferExt : tlm::tlm_extension<TransferExt> {
  Opcode opcode = Opcode::LOAD_W;  // LOAD_W, LOAD_A, STORE_A, SPILL, STORE_M
  TensorId tensor = kNone;
  Buffer buffer = Buffer::weight;  // the on-chip buffer involved
  uint64_t data_bytes = 0;
  uint64_t mask_bytes = 0;
  bool sequential = true;  // streaming access (row-buffer friendly) vs scattered
  uint64_t elements = 0;   // elements moved (published per-element energy conventions)
  double sparsity = 0;     // their zero fraction

  tlm::tlm_extension_base* clone() const override { return new TransferExt(*this); }
  void copy_from(const tlm::tlm_extension_base& e) override {
    *this = static_cast<const TransferExt&>(e);
  }
};

inline const char* to_string(Buffer b) {
  switch (b) {
    case Buffer::activation:
      return "activation";
    case Buffer::weight:
      return "weight";
    case Buffer::mask:
      return "mask";
  }
  return "?";
}

// Blocks reason in whole clock cycles (uint64_t); sc_time appears only at the kernel boundary.
// The clock period at 700 MHz is 1428.57 ps, so conversions round to the 1 ps resolution once
// per conversion and never accumulate error.
inline sc_core::sc_time cycles_to_time(uint64_t cycles, double clock_mhz) {
  return sc_core::sc_time(static_cast<double>(cycles) * 1e6 / clock_mhz, sc_core::SC_PS);
}
inline uint64_t time_to_cycles(const sc_core::sc_time& t, double clock_mhz) {
  double c = t.to_seconds() * clock_mhz * 1e6;
  return static_cast<uint64_t>(c + 0.5);
}

// An engine's traffic through a buffer's ports: moves `bytes` starting at `request_cycle` over
// the (optional) initiator socket `port`; returns the cycle the ports finish. An unbound port (a
// block tested alone) is free. One transaction per GiB (data_length is 32 bits).
template <typename Socket>
uint64_t port_transfer(Socket& port, tlm::tlm_generic_payload& gp, uint64_t request_cycle,
                       uint64_t bytes, bool write, double clock_mhz) {
  if (bytes == 0 || port.get_base_port().size() == 0) return request_cycle;
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  const sc_core::sc_time at = cycles_to_time(request_cycle, clock_mhz);
  uint64_t done = request_cycle;
  for (uint64_t left = bytes; left > 0;) {
    const uint64_t chunk = left < (1ULL << 30) ? left : (1ULL << 30);
    gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    gp.set_address(0);
    gp.set_data_length(static_cast<unsigned>(chunk));
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = at > now ? at - now : sc_core::SC_ZERO_TIME;
    port->b_transport(gp, delay);
    if (gp.is_response_error())
      throw std::runtime_error(std::string("buffer port rejected a ") + (write ? "write" : "read") +
                               ": " + gp.get_response_string());
    const uint64_t c = time_to_cycles(now + delay, clock_mhz);
    done = c > done ? c : done;
    left -= chunk;
  }
  return done;
}

// The target side of the convention for tile-job engines: reads the TileJobExt, converts the
// request time to a cycle, lets `dispatch(job, request_cycle)` reserve the units and return the
// completion cycle, and annotates `delay` with the completion time. A missing extension is a
// generic error; std::invalid_argument from dispatch (wrong opcode, tiles out of range) is a
// command error.
template <typename Dispatch>
void serve_tile_job(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay, double clock_mhz,
                    Dispatch&& dispatch) {
  auto* job = gp.get_extension<TileJobExt>();
  if (!job || !job->op) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  try {
    const uint64_t done_cycle = dispatch(*job, time_to_cycles(now + delay, clock_mhz));
    const sc_core::sc_time done = cycles_to_time(done_cycle, clock_mhz);
    delay = done > now ? done - now : sc_core::SC_ZERO_TIME;
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  } catch (const std::invalid_argument&) {
    gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
  }
}

}  // namespace acceltran::proto
