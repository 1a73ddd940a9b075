// Block-level testbench of the main-memory controller (hw/main_memory). Tag [memory].
#include <catch2/catch.hpp>
#include <systemc>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <unistd.h>

#include "acceltran/hw/memory/main_memory.hpp"
#include "memory_test_util.hpp"

using namespace acceltran;
using namespace acceltran::memtest;
using Catch::Matchers::Contains;
using sc_core::SC_PS;
using sc_core::sc_time;

namespace {
constexpr uint64_t kMiB = 1048576;
MainMemoryOptions no_refresh() {
  MainMemoryOptions o;
  o.refresh = false;
  return o;
}
MainMemoryOptions mode(MainMemoryOptions::Mode m, bool refresh = true) {
  MainMemoryOptions o;
  o.mode = m;
  o.refresh = refresh;
  return o;
}
// Seconds for one blocking 4 MiB read through the TLM socket, measured by wait(delay).
struct TimedRead {
  sc_time elapsed;
  bool ok = false;
};
Driver* timed_reader(const char* name, MainMemory& m, uint64_t bytes, TimedRead* out) {
  auto* d = new Driver(name, [bytes, out](Driver& self) {
    sc_time t0 = sc_core::sc_time_stamp();
    proto::TransferExt ext;
    ext.kind = proto::TransferKind::load_weights;
    ext.data_bytes = bytes;
    sc_time delay = self.transfer(false, 0, bytes, &ext);
    sc_core::wait(delay);
    out->elapsed = sc_core::sc_time_stamp() - t0;
    out->ok = self.last_ok;
  });
  d->socket.bind(m.socket);
  return d;
}
}  // namespace

TEST_CASE("main memory: 4 MB sequential read at lb (LP-DDR3) takes bytes / 25.6 GB/s", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  MainMemory plain("dram_norefresh", mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o, no_refresh());
  MainMemory refreshed("dram", mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o);
  TimedRead a, b;
  timed_reader("reader_a", plain, 4 * kMiB, &a);
  timed_reader("reader_b", refreshed, 4 * kMiB, &b);
  sc_core::sc_start();
  const double ideal_s = 4.0 * kMiB / 25.6e9;  // 163.84 us
  std::printf("lb DRAM 4 MiB read: %.3f us without refresh, %.3f us with refresh, ideal %.3f us\n",
              a.elapsed.to_seconds() * 1e6, b.elapsed.to_seconds() * 1e6, ideal_s * 1e6);
  REQUIRE(a.ok);
  REQUIRE(b.ok);
  CHECK(a.elapsed.to_seconds() == Approx(ideal_s).epsilon(0.02));
  // With refresh: the documented overhead on top of the bandwidth time.
  CHECK(b.elapsed.to_seconds() ==
        Approx(ideal_s * (1 + refreshed.refresh_overhead())).epsilon(0.02));
  CHECK(plain.stats().bytes_read == 4 * kMiB);
  CHECK(plain.stats().achieved_bandwidth_gbps() == Approx(25.6).epsilon(0.02));
  CHECK(plain.peak_bytes_per_second() == Approx(25.6e9));
}

TEST_CASE("main memory: 4 MB sequential read at hb (RRAM and HBM) takes bytes / 256 GB/s",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  MainMemory rram("rram", mem(MemoryType::rram, "hb", 32, 2, 1), t, tt, o);
  MainMemory hbm("hbm_norefresh", mem(MemoryType::hbm, "hb", 32, 1, 4), t, tt, o, no_refresh());
  TimedRead a, b;
  timed_reader("reader_rram", rram, 4 * kMiB, &a);
  timed_reader("reader_hbm", hbm, 4 * kMiB, &b);
  sc_core::sc_start();
  const double ideal_s = 4.0 * kMiB / 256e9;  // 16.384 us
  std::printf("hb 4 MiB read: RRAM %.3f us, HBM (no refresh) %.3f us, ideal %.3f us\n",
              a.elapsed.to_seconds() * 1e6, b.elapsed.to_seconds() * 1e6, ideal_s * 1e6);
  CHECK(a.elapsed.to_seconds() == Approx(ideal_s).epsilon(0.02));
  CHECK(b.elapsed.to_seconds() == Approx(ideal_s).epsilon(0.02));
  CHECK(rram.refresh_overhead() == 0.0);
}

