// Contents of a memory block (SramBuffer, MainMemory), see docs/memory.md "Contents".
// Plain C++ apart from debug_transport (TLM payload).
//
// In performance mode (the default) no store is attached: transactions carry a scratch data
// array (tlm/protocol.hpp), nothing is copied and transport_dbg moves 0 bytes. A functional model
// attaches a DataStore; then b_transport copies write data into it and read data out of it,
// transport_dbg reads and writes it, and MainMemory grants DMI to its pages.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <tlm>

namespace acceltran {

class DataStore {
 public:
  virtual ~DataStore() = default;
  virtual void read(uint64_t address, unsigned char* dst, uint64_t bytes) = 0;
  virtual void write(uint64_t address, const unsigned char* src, uint64_t bytes) = 0;
  // Host memory holding `address`, for DMI: a pointer to byte `start` of a contiguous region
  // [start, end] that contains address and stays valid for the store's lifetime; nullptr if
  // the store cannot give one.
  virtual unsigned char* direct(uint64_t address, uint64_t& start, uint64_t& end) = 0;
};

// Sparse byte store: 4 KiB pages made on first write (or DMI request); unwritten bytes read 0.
class SparseDataStore : public DataStore {
 public:
  static constexpr uint64_t kPageBytes = 4096;
  void read(uint64_t address, unsigned char* dst, uint64_t bytes) override {
    while (bytes > 0) {
      const uint64_t off = address % kPageBytes, n = std::min(bytes, kPageBytes - off);
      auto it = pages_.find(address / kPageBytes);
      if (it == pages_.end())
        std::memset(dst, 0, n);
      else
        std::memcpy(dst, it->second.get() + off, n);
      address += n, dst += n, bytes -= n;
    }
  }
  void write(uint64_t address, const unsigned char* src, uint64_t bytes) override {
    while (bytes > 0) {
      const uint64_t off = address % kPageBytes, n = std::min(bytes, kPageBytes - off);
      std::memcpy(page(address / kPageBytes) + off, src, n);
      address += n, src += n, bytes -= n;
    }
  }
  unsigned char* direct(uint64_t address, uint64_t& start, uint64_t& end) override {
    start = address / kPageBytes * kPageBytes;
    end = start + kPageBytes - 1;
    return page(address / kPageBytes);
  }
  uint64_t pages() const { return pages_.size(); }

 private:
  unsigned char* page(uint64_t index) {
    auto& p = pages_[index];
    if (!p) p.reset(new unsigned char[kPageBytes]());
    return p.get();
  }
  std::unordered_map<uint64_t, std::unique_ptr<unsigned char[]>> pages_;
};

// Serves a checked read or write of `gp` from `store` (streaming width honoured: the address
// window [address, address + streaming width) repeats over the data array). With byte enables
// (tlm/protocol.hpp byte_enables_of; null: all enabled), only the enabled bytes move: a write
// leaves the store's other bytes as they were, a read leaves the data array's other bytes as they
// were. Returns the data length.
inline uint64_t copy_contents(DataStore& store, bool write, uint64_t address, unsigned char* data,
                              uint64_t length, uint64_t streaming_width,
                              const unsigned char* byte_enables = nullptr,
                              uint64_t byte_enable_length = 0) {
  const uint64_t sw = streaming_width && streaming_width < length ? streaming_width : length;
  auto move = [&](uint64_t offset, uint64_t bytes) {
    if (write)
      store.write(address + offset % sw, data + offset, bytes);
    else
      store.read(address + offset % sw, data + offset, bytes);
  };
  if (!byte_enables || byte_enable_length == 0) {
    for (uint64_t done = 0; done < length; done += sw) move(done, std::min(sw, length - done));
    return length;
  }
  auto enabled = [&](uint64_t i) { return byte_enables[i % byte_enable_length] != 0; };
  // Runs of enabled bytes, each within one pass over the streaming window.
  for (uint64_t i = 0; i < length;) {
    if (!enabled(i)) {
      ++i;
      continue;
    }
    uint64_t end = i + 1;
    while (end < length && end % sw != 0 && enabled(end)) ++end;
    move(i, end - i);
    i = end;
  }
  return length;
}

// transport_dbg of a memory of capacity_bytes holding `store` (nullptr: performance mode):
// reads or writes the bytes in [address, capacity) without time, energy or statistics; returns
// the bytes moved (0 without a store, for a null data pointer or a command that is not a read
// or a write).
inline unsigned int debug_transport(DataStore* store, tlm::tlm_generic_payload& gp,
                                    uint64_t capacity_bytes) {
  const uint64_t a = gp.get_address();
  const tlm::tlm_command c = gp.get_command();
  if (!store || a >= capacity_bytes || !gp.get_data_ptr() ||
      (c != tlm::TLM_READ_COMMAND && c != tlm::TLM_WRITE_COMMAND))
    return 0;
  const uint64_t n = std::min<uint64_t>(gp.get_data_length(), capacity_bytes - a);
  copy_contents(*store, c == tlm::TLM_WRITE_COMMAND, a, gp.get_data_ptr(), n, n);
  return static_cast<unsigned int>(n);
}

}  // namespace acceltran
