// Main-memory controller (LP-DDR3 DRAM, HBM, monolithic-3D RRAM), see docs/memory.md.
//
// A TLM target serving reads and writes of any size (protocol.hpp: the target never waits; it
// reserves banks and data buses and returns delay = completion - now). Internally the timeline
// is kept in picoseconds (double): a 64-byte burst at 25.6 GB/s lasts 2.5 ns = 1.75 accelerator
// cycles, and rounding every burst to whole cycles would distort the bandwidth by 14 %.
//
// Address mapping (burst granularity, low to high bits):
//   offset-in-burst : channel : column : rank : bank : row
// so consecutive bursts alternate channels, a row of one bank is filled next, then the next
// rank, then the next bank.
//
// Capacity: the memory decodes address_bits-bit byte addresses (default 36: 64 GiB, above the
// largest footprint of the design space, BERT-Large at batch 32, sequence 512 on Server,
// which passes 2 GiB). Requests are checked with
// proto::check_access over [0, capacity) and answered with the standard error responses
// (whole transfers: streaming width = data length). nb_transport_fw is served like b_transport
// and answered TLM_COMPLETED (early completion, proto::serve_nb_transport_fw). Partial byte
// enables write and read only the enabled bytes (time and energy: the whole data length).
// transport_dbg reads and writes the
// attached DataStore (0 bytes without one); get_direct_mem_ptr grants read/write DMI to the
// store's pages (none without a store).
#pragma once
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/hw/memory/data_store.hpp"
#include "acceltran/hw/memory/memory_timing.hpp"
#include "acceltran/hw/sim_options.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

// technology.yaml main_memory.access_energy_nj is per 64-byte access.
constexpr uint64_t kMainMemoryAccessBytes = 64;

struct MainMemoryOptions {
  enum class Mode { automatic, per_burst, bulk };
  Mode mode = Mode::automatic;  // automatic: bulk for sequential transfers >= bulk_threshold
  uint64_t bulk_threshold_bytes = 16384;
  bool refresh = true;            // refresh windows (types with tREFI > 0, detailed model)
  bool background_power = false;  // add background_mw and refresh energy to total_energy_nj
  int address_bits = 36;          // capacity 2^address_bits bytes (see above)
};

struct MemAddress {
  int channel = 0, rank = 0, bank = 0;
  uint64_t row = 0;
  uint32_t column = 0;  // burst index within the row
};

struct MainMemoryStats {
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t reads = 0, writes = 0;  // transactions
  uint64_t bulk_transfers = 0;     // transactions served by the bulk (analytic) path
  uint64_t bursts = 0;
  uint64_t accesses_64b = 0;              // energy-table accesses: ceil(bytes / 64) per transaction
  uint64_t row_hits = 0, row_misses = 0;  // misses = activations
  uint64_t row_conflicts = 0;             // misses that first had to close another row
  uint64_t refresh_stalls = 0;            // accesses delayed by a refresh window
  double first_request_ps = -1, last_completion_ps = 0;
  double dynamic_energy_nj = 0;
  // bytes / (last completion - first request), GB/s (1e9 B/s).
  double achieved_bandwidth_gbps() const {
    double span = last_completion_ps - first_request_ps;
    return span > 0 ? static_cast<double>(bytes_read + bytes_written) / (span * 1e-3) : 0.0;
  }
};