TEST_CASE("main memory: random 64-byte reads are slower by the row-miss cost tRP + tRCD",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  MainMemory m("dram", mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o, no_refresh());
  const MemoryTiming& d = tt.at(MemoryType::dram);
  // Dependent (serial) reads: each one is requested when the previous one has completed.
  double now = 0, seq_total = 0, rnd_total = 0;
  const int n = 256;
  // Sequential: the first read opens row 0 of bank 0; the next ones hit it.
  now = m.access(now, 0, 64, false);
  for (int i = 1; i < 64; ++i) {
    double end = m.access(now, static_cast<uint64_t>(i) * 64, 64, false);
    seq_total += end - now;
    now = end;
  }
  const double seq_avg = seq_total / 63;
  // Random: every read goes to another row of a bank that has a different row open. The first
  // pass over the 32 banks of rank 0 finds them closed (no precharge); measure the next passes.
  for (int i = 0; i < n; ++i) {
    MemAddress a;
    a.bank = i % 32;
    a.row = 1 + static_cast<uint64_t>(i);
    double end = m.access(now, m.encode(a), 64, false);
    if (i >= 32) rnd_total += end - now;
    now = end;
  }
  const double rnd_avg = rnd_total / (n - 32);
  const double hit_ps = (d.tCL_ns) * 1e3 + m.burst_ps();
  const double miss_ps = (d.tRP_ns + d.tRCD_ns + d.tCL_ns) * 1e3 + m.burst_ps();
  std::printf("DRAM 64-byte read: row hit %.1f ns, random (row conflict) %.1f ns\n", seq_avg / 1e3,
              rnd_avg / 1e3);
  CHECK(seq_avg == Approx(hit_ps).margin(1));
  CHECK(rnd_avg == Approx(miss_ps).margin(1));
  CHECK(rnd_avg - seq_avg == Approx((d.tRP_ns + d.tRCD_ns) * 1e3).margin(1));
  // bank 0 still had row 0 open from the sequential reads: one more conflict.
  CHECK(m.stats().row_conflicts == static_cast<uint64_t>(n - 32 + 1));
  CHECK(m.stats().row_hits == 63);
}

TEST_CASE("main memory: refresh adds the documented overhead on DRAM and HBM and none on RRAM",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  const uint64_t bytes = 8 * kMiB;
  for (auto md : {MainMemoryOptions::Mode::per_burst, MainMemoryOptions::Mode::bulk}) {
    MainMemory d0(md == MainMemoryOptions::Mode::bulk ? "d0b" : "d0p",
                  mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o, mode(md, false));
    MainMemory d1(md == MainMemoryOptions::Mode::bulk ? "d1b" : "d1p",
                  mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o, mode(md, true));
    double without = d0.access(0, 0, bytes, false), with = d1.access(0, 0, bytes, false);
    const MemoryTiming& dt = tt.at(MemoryType::dram);
    // Documented: each tREFI the bus is blocked for tRFC + tRCD.
    double documented = (dt.tRFC_ns + dt.tRCD_ns) / (dt.tREFI_ns - dt.tRFC_ns - dt.tRCD_ns);
    CHECK(d1.refresh_overhead() == Approx(documented));
    std::printf("DRAM refresh overhead (%s): measured %.4f, documented %.4f\n",
                md == MainMemoryOptions::Mode::bulk ? "bulk" : "per-burst", with / without - 1,
                documented);
    CHECK(with / without - 1 == Approx(documented).margin(0.003));
    CHECK(d1.stats().refresh_stalls > 0);
  }
  MainMemory h0("h0", mem(MemoryType::hbm, "hb", 32, 1, 4), t, tt, o, no_refresh());
  MainMemory h1("h1", mem(MemoryType::hbm, "hb", 32, 1, 4), t, tt, o);
  double hw = h1.access(0, 0, 64 * kMiB, false) / h0.access(0, 0, 64 * kMiB, false) - 1;
  CHECK(hw == Approx(h1.refresh_overhead()).margin(0.005));
  MainMemory r0("r0", mem(MemoryType::rram, "hb", 32, 2, 1), t, tt, o, no_refresh());
  MainMemory r1("r1", mem(MemoryType::rram, "hb", 32, 2, 1), t, tt, o);
  CHECK(r1.refresh_overhead() == 0.0);
  CHECK(r1.access(0, 0, bytes, false) == r0.access(0, 0, bytes, false));
  CHECK(r1.stats().refresh_stalls == 0);
}

