// On-chip SRAM buffer (activation, weight or mask), see docs/memory.md.
//
// Two faces:
//  * TLM target sockets modelling the buffer's ports: `socket` for DMA transfers, `core_socket`
//    (any number of initiators) for the operand, partial-sum and output traffic of the compute
//    engines. b_transport reserves the ports for ceil(bytes / port_bytes_per_cycle) cycles at or
//    after the request time, charges the access energy and returns delay = completion - now
//    (protocol.hpp; the target never waits). Banked ports (MemoryPolicy, memory_policy.hpp;
//    default profile): `banks` banks with a port of bank_width_bytes each, data interleaved
//    over all banks, so every transfer spreads over all ports and transfers contend for them in
//    request order. Otherwise (reference profile): one port of technology
//    buffers.port_bandwidth_gbps. Both sockets check each request
//    (proto::check_access over [0, capacity)) and answer the standard error responses; both
//    take whole transfers and streams (streaming width <= data length, the window
//    [address, address + width) in the buffer: the engines' port streams, and a DMA transfer
//    of a part larger than its placement, dma.hpp).
//    Both also take nb_transport_fw (BEGIN_REQ answered TLM_COMPLETED with the b_transport
//    timing, proto::serve_nb_transport_fw). Partial byte enables move only the enabled bytes
//    (port time and energy: those of the whole data length).
//    transport_dbg on both sockets reads and writes the attached DataStore (data_store.hpp;
//    none in performance mode: 0 bytes);
//  * a direct C++ API for the control block's bookkeeping: a residency table keyed by
//    (tensor, part) with pins, eviction (next use, LRU or FIFO) and spill reporting. With
//    placements tracked (functional runs: a store attached; or track_placements()), every
//    resident entry has a placement: a contiguous byte range [address_of(k), + bytes) in
//    [0, capacity), chosen first fit in address order; when the free bytes are enough but no
//    single free range holds the entry, the buffer compacts (slides every entry down to the
//    lowest addresses, moving the attached store's bytes with them; docs/memory.md "Address
//    map"). Placement never changes what fits, what is evicted or any timing; untracked (a
//    performance run), entries have none (address_of: kNotPlaced), which saves a spill-heavy
//    run a compaction per fragmented allocation.
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/config/zero_free_format.hpp"
#include "acceltran/hw/memory/data_store.hpp"
#include "acceltran/hw/memory/memory_policy.hpp"
#include "acceltran/hw/sim_options.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

// Stored sizes come from zero_free_format.hpp: zero_free_bytes(elements, word_bits, sparsity) =
// ceil(elements x word_bits x (1 - sparsity) / 8) data bytes, mask_bytes_for(elements) =
// ceil(elements / 8) bytes in the mask buffer.

// A resident unit of data: a tensor, or one part of it (tile row, chunk, ...). The part index
// is chosen by the caller (the control block); 0 when the whole tensor is one unit.
struct ResidentKey {
  uint32_t tensor = 0xffffffffu;  // the caller's tensor id (none: all ones)
  uint32_t part = 0;
  bool operator<(const ResidentKey& o) const {
    return tensor != o.tensor ? tensor < o.tensor : part < o.part;
  }
  bool operator==(const ResidentKey& o) const { return tensor == o.tensor && part == o.part; }
};

// An entry removed from the buffer to make room. spill == true: the needed-later callback said
// a later instruction still reads it, so the caller must write it back (DMA SPILL) and reload
// it (LOAD_A) when needed.
struct Evicted {
  ResidentKey key;
  uint64_t bytes = 0;
  bool spill = false;
};

struct AllocResult {
  bool fitted = false;           // false: pinned data leave too little room; nothing evicted
  bool hit = false;              // the key was already resident (nothing allocated)
  std::vector<Evicted> evicted;  // in eviction order
};

struct SramStats {
  uint64_t bytes_read = 0, bytes_written = 0;  // through the port (b_transport)
  uint64_t port_accesses = 0, blocks_accessed = 0;
  uint64_t port_busy_cycles = 0;
  uint64_t hits = 0, misses = 0;       // lookup() / allocate() of a key
  uint64_t evictions = 0, spills = 0;  // spills: evictions of data needed later
  uint64_t evicted_bytes = 0, spilled_bytes = 0;
  uint64_t allocations = 0, failed_allocations = 0;
  uint64_t peak_occupancy_bytes = 0;
  double occupancy_byte_cycles = 0;  // integral of occupancy over time (byte x cycles)
  double dynamic_energy_nj = 0;
};

class SramBuffer : public sc_core::sc_module {
 public:
  static constexpr uint64_t kNow = ~uint64_t{0};  // "the current kernel time" for cycle args
  using NeededLater = std::function<bool(const ResidentKey&)>;
  // Eviction policy next_use: the position of a key's next use in the program (smaller: sooner;
  // kNeverUsed: none).
  using NextUse = std::function<uint64_t(const ResidentKey&)>;
  static constexpr uint64_t kNeverUsed = ~uint64_t{0};
  // What an allocation may evict under policy next_use (docs/memory.md §2.3): only entries used
  // after the one placed (a load, possibly ahead of need), or any unpinned entry, furthest next
  // use first (an instruction issuing now). LRU and FIFO always evict any unpinned entry.
  enum class EvictionReach { used_later, any };

