// Run-wide modelling choices shared by the hardware blocks.
#pragma once
#include <string>

#include "acceltran/config/profile.hpp"

namespace acceltran {

// How GB/s figures become bytes per cycle. bytes: 1 GB/s = 1e9 bytes/s (physical).
// words: the published simulator's GB/s * 2^30 * 20 / f "bits" per cycle, i.e. it treats a
// byte as a 20-bit word (2.5x optimistic); kept to reproduce its figures.
enum class BandwidthConvention { bytes, words };

// detailed: banks, rows, refresh. ideal: a pure bandwidth pipe (reference profile).
enum class MemoryModel { detailed, ideal };

// lru, fifo: the unpinned entry used least recently / loaded first. next_use: the unpinned entry
// whose next use lies farthest in the (static) program; a load never evicts one needed sooner
// than itself (docs/memory.md §2.3).
enum class EvictionPolicy { lru, fifo, next_use };

struct SimOptions {
  Profile profile = Profile::hardware;
  BandwidthConvention bandwidth = BandwidthConvention::bytes;
  MemoryModel memory_model = MemoryModel::detailed;
  EvictionPolicy eviction = EvictionPolicy::next_use;
  bool leakage_when_idle = false;  // false: idle units are power-gated (published model)
  double activation_sparsity = 0.5;
  double weight_sparsity = 0.5;
  PublishedBehaviours published;  // the reference profile's switches (--reference-bugs)
  bool check_protocol = false;    // a base-protocol checker on every socket (--check-protocol)
};

}  // namespace acceltran
