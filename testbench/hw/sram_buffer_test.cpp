// Block-level testbench of the on-chip SRAM buffers (hw/sram_buffer). Tag [memory].
#include <catch2/catch.hpp>
#include <systemc>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "acceltran/hw/memory/sram_buffer.hpp"
#include "memory_test_util.hpp"

using namespace acceltran;
using namespace acceltran::memtest;
using Catch::Matchers::Contains;

namespace {
constexpr uint64_t kMiB = 1048576;
SimOptions policy(EvictionPolicy p) {
  SimOptions o;
  o.eviction = p;
  return o;
}
ResidentKey key(uint32_t t, uint32_t part = 0) {
  return ResidentKey{t, part};
}
std::vector<uint32_t> tensors(const std::vector<Evicted>& ev) {
  std::vector<uint32_t> v;
  for (const auto& e : ev) v.push_back(e.key.tensor);
  return v;
}
// 1 MB buffer holding four 256 KiB tiles; the script: insert 1,2,3,4; touch 1 then 3;
// insert 5, 6, 7 (each needs one victim).
std::vector<uint32_t> scripted_victims(SramBuffer& b) {
  const Technology t = tech();
  std::vector<uint32_t> victims;
  uint64_t c = 0;
  for (uint32_t i = 1; i <= 4; ++i) REQUIRE(b.allocate(key(i), 256 * 1024, "", ++c).fitted);
  CHECK(b.lookup(key(1), ++c));
  CHECK(b.lookup(key(3), ++c));
  CHECK_FALSE(b.lookup(key(9), ++c));
  for (uint32_t i = 5; i <= 7; ++i) {
    AllocResult r = b.allocate(key(i), 256 * 1024, "", ++c);
    REQUIRE(r.fitted);
    REQUIRE(r.evicted.size() == 1);
    victims.push_back(r.evicted[0].key.tensor);
  }
  return victims;
}
}  // namespace

TEST_CASE("sram buffer: LRU eviction order on a scripted access sequence", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SramBuffer b("act", proto::Buffer::activation, 1, t.buffers.at("activation"),
               t.buffer_port_bandwidth_gbps, t.clock_mhz, policy(EvictionPolicy::lru));
  // LRU: 2 (never touched), then 4, then 1 (touched before 3).
  CHECK(scripted_victims(b) == std::vector<uint32_t>{2, 4, 1});
  CHECK(b.stats().hits == 2);
  CHECK(b.stats().misses == 1);  // lookups only (allocations are not misses)
  CHECK(b.stats().allocations == 7);
  CHECK(b.stats().evictions == 3);
  CHECK(b.used_bytes() == 4 * 256 * 1024);
  CHECK(b.resident_keys().front().tensor == 3);  // next victim
}

TEST_CASE("sram buffer: FIFO eviction order on a scripted access sequence", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SramBuffer b("act", proto::Buffer::activation, 1, t.buffers.at("activation"),
               t.buffer_port_bandwidth_gbps, t.clock_mhz, policy(EvictionPolicy::fifo));
  // FIFO (published model): insertion order regardless of use: 1, 2, 3.
  CHECK(scripted_victims(b) == std::vector<uint32_t>{1, 2, 3});
  CHECK(b.resident_keys().front().tensor == 4);
}

TEST_CASE("sram buffer: pinned data are never evicted", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SramBuffer b("w", proto::Buffer::weight, 1, t.buffers.at("weight"), t.buffer_port_bandwidth_gbps,
               t.clock_mhz, policy(EvictionPolicy::lru));
  // Fill with 16 tiles of 64 KiB, pin the even ones, then stream 40 more tiles through.
  for (uint32_t p = 0; p < 16; ++p) REQUIRE(b.allocate(key(1, p), 64 * 1024).fitted);
  for (uint32_t p = 0; p < 16; p += 2) b.pin(key(1, p));
  b.pin(key(1, 0));  // pins are counted
  std::set<uint32_t> evicted;
  for (uint32_t p = 0; p < 40; ++p) {
    AllocResult r = b.allocate(key(2, p), 64 * 1024);
    REQUIRE(r.fitted);
    for (const auto& e : r.evicted)
      if (e.key.tensor == 1) evicted.insert(e.key.part);
  }
  for (uint32_t p = 0; p < 16; p += 2) {
    CHECK(b.contains(key(1, p)));
    CHECK(evicted.count(p) == 0);
  }
  CHECK(evicted.size() == 8);  // every unpinned tile went
  CHECK(b.pin_count(key(1, 0)) == 2);
  // A tile that only fits by evicting pinned data is refused, and nothing is evicted.
  for (uint32_t p = 0; p < 40; ++p)
    if (b.contains(key(2, p))) b.pin(key(2, p));
  uint64_t ev_before = b.stats().evictions;
  AllocResult r = b.allocate(key(3), 128 * 1024);
  CHECK_FALSE(r.fitted);
  CHECK(r.evicted.empty());
  CHECK(b.stats().evictions == ev_before);
  CHECK(b.stats().failed_allocations == 1);
  // After an unpin it fits (evicting exactly the unpinned tiles it needs).
  b.unpin(key(1, 2));
  b.unpin(key(1, 4));
  r = b.allocate(key(3), 128 * 1024);
  CHECK(r.fitted);
  CHECK(tensors(r.evicted) == std::vector<uint32_t>{1, 1});
  CHECK_FALSE(b.contains(key(1, 2)));
  CHECK(b.contains(key(1, 0)));
  CHECK_THROWS(b.unpin(key(1, 2)));
}