TEST_CASE("main memory: bulk and per-burst models agree within 1 % on streaming transfers",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  struct Case {
    const char* name;
    MainMemoryConfig cfg;
    bool write;
  } cases[] = {
      {"dram_lb_read", mem(MemoryType::dram, "lb", 32, 2, 1), false},
      {"dram_lb_write", mem(MemoryType::dram, "lb", 16, 2, 2), true},
      {"hbm_hb_read", mem(MemoryType::hbm, "hb", 32, 1, 4), false},
      {"rram_hb_read", mem(MemoryType::rram, "hb", 32, 2, 1), false},
      {"rram_hb_write", mem(MemoryType::rram, "hb", 1, 2, 32), true},
  };
  const uint64_t bytes = 10 * kMiB;
  for (const auto& c : cases) {
    MainMemory pb((std::string(c.name) + "_pb").c_str(), c.cfg, t, tt, o,
                  mode(MainMemoryOptions::Mode::per_burst));
    MainMemory bk((std::string(c.name) + "_bulk").c_str(), c.cfg, t, tt, o,
                  mode(MainMemoryOptions::Mode::bulk));
    // A first small transfer leaves some state behind, then the stream, then a second stream.
    double t1 = pb.access(0, 3 * kMiB, 4096, c.write);
    double t2 = bk.access(0, 3 * kMiB, 4096, c.write);
    double e1 = pb.access(t1, 0, bytes, c.write), e2 = bk.access(t2, 0, bytes, c.write);
    double f1 = pb.access(e1, 64 * kMiB + 64, bytes, c.write);
    double f2 = bk.access(e2, 64 * kMiB + 64, bytes, c.write);
    std::printf("%s 10 MiB: per-burst %.3f us, bulk %.3f us (%+.3f %%)\n", c.name, (e1 - t1) / 1e6,
                (e2 - t2) / 1e6, ((e2 - t2) / (e1 - t1) - 1) * 100);
    CHECK((e2 - t2) == Approx(e1 - t1).epsilon(0.01));
    CHECK((f2 - e2) == Approx(f1 - e1).epsilon(0.01));
    CHECK(bk.stats().bulk_transfers == 3);  // bulk mode: the 4 KiB one too
    CHECK(pb.stats().bulk_transfers == 0);
    CHECK(pb.stats().bursts == bk.stats().bursts);
    CHECK(pb.stats().dynamic_energy_nj == bk.stats().dynamic_energy_nj);
  }
}

TEST_CASE("main memory: energy of a known transfer equals the technology.yaml figure", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  MainMemory dram("dram", mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o);
  MainMemory rram("rram", mem(MemoryType::rram, "hb", 16, 2, 2), t, tt, o);
  dram.access(0, 0, kMiB, false);       // 16384 accesses of 64 bytes
  dram.access(0, 5 * kMiB, 100, true);  // 2 accesses (bytes rounded up to 64-byte blocks)
  rram.access(0, 0, 6400, true);        // 100 accesses
  // technology.yaml: dram_32_2_1: 13.43777522 nJ, rram_16_2_2: 17.321165 nJ per 64 bytes.
  CHECK(dram.stats().accesses_64b == 16386);
  CHECK(dram.stats().dynamic_energy_nj == Approx(16386 * 13.43777522));
  CHECK(rram.stats().dynamic_energy_nj == Approx(100 * 17.321165));
  // Background power is an option, off by default.
  CHECK(dram.background_energy_nj(1e9) == 0.0);
}

TEST_CASE("main memory: words convention and ideal model reproduce the published pipe",
          "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  o.bandwidth = BandwidthConvention::words;
  o.memory_model = MemoryModel::ideal;
  MainMemory m("ideal_words", mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o);
  // Published: 25.6 x 2^30 x 20 bits/s, i.e. 25.6 x 2^30 x 2.5 bytes/s.
  const double bps = 25.6 * 1073741824.0 * 20 / 8;
  CHECK(m.peak_bytes_per_second() == Approx(bps));
  double e1 = m.access(0, 0, 4 * kMiB, false);
  CHECK(e1 == Approx(4.0 * kMiB / bps * 1e12));
  // A pure pipe: a second transfer requested at time 0 queues behind the first.
  double e2 = m.access(0, 123456789, 64, false);
  CHECK(e2 == Approx(e1 + 64 / bps * 1e12));
  CHECK(m.stats().row_hits + m.stats().row_misses == 0);
  // Published bits per cycle at 700 MHz: GB/s x 2^30 x 20 / f.
  CHECK(m.peak_bytes_per_second() * 8 / 700e6 == Approx(25.6 * 1073741824.0 * 20 / 700e6));
}

