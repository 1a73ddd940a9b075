// Main-memory timing parameters per memory type (models/memory.yaml), see docs/memory.md.
// Plain C++ (no SystemC).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "acceltran/config/accelerator_config.hpp"

namespace acceltran {

struct MemoryTiming {
  double tRCD_ns = 0, tCL_ns = 0, tCWL_ns = 0, tRP_ns = 0, tRAS_ns = 0, tWR_ns = 0;
  double tREFI_ns = 0, tRFC_ns = 0;  // tREFI_ns == 0: no refresh
  int burst_length = 8;
  int burst_bytes = 64;  // bytes per column command per channel
  int row_bytes = 4096;  // row (page) size per bank
  double background_mw = 0, refresh_energy_nj = 0;
  bool has_refresh() const { return tREFI_ns > 0 && tRFC_ns > 0; }
  // Fraction of time a rank is unavailable because of refresh: tRFC / tREFI.
  double refresh_duty() const { return has_refresh() ? tRFC_ns / tREFI_ns : 0.0; }
};

struct MemoryTimingTable {
  std::string source;
  std::map<MemoryType, MemoryTiming> types;
  uint64_t dma_setup_cycles = 0;  // key dma.setup_cycles: fixed latency before a DMA transfer
  // Throws InputError naming the type and the file when the type has no entry.
  const MemoryTiming& at(MemoryType t) const;
};

// "rram" | "dram" | "hbm"; anything else: InputError listing the allowed names.
MemoryType parse_memory_type(const std::string& text);

// Loads models/memory.yaml (or the given path). Unknown types, unknown or missing keys and
// non-positive sizes are InputErrors naming the file and the key.
MemoryTimingTable load_memory_timing(const std::string& path);
// models_dir()/memory.yaml
std::string default_memory_timing_path();

}  // namespace acceltran