TEST_CASE("sram buffer: data larger than the whole buffer is an InputError naming the tensor",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SramBuffer b("mask", proto::Buffer::mask, 1, t.buffers.at("mask"), t.buffer_port_bandwidth_gbps,
               t.clock_mhz, SimOptions{});
  CHECK_THROWS_AS(b.allocate(key(7), kMiB + 1, "L0.ffn0.w"), InputError);
  CHECK_THROWS_WITH(b.allocate(key(7), kMiB + 1, "L0.ffn0.w"),
                    Contains("L0.ffn0.w") && Contains("1048577 bytes") &&
                        Contains("mask buffer holds 1048576 bytes"));
  CHECK(b.allocate(key(7), kMiB, "L0.ffn0.w").fitted);  // exactly the capacity fits
  CHECK_THROWS_AS(
      SramBuffer("zero", proto::Buffer::weight, 0, t.buffers.at("weight"), 370, 700, SimOptions{}),
      InputError);
}

TEST_CASE("sram buffer: areas and leakage of the Edge and Server configs", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SimOptions o;
  for (const char* name : {"edge", "server"}) {
    AcceleratorConfig c = accel(name);
    SramBuffer a((std::string(name) + "_act").c_str(), proto::Buffer::activation,
                 c.activation_buffer_mb, t.buffers.at("activation"), t.buffer_port_bandwidth_gbps,
                 t.clock_mhz, o);
    SramBuffer w((std::string(name) + "_w").c_str(), proto::Buffer::weight, c.weight_buffer_mb,
                 t.buffers.at("weight"), t.buffer_port_bandwidth_gbps, t.clock_mhz, o);
    SramBuffer m((std::string(name) + "_mask").c_str(), proto::Buffer::mask, c.mask_buffer_mb,
                 t.buffers.at("mask"), t.buffer_port_bandwidth_gbps, t.clock_mhz, o);
    double area = a.area_um2() + w.area_um2() + m.area_um2();
    double leak = a.leakage_mw() + w.leakage_mw() + m.leakage_mw();
    // technology.yaml: area_per_mb 303305.83 / 294100.83 / 302565.0 um^2,
    // leakage_per_mb 247.918667 / 210.40467 / 238.196 mW.
    if (std::string(name) == "edge") {
      CHECK(area == Approx(303305.83 * 4 + 294100.83 * 8 + 302565.0 * 1));
      CHECK(leak == Approx(247.918667 * 4 + 210.40467 * 8 + 238.196 * 1));
    } else {
      CHECK(area == Approx(303305.83 * 32 + 294100.83 * 64 + 302565.0 * 8));
      CHECK(leak == Approx(247.918667 * 32 + 210.40467 * 64 + 238.196 * 8));
    }
    std::printf("%s buffers: %.3f mm^2, leakage %.1f mW\n", name, area / 1e6, leak);
    // Leakage energy over 700 cycles (1 us) = mW x 1 us = mW nJ... / 1000: mW/MHz per cycle.
    CHECK(w.leakage_energy_nj(700) == Approx(w.leakage_mw() / 700 * 700));
  }
}

