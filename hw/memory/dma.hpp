// DMA: moves tiles between main memory and the on-chip buffers on command from the control
// block (see docs/memory.md).
//
// Commands arrive on `socket` as generic payloads carrying a proto::TransferExt:
//   LOAD_W   memory -> weight buffer       (+ mask bytes -> mask buffer)
//   LOAD_A   memory -> activation buffer   (+ mask bytes -> mask buffer)
//   STORE_A  PEs -> activation buffer      (+ mask bytes -> mask buffer), no memory traffic
//   SPILL, STORE_M  activation buffer (+ mask buffer) -> memory
//   FETCH_PROGRAM   memory -> the command's data array (on fetch_socket; a READ with
//                   TransferExt::contents, data_bytes = data length, no mask)
// gp.address is the main-memory byte address (data followed by its mask). The buffer side goes
// to the part's placement in each buffer (set_buffer_addresses; docs/memory.md "Address map"):
// the data at its address in the data buffer, the mask at its address in the mask buffer. A
// part larger than its placement (a functional part's own zero-free size can exceed the
// compiler's estimate the buffers account for) goes as a stream whose window is the placement
// (streaming width = placement bytes) with byte enables on the window's first pass only: the
// port time is the whole part's, the buffer keeps its first placement bytes and no neighbour is
// touched. In a functional command (TransferExt::contents) the part's bytes travel from memory
// into the buffers (loads, STORE_A) or from the buffers to memory (SPILL, STORE_M; with
// DmaOptions::seed_buffers_on_store the command's bytes are first written into the buffers at
// the placements). The DMA has N engines
// (default one per PE); a command takes the earliest-free engine, waits setup_cycles, then issues
// the memory side and the buffer side at the same time (streaming overlap); it completes at the
// later of the two. Like every target it never waits: it returns delay = completion - now (except
// with AT bursts to a memory that answers on the backward path, see DmaOptions::burst_bytes).
// `socket` takes b_transport, and nb_transport_fw through the simple_target_socket's conversion:
// BEGIN_REQ answered TLM_ACCEPTED, the command run in a process of the socket, BEGIN_RESP on the
// backward path at its completion.
//
// Target checks (tlm/protocol.hpp conventions): no TransferExt:
// TLM_GENERIC_ERROR_RESPONSE; a read for a store or a write for a load (or any other command):
// TLM_COMMAND_ERROR_RESPONSE; data length 0 or streaming width != data length:
// TLM_BURST_ERROR_RESPONSE; byte enables other than all enabled: TLM_BYTE_ENABLE_ERROR_RESPONSE;
// null data pointer: TLM_GENERIC_ERROR_RESPONSE. A sub-transfer answered with an error response
// ends the command with that response (nothing further issued); last_error() says which socket,
// transaction and response. Sub-transfers reuse one payload with a scratch data array (no
// allocation).
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/hw/memory/memory_policy.hpp"
#include "acceltran/hw/memory/memory_timing.hpp"
#include "acceltran/hw/memory/memory_trace.hpp"
#include "acceltran/hw/sim_options.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

struct DmaOptions {
  int engines = 0;            // 0: one engine per PE (the published model)
  int64_t setup_cycles = -1;  // -1: memory.yaml dma.setup_cycles
  // Approximately-timed burst option: > 0 splits the memory side of each command into
  // burst_bytes-sized nb_transport transactions (BEGIN_REQ / END_REQ / BEGIN_RESP / END_RESP),
  // so that a standard AT memory model can serve memory_socket. Memory management follows
  // IEEE 1666-2011 14.5: each burst's payload comes from the DMA's pool (a tlm_mm_interface),
  // the DMA acquires it before BEGIN_REQ and releases it when the transaction completes
  // (TLM_COMPLETED on the forward return; END_RESP sent after TLM_UPDATED with BEGIN_RESP;
  // BEGIN_RESP on the backward path, answered TLM_COMPLETED), so a target need not acquire it
  // to hold it across phases; it returns to the pool only when every holder has released it.
  // The next BEGIN_REQ waits for the END_REQ (or BEGIN_RESP) of the previous one and is
  // annotated no earlier than it. A target that completes each burst on the forward call lets
  // the command return at once, as every block here does; one that answers later on the
  // backward path makes the command's b_transport wait for the last response (a blocking
  // target: the control block, an SC_THREAD, waits and catches up). 0: one b_transport per
  // memory side (the default).
  uint32_t burst_bytes = 0;
  // Functional SPILL and STORE_M: first write the command's bytes (the data path's values of the
  // part) into the buffers at the part's placements with transport_dbg (no time, no energy),
  // then read them as any store does. For a top whose engines compute values in a data path
  // and stream no values through the buffer ports (Accelerator), so that the buffers hold a
  // computed part when it leaves. Off: the buffers' own bytes go to memory.
  bool seed_buffers_on_store = false;
};

