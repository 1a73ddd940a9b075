// Run-wide modelling choices shared by the hardware blocks.
#pragma once
#include <string>

namespace acceltran {

// bert: this project's hardware model (default). reference: the published AccelTran
// simulator's timing rules (BRIEF section 4), for validation against its figures.
enum class Profile { bert, reference };

// How GB/s figures become bytes per cycle. bytes: 1 GB/s = 1e9 bytes/s (physical).
// words: the published simulator's GB/s * 2^30 * 20 / f "bits" per cycle, i.e. it treats a
// byte as a 20-bit word (2.5x optimistic); kept to reproduce its figures.
enum class BandwidthConvention { bytes, words };

// detailed: banks, rows, refresh. ideal: a pure bandwidth pipe (reference profile).
enum class MemoryModel { detailed, ideal };

enum class EvictionPolicy { lru, fifo };

// Published-simulator behaviours that the reference profile fixes as bugs; each can be turned
// back on (`acceltran simulate --reference-bugs LIST`, docs/fidelity.md).
struct ReferenceBugs {
  bool softmax_overassign = false;        // pe.py assign_op: every free softmax module of a PE
  bool double_load_energy = false;        // loads charged in the data and the mask buffer
  bool mm_energy_per_element = false;     // load energy per 64 elements x (1 - s), no mask bytes
  bool store_energy_per_element = false;  // STORE_A buffer energy per 64 elements
  bool buffer_leakage_gated = false;      // buffers leak only while they transfer
  bool unclocked_submodules = false;      // no operand-read, dataflow-routing or DMA energy
  bool mask_own_bandwidth = false;        // ideal memory: a load's mask on a pipe of its own
  bool load_writes_free = false;          // loads charge no buffer write energy
};

struct SimOptions {
  Profile profile = Profile::bert;
  BandwidthConvention bandwidth = BandwidthConvention::bytes;
  MemoryModel memory_model = MemoryModel::detailed;
  EvictionPolicy eviction = EvictionPolicy::lru;
  bool leakage_when_idle = false;  // false: idle units are power-gated (published model)
  double activation_sparsity = 0.5;
  double weight_sparsity = 0.5;
  ReferenceBugs bugs;
  bool check_protocol = false;  // a base-protocol checker on every socket (--check-protocol)
};

}  // namespace acceltran
