// The VCD tracer: owns every traced signal, one VCD scope per block, each driven from its block's
// own state and sampled at every cycle where that state changes (docs/user-guide.md, "VCD").
//
// The control block calls on_control_event() at each of its events (an instruction issued or
// completed); the tracer samples then and, because the blocks know in advance when each unit,
// lane, DMA engine and memory channel becomes free, it also queues those future cycles and
// samples again at each of them from its own thread. Only cycles inside the trace window
// [T0, T1] are sampled, and nothing is dumped after T1.
#pragma once
#include <systemc>

#include <array>
#include <cstdint>
#include <set>
#include <string>
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

// The blocks a tracer reads (none of them is written).
class DynaTranUnit;
struct TracedBlocks {
  const Program* program = nullptr;
  const ControlBlock* control = nullptr;
  const PeArray* pe_array = nullptr;
  const UnitPoolEngine* softmax = nullptr;
  const UnitPoolEngine* layer_norm = nullptr;
  const SramBuffer* activation_buffer = nullptr;
  const SramBuffer* weight_buffer = nullptr;
  const SramBuffer* mask_buffer = nullptr;
  const Dma* dma = nullptr;
  const MainMemory* main_memory = nullptr;
  const DynaTranUnit* dynatran = nullptr;  // functional runs only
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
  // DynaTran: the op each lane last started a job of prunes its output.
  std::vector<uint64_t> lane_seen_free_;
  std::vector<char> lane_prunes_;
  // Free cycles later than the last refresh, sorted: lanes, lanes of pruned ops, softmax and
  // layer-norm units, DMA engines. They change only when the control block issues.
  enum { kLanes, kPruning, kSoftmax, kLayerNorm, kDma };
  std::array<std::vector<uint64_t>, 5> free_;
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