TEST_CASE("sram buffer: port timing and access energy through TLM", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SimOptions o;
  SramBuffer w("weight", proto::Buffer::weight, 8, t.buffers.at("weight"),
               t.buffer_port_bandwidth_gbps, t.clock_mhz, o);
  SimOptions words_opts;
  words_opts.profile = Profile::reference;
  words_opts.bandwidth = BandwidthConvention::words;
  SramBuffer ww("weight_words", proto::Buffer::weight, 8, t.buffers.at("weight"),
                t.buffer_port_bandwidth_gbps, t.clock_mhz, words_opts);
  sc_core::sc_time first, second, overlapped, words;
  Driver d("driver", [&](Driver& self) {
    sc_core::sc_time t0 = sc_core::sc_time_stamp();
    sc_core::sc_time dl = self.transfer(true, 0, kMiB);  // 1 MiB write
    sc_core::wait(dl);
    first = sc_core::sc_time_stamp() - t0;
    // Two back-to-back requests at the same time: the second queues behind the first.
    sc_core::sc_time d1 = self.transfer(false, 0, 64 * 1024);
    sc_core::sc_time d2 = self.transfer(false, 0, 64 * 1024);
    second = d1;
    overlapped = d2;
  });
  d.socket.bind(w.socket);
  Driver d2("driver_words", [&](Driver& self) { words = self.transfer(true, 0, kMiB); });
  d2.socket.bind(ww.socket);
  sc_core::sc_start();
  // 370 GB/s at 700 MHz = 528.571 bytes/cycle; 1 MiB -> ceil(1983.8) = 1984 cycles.
  const double bpc = 370e9 / 700e6;
  CHECK(w.port_bytes_per_cycle() == Approx(bpc));
  const uint64_t c1 = static_cast<uint64_t>(std::ceil(kMiB / bpc));
  CHECK(c1 == 1984);
  CHECK(first == proto::cycles_to_time(c1, 700));
  const uint64_t c2 = static_cast<uint64_t>(std::ceil(64 * 1024 / bpc));
  CHECK(proto::time_to_cycles(second, 700) == c2);
  CHECK(proto::time_to_cycles(overlapped, 700) == 2 * c2);
  // Words convention: 370 x 2^30 x 20 bits per second.
  const double wbpc = 370 * 1073741824.0 * 20 / 8 / 700e6;
  CHECK(words == proto::cycles_to_time(static_cast<uint64_t>(std::ceil(kMiB / wbpc)), 700));
  // Energy: 0.0856588 nJ x sqrt(8 MB) per 64-byte block; 16384 + 2 x 1024 blocks.
  CHECK(w.energy_per_block_nj() == Approx(0.0856588 * std::sqrt(8.0)));
  CHECK(w.stats().dynamic_energy_nj == Approx((16384 + 2048) * 0.0856588 * std::sqrt(8.0)));
  CHECK(w.stats().bytes_written == kMiB);
  CHECK(w.stats().bytes_read == 128 * 1024);
  CHECK(w.stats().blocks_accessed == 16384 + 2048);
  // 100 bytes are two blocks (bytes, not elements).
  CHECK(w.access_energy_nj(100) == Approx(2 * 0.0856588 * std::sqrt(8.0)));
}

TEST_CASE("sram buffer: peak and time-averaged occupancy", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SramBuffer b("act", proto::Buffer::activation, 4, t.buffers.at("activation"),
               t.buffer_port_bandwidth_gbps, t.clock_mhz, SimOptions{});
  b.allocate(key(1), 100, "", 0);
  b.allocate(key(2), 300, "", 100);
  CHECK(b.release(key(2), 200));
  CHECK_FALSE(b.release(key(2), 200));
  // (100 x 100 + 400 x 100 + 100 x 200) / 400 = 175 bytes.
  CHECK(b.average_occupancy_bytes(400) == Approx(175));
  CHECK(b.stats().peak_occupancy_bytes == 400);
  CHECK(b.used_bytes() == 100);
}

TEST_CASE("sram buffer: zero-free tile sizes in bytes and mask bits", "[memory]") {
  MEMTEST_ISOLATE();
  // 16 x 16 tile of Q4.16 words at 50 % sparsity: 256 x 20 x 0.5 / 8 = 320 bytes, mask 32.
  CHECK(zero_free_bytes(256, 20, 0.5) == 320);
  CHECK(mask_bytes_for(256) == 32);
  CHECK(zero_free_bytes(3, 20, 0.0) == 8);  // 60 bits -> 7.5 -> 8 bytes
  CHECK(mask_bytes_for(3) == 1);
  CHECK(zero_free_bytes(1000, 20, 0.377) == 1558);  // 12460 bits -> 1557.5 -> 1558
}

