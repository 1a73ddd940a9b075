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
//  * Every transaction is legal under the TLM-2.0 base protocol (IEEE 1666-2011 section 14):
//     - tile jobs (TileJobExt): TLM_IGNORE_COMMAND, address 0, a kJobDescriptorBytes data array
//       (a reusable scratch buffer), streaming width = data length, no byte enables
//       (set_tile_job);
//     - transfers (TransferExt on the DMA and memory sockets; none on the buffer ports):
//       TLM_READ_COMMAND for loads toward the core, TLM_WRITE_COMMAND for stores and spills,
//       the main-memory byte address (DMA, main memory) or 0 (buffers), data length = bytes
//       moved, streaming width = data length, no byte enables (set_transfer). In performance
//       mode the data pointer is scratch_data(): a zero-filled process-wide region at least
//       data-length bytes long whose contents mean nothing;
//     - buffer-port traffic of the compute engines (port_transfer): a stream through the
//       port, address 0, streaming width kPortWindowBytes (one buffer block) <= data length.
//  * Every target also accepts nb_transport_fw (serve_nb_transport_fw: early completion; the
//    DMA through its socket's conversion), so that approximately-timed initiators can use it.
//  * Targets check what they are given (check_access, serve_tile_job) and answer with the
//    standard error responses; initiators turn an error response into a simulation error
//    (std::runtime_error) naming the block, the transaction and the response (describe()).
//  * Exactly one of the extensions below says what the transaction is.
#pragma once
#include <systemc>
#include <tlm>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "acceltran/tlm/tile_job.hpp"

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

// A tile job (the descriptor, tlm/tile_job.hpp) and what the target reports back. The target
// spreads the tiles over its free units and reports the completion time of the last one.
struct TileJobExt : tlm::tlm_extension<TileJobExt>, TileJob {
  // Filled by the target:
  uint64_t busy_unit_cycles = 0;     // sum over units of cycles held
  uint64_t operand_reads_saved = 0;  // operand tiles reused (FIFO / broadcast)
  JobTraffic traffic;                // hardware profile: what the job did (added to)

  tlm::tlm_extension_base* clone() const override { return new TileJobExt(*this); }
  void copy_from(const tlm::tlm_extension_base& e) override {
    *this = static_cast<const TileJobExt&>(e);
  }
};

// A transfer between main memory and an on-chip buffer, or from the PEs into a buffer.
struct TransferExt : tlm::tlm_extension<TransferExt> {
  TransferKind kind = TransferKind::load_weights;
  uint32_t tensor = ~uint32_t{0};  // id of the tensor moved (opaque to the memories)
  Buffer buffer = Buffer::weight;  // the on-chip buffer involved
  uint64_t data_bytes = 0;
  uint64_t mask_bytes = 0;
  bool sequential = true;  // streaming access (row-buffer friendly) vs scattered
  uint64_t elements = 0;   // elements moved (published per-element energy conventions)
  double sparsity = 0;     // their zero fraction
  // Functional runs: the command's data array holds the part (its zero-free words, then its
  // mask; data_bytes + mask_bytes bytes), which the DMA forwards to the memory and buffers.
  bool contents = false;

  tlm::tlm_extension_base* clone() const override { return new TransferExt(*this); }
  void copy_from(const tlm::tlm_extension_base& e) override {
    *this = static_cast<const TransferExt&>(e);
  }
};

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

// A zero-filled data array of at least `bytes` bytes for performance-mode transactions (no data
// values travel, but the base protocol requires a data pointer to data_length bytes, and a
// standard target or checker may read or write through it). One process-wide region grows on
// demand (calloc: untouched pages cost no memory); older regions stay allocated until exit, so
// a pointer handed to an outstanding transaction never dangles. No allocation once the largest
// transaction has been seen.
inline unsigned char* scratch_data(uint64_t bytes) {
  struct Free {
    void operator()(unsigned char* p) const { std::free(p); }
  };
  static std::vector<std::unique_ptr<unsigned char, Free>> regions;
  static uint64_t size = 0;
  if (bytes > size || regions.empty()) {
    uint64_t n = size * 2 > bytes ? size * 2 : bytes;
    n = n < 4096 ? 4096 : n;
    auto* p = static_cast<unsigned char*>(std::calloc(n, 1));
    if (!p) throw std::bad_alloc();
    regions.emplace_back(p);
    size = n;
  }
  return regions.back().get();
}

// Bytes of a tile job's data array (a descriptor slot; the TileJobExt carries the job).
constexpr unsigned kJobDescriptorBytes = 16;
// Streaming width of the engines' buffer-port traffic: one 64-byte buffer block.
constexpr unsigned kPortWindowBytes = 64;