  tlm_utils::simple_target_socket<SramBuffer> socket;  // DMA
  // Compute engines; may stay unbound (a buffer tested alone).
  tlm_utils::multi_passthrough_target_socket_optional<SramBuffer> core_socket;

  // size_mb: capacity in MB (1 MB = 2^20 bytes). port_bandwidth_gbps converted with
  // opts.bandwidth (bytes: 1e9 B/s; words: 2^30 x word_bits/8 B/s).
  SramBuffer(sc_core::sc_module_name name, proto::Buffer kind, double size_mb,
             const BufferFigures& fig, double port_bandwidth_gbps, double clock_mhz,
             const SimOptions& opts, int word_bits = 20);

  // The activation, weight or mask buffer of an accelerator config (size and banks from cfg,
  // figures, clock and word size from tech; the reference profile's single port from tech).
  static std::unique_ptr<SramBuffer> from_config(sc_core::sc_module_name name, proto::Buffer kind,
                                                 const AcceleratorConfig& cfg,
                                                 const Technology& tech, const SimOptions& opts);

  // --- residency (direct calls) ---
  void set_needed_later(NeededLater f) { needed_later_ = std::move(f); }
  void set_next_use(NextUse f) { next_use_ = std::move(f); }
  EvictionPolicy eviction() const { return opts_.eviction; }
  bool contains(const ResidentKey& k) const { return table_.count(k) != 0; }
  // Counts a hit (and refreshes LRU age) or a miss.
  bool lookup(const ResidentKey& k, uint64_t now_cycle = kNow);
  // Makes `bytes` resident under `k` (already resident: only refreshes its LRU age), evicting
  // unpinned entries (policy order, within `reach`) if needed. Throws InputError if bytes >
  // capacity (names the tensor, its size and the capacity).
  AllocResult allocate(const ResidentKey& k, uint64_t bytes, const std::string& tensor_name = "",
                       uint64_t now_cycle = kNow, EvictionReach reach = EvictionReach::used_later);
  // Would allocate(k, bytes, ..., reach) fit now (resident already, or room after the policy's
  // evictions)? Evicts nothing.
  bool can_allocate(const ResidentKey& k, uint64_t bytes,
                    EvictionReach reach = EvictionReach::used_later) const;
  // Re-ranks an unpinned entry after its next use moved (policy next_use; LRU: a use).
  void refresh(const ResidentKey& k, uint64_t now_cycle = kNow);
  // Evicts unpinned entries in policy order until `bytes` are free or none is left (the caller
  // spills those needed later).
  std::vector<Evicted> make_free(uint64_t bytes, uint64_t now_cycle = kNow);
  // Removes an entry without spilling (its data are dead). Returns false if not resident.
  bool release(const ResidentKey& k, uint64_t now_cycle = kNow);
  void pin(const ResidentKey& k);    // throws std::logic_error if not resident
  void unpin(const ResidentKey& k);  // throws std::logic_error if not pinned
  int pin_count(const ResidentKey& k) const;
  uint64_t resident_bytes(const ResidentKey& k) const;
  std::vector<ResidentKey> resident_keys() const;  // in eviction order (first = next victim)
  // Placement (buffer byte address) of a resident entry, or of an evicted one's last placement
  // (a spill reads it there before anything else is written); kNotPlaced if never placed.
  static constexpr uint64_t kNotPlaced = ~uint64_t{0};
  uint64_t address_of(const ResidentKey& k) const;
  // Its size: resident_bytes, or an evicted entry's last (0 if never placed).
  uint64_t placed_bytes(const ResidentKey& k) const;
  uint64_t compactions() const { return compactions_; }
  // Empties the residency table (every entry and placement; a programmable top's next run).
  // Statistics and the attached store's bytes stay.
  void clear_residency(uint64_t now_cycle = kNow);

  // --- port (direct call; b_transport uses it) ---
  // Reserves the port at or after request_cycle; returns the completion cycle.
  // energy_nj < 0: the default, per block_bytes block.
  uint64_t access(uint64_t request_cycle, uint64_t bytes, bool write, double energy_nj = -1);

  // --- contents (functional mode; see data_store.hpp) ---
  // Attaches a store (not owned; nullptr: performance mode, the default). Writes through the
  // sockets then copy their data into it, reads copy out of it.
  // Attaching a store also tracks placements (the store's bytes live at them).
  void attach_store(DataStore* store) {
    store_ = store;
    if (store) track_placements();
  }
  // Places every entry from now on (before the first allocation; a performance-mode top that
  // wants the DMA's buffer-side addresses). Throws std::logic_error once entries exist.
  void track_placements();
  bool tracks_placements() const { return track_placements_; }
  DataStore* store() const { return store_; }

