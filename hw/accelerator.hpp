// The AccelTran top level: every block instantiated and bound by TLM sockets, the control block
// driving them, and the run's report assembled from each block's own statistics.
//
//   ControlBlock --pe_socket--------> PeArray
//                --softmax_socket---> SoftmaxEngine
//                --layer_norm_socket> LayerNormEngine
//                --dma_socket-------> Dma --memory_socket-----> MainMemory
//                                         --activation_socket-> SramBuffer (activation)
//                                         --weight_socket-----> SramBuffer (weight)
//                                         --mask_socket-------> SramBuffer (mask)
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "acceltran/compiler/isa.hpp"
#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/hw/compute/datapath.hpp"
#include "acceltran/hw/control/control_block.hpp"
#include "acceltran/hw/control/tracer.hpp"
#include "acceltran/hw/sim_options.hpp"

namespace acceltran {

struct BlockEnergy {
  double dynamic_nj = 0, leakage_nj = 0;
  double total_nj() const { return dynamic_nj + leakage_nj; }
};

struct TimelineSample {
  uint64_t cycle = 0;
  double lanes_util = 0, softmax_util = 0, layer_norm_util = 0, dma_util = 0;
  uint64_t activation_bytes = 0, weight_bytes = 0, mask_bytes = 0;
  double power_w = 0;
};

// Per-op figures of a run (report.json "ops", ops.csv).
struct OpReport {
  std::string name, kind;
  int layer = -1, head = -1;
  uint64_t blocks = 1;
  OpRunStats run;
  uint64_t macs = 0;     // unpadded multiply-accumulates of the op
  double energy_nj = 0;  // units + its buffer traffic + its main-memory traffic (attributed)
  // Bounds (docs/performance.md, "Bounds"): all its tiles spread over every unit of its engine
  // class, and the cycles of the critical path spent in its tile jobs.
  double shortest_cycles = 0, critical_path_cycles = 0;
  // Overlap: other ops running at its first cycle, and the cycles of [first_cycle, last_cycle)
  // in which at least one other op ran.
  uint64_t ops_in_flight_at_start = 0, overlap_cycles = 0;
};

// A functional run (`simulate --functional`): the data path's measurements and its comparison
// with the independent float32 reference (compiler/float_reference.hpp).
struct LayerError {
  std::string name;                              // "embeddings", "layer 0", ...
  double max_abs = 0, relative = 0, cosine = 0;  // over the batch: max |f - r|, |f - r| / |r|
};
struct PrunedTensor {
  std::string op;
  int layer = -1;
  uint64_t elements = 0, zeros = 0;
  double sparsity() const {
    return elements ? static_cast<double>(zeros) / static_cast<double>(elements) : 0;
  }
};
struct FunctionalResult {
  bool enabled = false;
  std::string weights, tokens, prune;  // sources and "dynatran tau=..." / "topk k=..."
  bool synthetic = false;
  double tau = 0;
  int64_t topk = 0;
  std::vector<LayerError> layers;    // embeddings, then every layer's output
  std::vector<PrunedTensor> pruned;  // every op whose output the post-sparsity units prune
  uint64_t pruned_elements = 0, pruned_zeros = 0, saturated = 0;
  uint64_t dynatran_blocks = 0, dynatran_pruned = 0, topk_cycles = 0;
  int64_t batch = 0, seq_len = 0, hidden = 0;
  std::vector<float> output;  // final hidden states, batch x seq_len x hidden
  std::vector<std::pair<std::string, double>> tensor_sparsity;  // every tensor, measured
  // The pruning policy (hw/compute/prune_policy.hpp) and the sparsity per tensor class, counted
  // two ways (docs/dynatran.md, "Counting sparsity"): over every element, padding included (the
  // published count), and without padding.
  std::string policy;
  struct ClassSparsity {
    std::string kind;  // q, k, v, scores, probabilities, ...; "weights" for tau_w
    uint64_t elements = 0, zeros = 0, unpadded_elements = 0, unpadded_zeros = 0;
  };
  std::vector<ClassSparsity> classes;
  double published_sparsity = 0;  // zeros / elements over the classes (and weights with tau_w)
  double unpadded_sparsity = 0;   // the same without padding, activations only
  uint64_t padding_tokens = 0;    // masked token positions of the batch
  double pruned_sparsity() const {
    return pruned_elements ? static_cast<double>(pruned_zeros) / pruned_elements : 0;
  }
};

// Everything a report needs, with units in the names.
struct SimResult {
  bool finished = false;
  std::string deadlock;
  uint64_t cycles = 0;
  double clock_mhz = 0;
  double latency_us = 0, throughput_seq_per_s = 0;
  int64_t batch = 0;
  std::vector<std::pair<std::string, BlockEnergy>> energy;  // fixed block order
  double energy_total_nj = 0, energy_per_seq_mj = 0;
  double power_average_w = 0, power_peak_w = 0;
  std::vector<std::pair<std::string, double>> area_um2;  // per block + total
  std::map<std::string, double> utilization;             // busy fraction per engine class
  std::map<std::string, uint64_t> stall_cycles;
  std::map<std::string, double> memory;   // bytes, spills, rows, bandwidth
  std::map<std::string, double> compute;  // MACs, reuse counts
  std::array<uint64_t, kOpcodeCount> issued{}, completed{}, program{};
  uint64_t program_instructions = 0;
  uint64_t tiles_dispatched = 0, dispatches = 0;
  uint64_t stream_load_bytes = 0, stream_store_bytes = 0;  // from the program
  uint64_t loaded_bytes = 0, stored_bytes = 0;             // moved by the DMA
  uint64_t macs = 0;                                       // unpadded, from the program
  uint64_t total_macs_per_cycle = 0;
  double memory_bytes_per_cycle = 0;
  // Lower bounds on cycles (each a resource that cannot be busier than 100 %) and
  // efficiency = largest bound / cycles.
  std::map<std::string, double> bounds_cycles;
  double efficiency = 0;
  // The critical path (docs/performance.md, "Bounds"): the program's longest chain of dependent
  // instructions, each at its shortest duration on this accelerator, of which main-memory
  // transfers; the ops on it, first to last. The achievable bound: the largest of the critical
  // path and the resource bounds, and which one it is. Efficiency = each bound / cycles.
  double critical_path_cycles = 0, critical_path_memory_cycles = 0;
  std::vector<std::string> critical_path_ops;
  double achievable_bound_cycles = 0;
  std::string achievable_bound_limit;
  double efficiency_vs_critical_path = 0, efficiency_vs_achievable_bound = 0;
  // Overlap of the ops: sum over ops of (last_cycle - first_cycle) / cycles, and the sum of the
  // ops' overlap_cycles.
  double ops_in_flight_average = 0;
  uint64_t overlapped_op_cycles = 0;
  // Where the cycles above the achievable bound went (docs/performance.md, "Efficiency loss"):
  // their number, the named cause and a one-line account of it.
  struct EfficiencyLoss {
    double cycles = 0;
    std::string cause, detail;
  } efficiency_loss;
  std::vector<OpReport> ops;
  std::vector<TimelineSample> timeline;
  FunctionalResult functional;
};

// How the top level is put together (docs/architecture.md, "Integration guide").
struct TopOptions {
  // internal: the top binds its own MainMemory. external: no MainMemory; the DMA's memory side
  // leaves the top through Accelerator::memory_socket, which the user binds to any
  // base-protocol target before sc_start (the report's main-memory figures then come from the
  // DMA's traffic and the configured memory's bandwidth and access energy).
  enum class MainMemory { internal, external };
  MainMemory main_memory = MainMemory::internal;
  // > 0: the DMA's memory side as AT bursts of this many bytes (DmaOptions::burst_bytes);
  // 0: one b_transport per transfer (loosely timed).
  uint32_t dma_burst_bytes = 0;
};

class MemoryTrace;

struct RunOptions {
  SimOptions sim;
  TopOptions top;
  MemoryTrace* memory_trace = nullptr;  // set: the DMA records main-memory traffic into it
  ControlOptions control;
  TraceOptions trace;
  uint64_t timeline_samples = 200;
  std::string memory_timing_path;               // empty: models/memory.yaml
  const FunctionalInput* functional = nullptr;  // set: a functional run (default profile)
};

// Elaborates the accelerator for `prog`, runs it to completion (or deadlock) and returns the
// report. A SystemC process elaborates once: call this at most once per process.
class Datapath;
class DynaTranUnit;
// The functional part of a finished run's result (the float reference runs here).
struct ReferenceResult;
FunctionalResult functional_result(const Datapath& dp, const DynaTranUnit& dt,
                                   const std::vector<ReferenceResult>& refs);

SimResult simulate(const Program& prog, const AcceleratorConfig& cfg, const Technology& tech,
                   const RunOptions& opts);

}  // namespace acceltran