struct DmaStats {
  std::array<uint64_t, proto::kTransferKindCount> commands{};  // by proto::TransferKind
  uint64_t bytes_from_memory = 0, bytes_to_memory = 0;
  uint64_t bytes_to_buffers = 0, bytes_from_buffers = 0;
  uint64_t busy_engine_cycles = 0;  // sum over engines of cycles held (setup included)
  uint64_t max_in_flight = 0;       // most commands overlapping in time
  // Per buffer (proto::Buffer order): bytes loads brought into it from main memory (LOAD_W /
  // LOAD_A data into the weight / activation buffer, their masks into the mask buffer).
  std::array<uint64_t, 3> loaded_bytes{};
  // Main-memory side: transfers issued and the 64-byte accesses they touch (counted the way
  // MainMemoryStats::accesses_64b counts them; a report whose memory is external uses these).
  uint64_t memory_transfers = 0, memory_accesses_64b = 0;
  // The main-memory range the run used: every transfer lies in [0, memory_end_address).
  uint64_t memory_end_address = 0;
  double energy_nj = 0;  // (dynamic + leakage power of one DMA) / MHz x busy cycles
};

class Dma : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<Dma> socket;  // commands from the control block
  // FETCH_PROGRAM commands (a programmable top's register block): a read of the instruction
  // stream into the command's data array; served like `socket`. May stay unbound.
  tlm_utils::simple_target_socket_optional<Dma> fetch_socket;
  tlm_utils::simple_initiator_socket<Dma> memory_socket;      // -> MainMemory
  tlm_utils::simple_initiator_socket<Dma> activation_socket;  // -> activation SramBuffer
  tlm_utils::simple_initiator_socket<Dma> weight_socket;      // -> weight SramBuffer
  tlm_utils::simple_initiator_socket<Dma> mask_socket;        // -> mask SramBuffer

  Dma(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const Technology& tech,
      const MemoryTimingTable& timing, const SimOptions& opts, const DmaOptions& dopts = {});

  int engines() const { return static_cast<int>(engine_free_cycle_.size()); }
  uint64_t engine_free_cycle(int e) const { return engine_free_cycle_[static_cast<size_t>(e)]; }
  uint64_t setup_cycles() const { return setup_cycles_; }
  const DmaStats& stats() const { return stats_; }
  // The sub-transfer error that ended the last failed command ("" if none).
  const std::string& last_error() const { return last_error_; }
  // Records every main-memory transfer (request cycle, read or write, address, bytes) into
  // `trace` (not owned; nullptr: none).
  void set_memory_trace(MemoryTrace* trace) { memory_trace_ = trace; }
  // Buffer-side addresses: the placement in `buffer` of the part a command moves (named by its
  // main-memory address and extension): its byte address and size (0: not known, no window).
  // Unset (a DMA tested alone): address 0.
  struct Placement {
    uint64_t address = 0, bytes = 0;
  };
  using BufferAddresses = std::function<Placement(proto::Buffer buffer, uint64_t memory_address,
                                                  const proto::TransferExt& ext)>;
  void set_buffer_addresses(BufferAddresses addresses) { buffer_addresses_ = std::move(addresses); }
  ~Dma() override;

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_response_status check_command(const tlm::tlm_generic_payload& gp,
                                         const proto::TransferExt* ext) const;
  uint64_t cycle_at_or_after(const sc_core::sc_time& t) const;
  bool move_part(const proto::TransferExt& ext, uint64_t address, unsigned char* contents,
                 const sc_core::sc_time& at, sc_core::sc_time* done);
  void account_command(proto::TransferKind kind, uint64_t start_cycle, uint64_t end_cycle);
  // Issues one sub-transfer at absolute time `at`; returns its absolute completion time.
  // A sub-transfer answered with an error leaves its response in sub_gp_ (see failed()).
  // `data`: the bytes moved (a functional command's contents); nullptr: the scratch array.
  // `window` > 0 and < bytes: a stream over [address, address + window), only its first pass
  // enabled (a part larger than its buffer placement).
  sc_core::sc_time issue(tlm_utils::simple_initiator_socket<Dma>& s, bool write, uint64_t address,
                         uint64_t bytes, const proto::TransferExt& ext, sc_core::sc_time at,
                         unsigned char* data = nullptr, uint64_t window = 0);
  bool failed() const { return sub_gp_.get_response_status() < tlm::TLM_INCOMPLETE_RESPONSE; }

  double clock_mhz_;
  double nj_per_busy_cycle_;
  uint64_t setup_cycles_;
  std::vector<uint64_t> engine_free_cycle_;
  std::vector<std::pair<uint64_t, uint64_t>> intervals_;  // for max_in_flight (start, end)
  DmaStats stats_;
  tlm::tlm_generic_payload sub_gp_;  // sub-transfers (sub_ext_ attached for life)
  proto::TransferExt sub_ext_;
  std::string last_error_;
  MemoryTrace* memory_trace_ = nullptr;
  BufferAddresses buffer_addresses_;
  Placement placement(proto::Buffer buffer, uint64_t memory_address,
                      const proto::TransferExt& ext) const {
    return buffer_addresses_ ? buffer_addresses_(buffer, memory_address, ext) : Placement{};
  }
  std::vector<unsigned char> window_enables_;  // byte enables of a windowed buffer transfer
  bool seed_buffers_on_store_;
  void seed(tlm_utils::simple_initiator_socket<Dma>& s, const Placement& at,
            unsigned char* contents, uint64_t bytes);

  // AT burst option (DmaOptions::burst_bytes).
  struct BurstPool : tlm::tlm_mm_interface {  // the memory manager: reusable payloads
    std::vector<tlm::tlm_generic_payload*> idle, all;
    proto::TransferExt* ext_of(tlm::tlm_generic_payload& gp);
    tlm::tlm_generic_payload* get();
    void free(tlm::tlm_generic_payload* gp) override { idle.push_back(gp); }
    ~BurstPool() override;
  };
  // The memory side as bursts from absolute time `at`; returns the last response's time.
  sc_core::sc_time issue_bursts(bool write, uint64_t address, uint64_t bytes,
                                const proto::TransferExt& ext, sc_core::sc_time at,
                                unsigned char* data);
  void on_forward_return(tlm::tlm_generic_payload& gp, tlm::tlm_sync_enum result,
                         const tlm::tlm_phase& phase, const sc_core::sc_time& request,
                         const sc_core::sc_time& when);
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  void end_request(const tlm::tlm_generic_payload& gp, const sc_core::sc_time& when);
  // A burst's response, due at absolute time `when`; releases the DMA's hold on the payload.
  void complete(tlm::tlm_generic_payload& gp, const sc_core::sc_time& when);
  uint32_t burst_bytes_;
  BurstPool pool_;
  // The burst whose BEGIN_REQ has no END_REQ yet (request exclusion), and the latest END_REQ.
  const tlm::tlm_generic_payload* open_request_ = nullptr;
  sc_core::sc_time request_ends_;
  uint64_t responses_due_ = 0;
  sc_core::sc_time last_response_;  // latest response time of the current command
  sc_core::sc_event end_req_, response_;
};

}  // namespace acceltran