TEST_CASE("sram buffer: without a store (performance mode) entries have no placements",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SramBuffer b("unplaced", proto::Buffer::weight, 1, t.buffers.at("weight"),
               t.buffer_port_bandwidth_gbps, t.clock_mhz, policy(EvictionPolicy::lru));
  CHECK_FALSE(b.tracks_placements());
  REQUIRE(b.allocate(key(1), 1024).fitted);
  CHECK(b.address_of(key(1)) == SramBuffer::kNotPlaced);
  CHECK(b.placed_bytes(key(1)) == 0);
  CHECK_THROWS_AS(b.track_placements(), std::logic_error);  // too late: entries exist
  REQUIRE(b.release(key(1)));
  b.track_placements();
  REQUIRE(b.allocate(key(2), 1024).fitted);
  CHECK(b.address_of(key(2)) == 0);
  CHECK(b.placed_bytes(key(2)) == 1024);
}

TEST_CASE("sram buffer: placements are first fit and disjoint and compaction moves the contents",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  SramBuffer b("placed", proto::Buffer::weight, 1, t.buffers.at("weight"),
               t.buffer_port_bandwidth_gbps, t.clock_mhz, policy(EvictionPolicy::lru));
  SparseDataStore store;
  b.attach_store(&store);
  const uint64_t quarter = 256 * 1024;
  for (uint32_t i = 1; i <= 4; ++i) REQUIRE(b.allocate(key(i), quarter).fitted);
  for (uint32_t i = 1; i <= 4; ++i) CHECK(b.address_of(key(i)) == (i - 1) * quarter);
  CHECK(b.address_of(key(9)) == SramBuffer::kNotPlaced);
  // Each entry's bytes at its placement (a distinct byte per entry).
  auto fill = [&](uint32_t i) {
    std::vector<unsigned char> bytes(b.resident_bytes(key(i)), static_cast<unsigned char>(i));
    store.write(b.address_of(key(i)), bytes.data(), bytes.size());
  };
  auto holds = [&](uint32_t i) {
    std::vector<unsigned char> bytes(b.resident_bytes(key(i)));
    store.read(b.address_of(key(i)), bytes.data(), bytes.size());
    return std::all_of(bytes.begin(), bytes.end(),
                       [i](unsigned char c) { return c == static_cast<unsigned char>(i); });
  };
  for (uint32_t i = 1; i <= 4; ++i) fill(i);
  // Holes at 0 and at 2 quarters; a half-buffer entry fits in neither: the buffer compacts.
  REQUIRE(b.release(key(1)));
  REQUIRE(b.release(key(3)));
  CHECK(b.address_of(key(1)) == 0);  // an evicted entry keeps its last placement (a spill)
  CHECK(b.compactions() == 0);
  REQUIRE(b.allocate(key(5), 2 * quarter).fitted);
  CHECK(b.compactions() == 1);
  CHECK(b.address_of(key(2)) == 0);
  CHECK(b.address_of(key(4)) == quarter);
  CHECK(b.address_of(key(5)) == 2 * quarter);
  CHECK(holds(2));
  CHECK(holds(4));
  // First fit: a small entry goes into the lowest hole.
  REQUIRE(b.release(key(2)));
  REQUIRE(b.allocate(key(6), 1000).fitted);
  CHECK(b.address_of(key(6)) == 0);
  REQUIRE(b.allocate(key(7), 2000).fitted);
  CHECK(b.address_of(key(7)) == 1000);
  CHECK(b.compactions() == 1);
  // Evicting to make room frees the victim's range for the new entry.
  b.attach_store(nullptr);
  for (uint32_t i = 10; i < 200; ++i) {
    REQUIRE(b.allocate(key(i), 3000 + 17 * i).fitted);
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const ResidentKey& k : b.resident_keys())
      ranges.emplace_back(b.address_of(k), b.resident_bytes(k));
    std::sort(ranges.begin(), ranges.end());
    for (size_t r = 0; r < ranges.size(); ++r) {
      INFO("entry " << i << " range " << r);
      REQUIRE(ranges[r].first + ranges[r].second <= b.capacity_bytes());
      if (r > 0) REQUIRE(ranges[r - 1].first + ranges[r - 1].second <= ranges[r].first);
    }
  }
}
