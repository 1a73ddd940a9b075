// The accelerator's main-memory traffic as a trace that DRAM simulators replay
// (`simulate --memory-trace FILE`, docs/memory.md "Memory trace").
//
// The DMA records every main-memory transfer it issues (request cycle, read or write, address,
// bytes; AT bursts are recorded as the transfer they belong to). write_stl writes the DRAMSys
// STL trace-player format: comment lines beginning with '#', then one line per access of
// `burst_bytes` (64 by default: every aligned burst a transfer touches), in request-cycle
// order (transfers requested in the same cycle keep their issue order):
//
//   <cycle>:\t<read|write>\t0x<hex address>
//
// <cycle> counts accelerator clock cycles (the header names the clock: set the trace player's
// clkMhz to it). A transfer of n bytes at address a gives the bursts overlapping [a, a + n),
// so the lines of a run number exactly the main memory's 64-byte accesses
// (MainMemoryStats::accesses_64b; part homes are 4 KiB aligned). write_ramulator writes the same
// bursts for Ramulator 2 (its LoadStoreTrace front end).
#pragma once
#include <cstdint>
#include <ostream>
#include <vector>

namespace acceltran {

struct MemoryTraceRecord {
  uint64_t cycle = 0;  // the transfer's request cycle
  uint64_t address = 0, bytes = 0;
  bool write = false;
};

class MemoryTrace {
 public:
  void record(uint64_t cycle, bool write, uint64_t address, uint64_t bytes) {
    records_.push_back({cycle, address, bytes, write});
  }
  const std::vector<MemoryTraceRecord>& records() const { return records_; }
  uint64_t bytes_read() const;
  uint64_t bytes_written() const;
  // The bursts of `burst_bytes` (a power of two) that [address, address + bytes) overlaps.
  static uint64_t bursts(uint64_t address, uint64_t bytes, uint64_t burst_bytes);
  // DRAMSys .stl (see above); returns the number of access lines written.
  uint64_t write_stl(std::ostream& out, double clock_mhz, uint64_t burst_bytes = 64) const;
  // Ramulator 2's LoadStoreTrace: one line per burst, "LD 0x<address>" or "ST 0x<address>", in
  // the same order, no comments and no timestamps (the player issues them as fast as the memory
  // takes them); returns the number of lines.
  uint64_t write_ramulator(std::ostream& out, uint64_t burst_bytes = 64) const;

 private:
  // Calls visit(record, burst address) for every burst, in request-cycle order.
  template <typename Visit>
  void for_each_burst(uint64_t burst_bytes, Visit&& visit) const;
  std::vector<MemoryTraceRecord> records_;
};

}  // namespace acceltran
