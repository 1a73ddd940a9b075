// The VCD tracer: owns every traced signal, one VCD scope per block, each driven from its block's
// own state and sampled at every cycle where that state changes (docs/user-guide.md, "VCD").
//
// The control block calls on_control_event() at each of its events (an instruction issued or
// completed); the tracer samples then and, because the blocks know in advance when each unit,
// lane, DMA engine and memory channel becomes free, it also queues those future cycles and
// samples again at each of them from its own thread. Only cycles inside the trace window
// [T0, T1] are sampled, and nothing is dumped after T1.
//
// No rescan: the PE array and the softmax and layer-norm pools note the units they write
// (unit_change_log.hpp); at each refresh the tracer reads only those (and the few DMA engines)
// and keeps, per kind, the count of units busy after the last refresh, lowered as time passes
// their free cycles (BusyUnits).
#pragma once
#include <systemc>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "acceltran/compiler/isa.hpp"

namespace acceltran {

class ControlBlock;
class PeArray;
class UnitPoolEngine;
class SramBuffer;
class Dma;
class MainMemory;

struct TraceOptions {
  std::string vcd_path;  // empty: no VCD
  uint64_t window_begin_cycle = 0, window_end_cycle = ~uint64_t{0};
};

// The blocks a tracer reads. The PE array and the unit pools are not const only because the
// tracer takes their change logs; their state is not written.
class DynaTranUnit;
struct TracedBlocks {
  const Program* program = nullptr;
  const ControlBlock* control = nullptr;
  PeArray* pe_array = nullptr;
  UnitPoolEngine* softmax = nullptr;
  UnitPoolEngine* layer_norm = nullptr;
  const SramBuffer* activation_buffer = nullptr;
  const SramBuffer* weight_buffer = nullptr;
  const SramBuffer* mask_buffer = nullptr;
  const Dma* dma = nullptr;
  const MainMemory* main_memory = nullptr;
  const DynaTranUnit* dynatran = nullptr;  // functional runs only
};

// Units of one kind busy after the tracer's last refresh, kept from the units that changed: the
// free cycle each unit had when last seen and, per distinct future free cycle, how many units
// (and how many marked ones: lanes of pruned ops) become free then. Allocation-free once the
// bucket list has grown to its working size.
class BusyUnits {
 public:
  void resize(size_t units);
  // Drops the units free by `now`; `now` never decreases.
  void advance(uint64_t now);
  // The unit's free cycle as read at `now` (after advance(now)). A unit whose free cycle
  // changed takes `marked`. True when no unit was due to become free at that (later) cycle.
  bool update(size_t unit, uint64_t free_cycle, bool marked, uint64_t now);
  uint32_t busy() const { return busy_; }
  uint32_t marked_busy() const { return marked_busy_; }

 private:
  struct Bucket {
    uint64_t cycle;
    uint32_t units, marked;
  };
  std::vector<Bucket>::iterator bucket_at(uint64_t cycle);

  std::vector<uint64_t> seen_;
  std::vector<char> marked_;
  std::vector<Bucket> buckets_;  // from head_ on: sorted by cycle, all later than the last advance
  size_t head_ = 0;
  uint32_t busy_ = 0, marked_busy_ = 0;
};

class Tracer : public sc_core::sc_module {
 public:
  // Throws InputError when the VCD file cannot be created.
  Tracer(sc_core::sc_module_name name, const TraceOptions& opts, const TracedBlocks& blocks,
         double clock_mhz);
  ~Tracer() override;

  // Samples every signal at `now` and queues the cycles where a block's state will change.
  void on_control_event(uint64_t now);

  // VCD time unit: 1 ps (a cycle lasts 1e6 / clock_mhz ps).
  static constexpr const char* kTimescale = "1 ps";

 private:
  void refresh(uint64_t now);  // reads the blocks' free cycles, queues the future ones
  void sample(uint64_t now);
  void queue(uint64_t cycle);
  void sampler();  // SC_THREAD: samples at the queued cycles
  bool in_window(uint64_t c) const {
    return c >= opts_.window_begin_cycle && c <= opts_.window_end_cycle;
  }

  TraceOptions opts_;
  TracedBlocks blocks_;
  double clock_mhz_;
  std::string file_;
  sc_core::sc_trace_file* tf_ = nullptr;
  std::set<uint64_t> pending_;
  bool run_done_ = false;
  uint64_t run_end_cycle_ = 0;
  sc_core::sc_event wake_;
  // Busy units as of the last refresh (lanes marked: DynaTran, the op each lane last started a
  // job of prunes its output). They change only when the control block issues.
  BusyUnits lanes_, softmax_units_, layer_norm_units_, dma_engines_;
  bool refresh_due_ = false;

  // Traced values (scope.signal in the VCD).
  struct {
    uint64_t cycle = 0, issued = 0, completed = 0;
    int32_t layer = -1;
    int32_t op_id = -1;
    uint32_t compute_in_flight = 0;
  } control_;
  uint32_t pe_busy_lanes_ = 0, softmax_busy_units_ = 0, layer_norm_busy_units_ = 0;
  uint32_t dynatran_active_lanes_ = 0;
  // Functional runs: blocks pruned and zeros produced so far, and the zero fraction (per mille)
  // of the blocks pruned since the previous sample.
  uint64_t dynatran_blocks_ = 0, dynatran_zeros_ = 0, dynatran_elements_ = 0;
  uint32_t dynatran_sparsity_permille_ = 0;
  uint64_t activation_used_bytes_ = 0, weight_used_bytes_ = 0, mask_used_bytes_ = 0;
  uint32_t dma_in_flight_ = 0, dma_busy_engines_ = 0;
  uint64_t dma_bytes_ = 0;
  bool memory_busy_ = false;
  uint64_t memory_bytes_ = 0;
};

}  // namespace acceltran