// The attributes of a tile job (the TileJobExt is attached by the caller).
inline void set_tile_job(tlm::tlm_generic_payload& gp) {
  gp.set_command(tlm::TLM_IGNORE_COMMAND);
  gp.set_address(0);
  gp.set_data_ptr(scratch_data(kJobDescriptorBytes));
  gp.set_data_length(kJobDescriptorBytes);
  gp.set_streaming_width(kJobDescriptorBytes);
  gp.set_byte_enable_ptr(nullptr);
  gp.set_byte_enable_length(0);
  gp.set_dmi_allowed(false);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

// The attributes of a performance-mode transfer of `bytes` bytes at `address`.
inline void set_transfer(tlm::tlm_generic_payload& gp, bool write, uint64_t address, unsigned bytes,
                         unsigned streaming_width = 0) {
  gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  gp.set_address(address);
  gp.set_data_ptr(scratch_data(bytes));
  gp.set_data_length(bytes);
  gp.set_streaming_width(streaming_width ? streaming_width : bytes);
  gp.set_byte_enable_ptr(nullptr);
  gp.set_byte_enable_length(0);
  gp.set_dmi_allowed(false);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

inline const char* command_name(tlm::tlm_command c) {
  return c == tlm::TLM_READ_COMMAND     ? "read"
         : c == tlm::TLM_WRITE_COMMAND  ? "write"
         : c == tlm::TLM_IGNORE_COMMAND ? "ignore"
                                        : "unknown command";
}

// "read of 4096 bytes at 0x1000" (for error messages).
inline std::string describe(const tlm::tlm_generic_payload& gp) {
  char addr[32];
  std::snprintf(addr, sizeof addr, "0x%llx", static_cast<unsigned long long>(gp.get_address()));
  return std::string(command_name(gp.get_command())) + " of " +
         std::to_string(gp.get_data_length()) + " bytes at " + addr;
}

// Byte enables (IEEE 1666-2011 14.14): data byte i is enabled when the byte-enable array is
// absent (null pointer; its length is then ignored) or when entry i % byte-enable length is
// TLM_BYTE_ENABLED (0xff); an entry of TLM_BYTE_DISABLED (0x00) disables it. Entries past the
// data length do not apply.
enum class ByteEnables {
  none,         // no byte-enable array
  all_enabled,  // an array whose applying entries are all 0xff
  partial,      // some applying entry is 0x00
  malformed     // a pointer with length 0, or an applying entry other than 0x00 and 0xff
};
inline ByteEnables byte_enables_of(const tlm::tlm_generic_payload& gp) {
  const unsigned char* enables = gp.get_byte_enable_ptr();
  if (!enables) return ByteEnables::none;
  const unsigned enable_length = gp.get_byte_enable_length();
  if (enable_length == 0) return ByteEnables::malformed;
  const unsigned applying =
      enable_length < gp.get_data_length() ? enable_length : gp.get_data_length();
  bool disabled = false;
  for (unsigned i = 0; i < applying; ++i) {
    if (enables[i] == TLM_BYTE_DISABLED)
      disabled = true;
    else if (enables[i] != TLM_BYTE_ENABLED)
      return ByteEnables::malformed;
  }
  return disabled ? ByteEnables::partial : ByteEnables::all_enabled;
}
// Whether a target takes the byte enables of `gp`: none and all enabled always; partial ones
// only when it implements them (`partial_allowed`: the memories); malformed ones never.
inline bool byte_enables_accepted(const tlm::tlm_generic_payload& gp, bool partial_allowed) {
  const ByteEnables b = byte_enables_of(gp);
  return b == ByteEnables::none || b == ByteEnables::all_enabled ||
         (b == ByteEnables::partial && partial_allowed);
}

// Target-side checks of a read or write of the byte range [0, capacity_bytes), in the order
// address, command, burst (data length, streaming width), byte enables, data pointer. Returns
// TLM_OK_RESPONSE when the target can serve it, else the standard error response:
//   TLM_ADDRESS_ERROR_RESPONSE    bytes outside [0, capacity) (the streaming window, see below)
//   TLM_COMMAND_ERROR_RESPONSE    not a read or a write
//   TLM_BURST_ERROR_RESPONSE      data length 0, streaming width 0 or > data length, or a
//                                 streaming width < data length where `streaming` is false
//   TLM_BYTE_ENABLE_ERROR_RESPONSE malformed byte enables (byte_enables_of), or partial ones
//                                 where `partial_byte_enables` is false
//   TLM_GENERIC_ERROR_RESPONSE    null data pointer
// With streaming (a port), the bytes touched are [address, address + streaming width).
// The memories pass partial_byte_enables = true: they write and read only the enabled bytes.
inline tlm::tlm_response_status check_access(const tlm::tlm_generic_payload& gp,
                                             uint64_t capacity_bytes, bool streaming = false,
                                             bool partial_byte_enables = false) {
  const uint64_t len = gp.get_data_length(), sw = gp.get_streaming_width();
  const uint64_t window = sw && sw < len ? sw : len;
  const uint64_t a = gp.get_address();
  if (a >= capacity_bytes || window > capacity_bytes - a) return tlm::TLM_ADDRESS_ERROR_RESPONSE;
  const tlm::tlm_command c = gp.get_command();
  if (c != tlm::TLM_READ_COMMAND && c != tlm::TLM_WRITE_COMMAND)
    return tlm::TLM_COMMAND_ERROR_RESPONSE;
  if (len == 0 || sw == 0 || sw > len || (sw < len && !streaming))
    return tlm::TLM_BURST_ERROR_RESPONSE;
  if (!byte_enables_accepted(gp, partial_byte_enables)) return tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE;
  if (!gp.get_data_ptr()) return tlm::TLM_GENERIC_ERROR_RESPONSE;
  return tlm::TLM_OK_RESPONSE;
}

// An engine's traffic through a buffer's ports: moves `bytes` starting at `request_cycle` over
// the (optional) initiator socket `port`; returns the cycle the ports finish. An unbound port (a
// block tested alone) is free. One transaction per GiB (data_length is 32 bits); each is a
// stream through the port (address 0, streaming width kPortWindowBytes) with a scratch data
// array. An error response is a std::runtime_error naming the transaction and the response.
template <typename Socket>
uint64_t port_transfer(Socket& port, tlm::tlm_generic_payload& gp, uint64_t request_cycle,
                       uint64_t bytes, bool write, double clock_mhz) {
  if (bytes == 0 || port.get_base_port().size() == 0) return request_cycle;
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  const sc_core::sc_time at = cycles_to_time(request_cycle, clock_mhz);
  uint64_t done = request_cycle;
  for (uint64_t left = bytes; left > 0;) {
    const uint64_t chunk = left < (1ULL << 30) ? left : (1ULL << 30);
    const unsigned n = static_cast<unsigned>(chunk);
    set_transfer(gp, write, 0, n, n < kPortWindowBytes ? n : kPortWindowBytes);
    sc_core::sc_time delay = at > now ? at - now : sc_core::SC_ZERO_TIME;
    port->b_transport(gp, delay);
    if (gp.is_response_error())
      throw std::runtime_error(std::string(port.name()) + ": buffer port answered " +
                               gp.get_response_string() + " to a " + describe(gp));
    const uint64_t c = time_to_cycles(now + delay, clock_mhz);
    done = c > done ? c : done;
    left -= chunk;
  }
  return done;
}

// The target side of the convention for tile-job engines: checks the attributes, reads the
// TileJobExt, converts the request time to a cycle, lets `dispatch(job, request_cycle)` reserve
// the units and return the completion cycle, and annotates `delay` with the completion time.
// Responses: address != 0: TLM_ADDRESS_ERROR_RESPONSE; not TLM_IGNORE_COMMAND:
// TLM_COMMAND_ERROR_RESPONSE; data length 0 or streaming width != data length:
// TLM_BURST_ERROR_RESPONSE; byte enables other than all enabled (byte_enables_accepted):
// TLM_BYTE_ENABLE_ERROR_RESPONSE; null data pointer, missing extension or a descriptor without a
// tile grid: TLM_GENERIC_ERROR_RESPONSE; std::invalid_argument from dispatch (wrong job kind, tiles
// out of range): TLM_COMMAND_ERROR_RESPONSE.
template <typename Dispatch>
void serve_tile_job(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay, double clock_mhz,
                    Dispatch&& dispatch) {
  const unsigned len = gp.get_data_length();
  if (gp.get_address() != 0) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (gp.get_command() != tlm::TLM_IGNORE_COMMAND) {
    gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  if (len == 0 || gp.get_streaming_width() != len) {
    gp.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  if (!byte_enables_accepted(gp, false)) {
    gp.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return;
  }
  auto* job = gp.get_extension<TileJobExt>();
  if (!gp.get_data_ptr() || !job || !job->described()) {
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

// The forward non-blocking path of a target whose b_transport never waits (every target here
// but the DMA, whose simple_target_socket converts nb_transport into b_transport itself): so
// that an approximately-timed initiator can use it as well as a loosely-timed one.
//  * BEGIN_REQ: served at once by `serve(gp, delay)` (the b_transport body: request time =
//    now + delay, delay becomes completion - now, the response status set) and answered
//    TLM_COMPLETED, the base protocol's early completion: the response is due at now + delay
//    and no further phase follows, so the target never holds the transaction (it needs no
//    acquire) and no backward call is made;
//  * END_RESP (never due after TLM_COMPLETED; tolerated): TLM_COMPLETED;
//  * any other phase (END_REQ or BEGIN_RESP sent forward, an ignorable extended phase): ignored,
//    TLM_ACCEPTED with the phase unchanged.
template <typename Serve>
tlm::tlm_sync_enum serve_nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                         sc_core::sc_time& delay, Serve&& serve) {
  if (phase == tlm::BEGIN_REQ) {
    serve(gp, delay);
    return tlm::TLM_COMPLETED;
  }
  if (phase == tlm::END_RESP) return tlm::TLM_COMPLETED;
  return tlm::TLM_ACCEPTED;
}

}  // namespace acceltran::proto
