#include "acceltran/hw/memory/memory_trace.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace acceltran {

uint64_t MemoryTrace::bytes_read() const {
  uint64_t bytes = 0;
  for (const MemoryTraceRecord& r : records_)
    if (!r.write) bytes += r.bytes;
  return bytes;
}

uint64_t MemoryTrace::bytes_written() const {
  uint64_t bytes = 0;
  for (const MemoryTraceRecord& r : records_)
    if (r.write) bytes += r.bytes;
  return bytes;
}

uint64_t MemoryTrace::bursts(uint64_t address, uint64_t bytes, uint64_t burst_bytes) {
  if (bytes == 0) return 0;
  const uint64_t first = address / burst_bytes;
  const uint64_t last = (address + bytes - 1) / burst_bytes;
  return last - first + 1;
}

template <typename Visit>
void MemoryTrace::for_each_burst(uint64_t burst_bytes, Visit&& visit) const {
  std::vector<size_t> order(records_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [this](size_t a, size_t b) { return records_[a].cycle < records_[b].cycle; });
  for (size_t index : order) {
    const MemoryTraceRecord& r = records_[index];
    const uint64_t first = r.address / burst_bytes * burst_bytes;
    const uint64_t n = bursts(r.address, r.bytes, burst_bytes);
    for (uint64_t burst = 0; burst < n; ++burst) visit(r, first + burst * burst_bytes);
  }
}

uint64_t MemoryTrace::write_stl(std::ostream& out, double clock_mhz, uint64_t burst_bytes) const {
  uint64_t lines = 0;
  for (const MemoryTraceRecord& r : records_) lines += bursts(r.address, r.bytes, burst_bytes);
  out << "# AccelTran-SC main-memory trace (DRAMSys STL): <cycle>:\\t<read|write>\\t<address>\n"
      << fmt::format("# clkMhz: {} (cycles of the accelerator clock)\n", clock_mhz)
      << fmt::format("# burst_bytes: {}\n", burst_bytes)
      << fmt::format("# transfers: {}, bytes read: {}, bytes written: {}, accesses: {}\n",
                     records_.size(), bytes_read(), bytes_written(), lines);
  for_each_burst(burst_bytes, [&out](const MemoryTraceRecord& r, uint64_t address) {
    out << fmt::format("{}:\t{}\t0x{:x}\n", r.cycle, r.write ? "write" : "read", address);
  });
  return lines;
}

uint64_t MemoryTrace::write_ramulator(std::ostream& out, uint64_t burst_bytes) const {
  uint64_t lines = 0;
  for_each_burst(burst_bytes, [&out, &lines](const MemoryTraceRecord& r, uint64_t address) {
    out << fmt::format("{} 0x{:x}\n", r.write ? "ST" : "LD", address);
    ++lines;
  });
  return lines;
}

}  // namespace acceltran