  // --- figures ---
  proto::Buffer buffer_kind() const { return kind_; }
  double size_mb() const { return size_mb_; }
  uint64_t capacity_bytes() const { return capacity_bytes_; }
  uint64_t used_bytes() const { return used_bytes_; }
  uint64_t free_bytes() const { return capacity_bytes_ - used_bytes_; }
  uint64_t pinned_bytes() const { return pinned_bytes_; }
  // The most any allocation can obtain: free bytes plus every unpinned entry.
  uint64_t placeable_bytes() const { return capacity_bytes_ - pinned_bytes_; }
  double port_bytes_per_cycle() const { return port_bytes_per_cycle_; }
  int banks() const { return banks_; }
  // Banked ports: `banks` ports of `width_bytes` per cycle (replaces the single-port rate).
  void set_banked_ports(int banks, int width_bytes);
  uint64_t port_free_cycle() const { return port_free_cycle_; }
  double area_um2() const { return fig_.area_um2_per_mb * size_mb_; }
  double leakage_mw() const { return fig_.leakage_mw_per_mb * size_mb_; }
  // access_energy_nj x sqrt(size_mb), per block_bytes block.
  double energy_per_block_nj() const;
  double access_energy_nj(uint64_t bytes) const;
  double leakage_energy_nj(uint64_t elapsed_cycles) const;
  const SramStats& stats() const { return stats_; }
  // Time-averaged occupancy over [0, now_cycle] (bytes).
  double average_occupancy_bytes(uint64_t now_cycle = kNow);

 private:
  // Eviction order: smallest first. rank: 0 (lru, fifo) or, for next_use, kNeverUsed - next use
  // (the entry used farthest in the future first); seq: insertion (fifo) or last use sequence.
  struct OrderKey {
    uint64_t rank = 0, seq = 0;
    bool operator<(const OrderKey& o) const { return rank != o.rank ? rank < o.rank : seq < o.seq; }
  };
  struct Entry {
    uint64_t bytes = 0;
    uint64_t address = 0;  // placement: [address, address + bytes)
    int pins = 0;
    uint64_t last_use_cycle = 0;
    OrderKey order;  // key of order_
    uint64_t insert_seq = 0;
  };
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  void core_b_transport(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  tlm::tlm_sync_enum core_nb_transport_fw(int id, tlm::tlm_generic_payload& gp,
                                          tlm::tlm_phase& phase, sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& gp);
  unsigned int core_transport_dbg(int id, tlm::tlm_generic_payload& gp);
  // Checks the request (a stream may be longer than its window) and serves it: port timing
  // from the payload's time, contents when a store is attached.
  void serve(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  uint64_t now_or(uint64_t c) const;
  void advance_occupancy(uint64_t now_cycle);
  void set_used(uint64_t bytes, uint64_t now_cycle);
  void touch(const ResidentKey& k, Entry& e, uint64_t now_cycle);
  uint64_t rank_of(const ResidentKey& k) const;
  void evict_until(uint64_t need, uint64_t now_cycle, std::vector<Evicted>& evicted);
  // Bytes the policy may evict to place `k` within `reach`, up to `need`.
  uint64_t evictable_bytes(const ResidentKey& k, uint64_t need, EvictionReach reach) const;
  // Placement: a free range of `bytes` (first fit; compacts when the free bytes are scattered).
  uint64_t place(uint64_t bytes);
  void unplace(const ResidentKey& k, const Entry& e);  // its range becomes free
  void compact();

  proto::Buffer kind_;
  double size_mb_;
  BufferFigures fig_;
  double clock_mhz_;
  SimOptions opts_;
  MemoryPolicy policy_;  // chosen from the profile once, here
  uint64_t capacity_bytes_;
  double port_bytes_per_cycle_;
  int banks_ = 1;
  uint64_t port_free_cycle_ = 0;
  double port_free_ = 0, port_busy_ = 0;  // banked ports: fractional port time
  uint64_t used_bytes_ = 0;
  uint64_t occupancy_since_cycle_ = 0;
  uint64_t seq_ = 0;
  struct KeyHash {
    size_t operator()(const ResidentKey& k) const {
      return std::hash<uint64_t>()((static_cast<uint64_t>(k.tensor) << 32) | k.part);
    }
  };
  std::unordered_map<ResidentKey, Entry, KeyHash> table_;
  std::map<OrderKey, ResidentKey> order_;  // unpinned entries, eviction order: smallest first
  uint64_t pinned_bytes_ = 0;
  NeededLater needed_later_;
  NextUse next_use_;
  DataStore* store_ = nullptr;
  bool track_placements_ = false;  // entries get placements (address_of)
  SramStats stats_;
  std::map<uint64_t, uint64_t> free_ranges_;  // placement: free [address, address + bytes)
  // Evicted entries' last placements (address, bytes).
  std::unordered_map<ResidentKey, std::pair<uint64_t, uint64_t>, KeyHash> last_address_;
  uint64_t compactions_ = 0;
};

}  // namespace acceltran