class MainMemory : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MainMemory> socket;

  // Throws InputError for an unknown bandwidth class, a layout (type, banks, ranks, channels)
  // with no access energy in technology.yaml, or a type with no timing in memory.yaml.
  MainMemory(sc_core::sc_module_name name, const MainMemoryConfig& cfg, const Technology& tech,
             const MemoryTimingTable& timing, const SimOptions& opts,
             const MainMemoryOptions& mopts = {});

  // InputError if (banks, ranks, channels) is not a layout of `cfg.type` in design_space.yaml.
  static void check_layout(const MainMemoryConfig& cfg, const DesignSpace& space);

  // The configured memory's peak bandwidth (bytes/s after the bandwidth convention) and energy
  // per 64-byte access, as the constructor takes them (InputError for an unknown bandwidth
  // class or layout); also for a report whose memory is an external model.
  static double peak_bytes_per_second(const MainMemoryConfig& cfg, const Technology& tech,
                                      const SimOptions& opts);
  static double access_energy_nj(const MainMemoryConfig& cfg, const Technology& tech);

  // Direct call: serves a transfer requested at request_ps; returns its completion (ps).
  // energy_nj < 0: the default, per 64-byte access.
  double access(double request_ps, uint64_t address, uint64_t bytes, bool write,
                bool sequential = true, double energy_nj = -1);

  // Functional mode (data_store.hpp): attaches a store (not owned; nullptr: performance mode).
  void attach_store(DataStore* store) { store_ = store; }
  DataStore* store() const { return store_; }
  uint64_t capacity_bytes() const { return capacity_bytes_; }

  MemAddress decode(uint64_t address) const;
  uint64_t encode(const MemAddress& a) const;

  // Peak bandwidth in bytes/s after the bandwidth convention (= configured GB/s x 1e9 in bytes).
  double peak_bytes_per_second() const { return bytes_per_s_; }
  double burst_ps() const { return burst_ps_; }  // one burst on one channel
  double energy_per_access_nj() const { return energy_per_access_nj_; }
  const MemoryTiming& timing() const { return t_; }
  const MainMemoryConfig& config() const { return cfg_; }
  bool ideal() const { return ideal_; }
  bool refresh_enabled() const { return refresh_; }
  // Documented refresh bandwidth overhead: (tRFC + tRCD) / (tREFI - tRFC - tRCD) (0 if none).
  double refresh_overhead() const;
  // Background and refresh energy over elapsed_ps (0 unless options.background_power).
  double background_energy_nj(double elapsed_ps) const;
  double total_energy_nj(double elapsed_ps) const {
    return stats_.dynamic_energy_nj + background_energy_nj(elapsed_ps);
  }
  const MainMemoryStats& stats() const { return stats_; }
  // Time (ps) until which a transfer already requested still occupies a channel (VCD tracing).
  double busy_until_ps() const {
    double t = pipe_free_ps_;
    for (double c : bus_free_ps_) t = c > t ? c : t;
    return t;
  }

 private:
  struct Bank {
    int64_t open_row = -1;
    double act_ps = -1e18, ready_ps = 0, last_use_ps = 0, wr_end_ps = -1e18;
  };
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& gp);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);
  double burst_access(double t, uint64_t burst_index, bool write);
  double bulk_access(double t, uint64_t first_burst, uint64_t n_bursts, bool write);
  double after_refresh(double t) const;
  int64_t epoch(double t) const;
  Bank& bank_of(const MemAddress& a) {
    return banks_[(static_cast<size_t>(a.channel) * cfg_.ranks + a.rank) * cfg_.banks + a.bank];
  }

  MainMemoryConfig cfg_;
  MemoryTiming t_;
  MainMemoryOptions mopts_;
  PublishedBehaviours published_;  // the reference profile's switches
  bool ideal_;
  bool refresh_;
  double bytes_per_s_;
  double burst_ps_;
  uint64_t bursts_per_row_;
  double energy_per_access_nj_;
  uint64_t capacity_bytes_;
  DataStore* store_ = nullptr;
  double tRCD_, tCL_, tCWL_, tRP_, tRAS_, tWR_, tREFI_, tRFC_;  // ps
  std::vector<Bank> banks_;
  std::vector<double> bus_free_ps_;  // per channel
  double pipe_free_ps_ = 0;          // ideal model
  double mask_pipe_free_ps_ = 0;     // ideal model, --reference-bugs mask-own-bandwidth
  MainMemoryStats stats_;
};

}  // namespace acceltran