TEST_CASE("main memory: bad inputs are InputErrors with clear messages", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  CHECK_THROWS_WITH(parse_memory_type("ddr5"), Contains("ddr5") && Contains("rram, dram, hbm"));
  CHECK_THROWS_AS(MainMemory("bad_layout", mem(MemoryType::dram, "lb", 8, 8, 8), t, tt, o),
                  InputError);
  CHECK_THROWS_WITH(MainMemory("bad_layout2", mem(MemoryType::hbm, "hb", 32, 2, 1), t, tt, o),
                    Contains("hbm_32_2_1") && Contains("no access energy"));
  CHECK_THROWS_WITH(MainMemory("bad_bw", mem(MemoryType::dram, "xb", 32, 2, 1), t, tt, o),
                    Contains("bandwidth class 'xb'"));
  // memory.yaml problems: an unknown type, a type with no timing.
  std::string p = "/tmp/acceltran_memory_test_" + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream f(p);
    f << "sram: {tRCD_ns: 1}\n";
  }
  CHECK_THROWS_WITH(load_memory_timing(p), Contains("sram") && Contains("unknown main-memory"));
  {
    std::ofstream f(p);
    f << "dram: {tRCD_ns: 18, tCL_ns: 15, tCWL_ns: 7.5, tRP_ns: 18, tRAS_ns: 42, tWR_ns: 15,\n"
         "       tREFI_ns: 3900, tRFC_ns: 210, burst_length: 8, burst_bytes: 64,\n"
         "       row_bytes: 4096, background_mw: 0, refresh_energy_nj: 0}\n";
  }
  MemoryTimingTable only_dram = load_memory_timing(p);
  CHECK_THROWS_WITH(MainMemory("no_timing", mem(MemoryType::rram, "hb", 32, 2, 1), t, only_dram, o),
                    Contains("no timing parameters") && Contains("rram"));
  {
    std::ofstream f(p);
    f << "dram: {tRCD_ns: 18}\n";
  }
  CHECK_THROWS_WITH(load_memory_timing(p), Contains("dram.tCL_ns") && Contains("missing"));
  std::remove(p.c_str());
  // Every layout of the design space has timing and energy data; others are rejected.
  DesignSpace s = space();
  CHECK_THROWS_WITH(
      MainMemory::check_layout(mem(MemoryType::dram, "lb", 8, 8, 8), s),
      Contains("[8, 8, 8]") && Contains("not in the design space") && Contains("[32, 2, 1]"));
  CHECK_NOTHROW(MainMemory::check_layout(mem(MemoryType::hbm, "hb", 32, 1, 4), s));
  for (const auto& kv : s.main_memory)
    for (const auto& l : kv.second) {
      MainMemoryConfig c = mem(parse_memory_type(kv.first), "hb", l[0], l[1], l[2]);
      std::string n = "ok_" + c.energy_key();
      CHECK_NOTHROW(MainMemory(n.c_str(), c, t, tt, o));
    }
}

TEST_CASE("main memory: background and refresh power is an option", "[memory]") {
  MEMTEST_ISOLATE();
  Technology t = tech();
  MemoryTimingTable tt = timing();
  SimOptions o;
  MainMemoryOptions bg;
  bg.background_power = true;
  MainMemory d("dram_bg", mem(MemoryType::dram, "lb", 32, 2, 1), t, tt, o, bg);
  MainMemory r("rram_bg", mem(MemoryType::rram, "hb", 32, 2, 1), t, tt, o, bg);
  // memory.yaml dram: background_mw 60, refresh_energy_nj 25 per all-bank refresh and rank,
  // tREFI 3900 ns. Over 1 ms: 60 mW x 1 ms = 60000 nJ, floor(1e6 / 3900) = 256 refreshes x 2.
  CHECK(d.background_energy_nj(1e9) == Approx(60000 + 256 * 25.0 * 2));
  CHECK(r.background_energy_nj(1e9) == 0.0);  // rram: background_mw 0, no refresh
  d.access(0, 0, 6400, false);
  CHECK(d.total_energy_nj(1e9) == Approx(100 * 13.43777522 + 60000 + 256 * 25.0 * 2));
}
