// Block-level testbench of the DMA with the main memory and the three buffers. Tag [memory].
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <catch2/catch.hpp>
#include <systemc>

#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "acceltran/hw/control/transfer_kind.hpp"
#include "acceltran/hw/memory/dma.hpp"
#include "acceltran/hw/memory/main_memory.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "memory_test_util.hpp"

using namespace acceltran;
using namespace acceltran::memtest;
using sc_core::sc_time;

namespace {
constexpr uint64_t kKiB = 1024, kMiB = 1048576;

// Memory + activation/weight/mask buffers + DMA, wired; `drv` sends commands to the DMA.
struct System {
  Technology tech;
  MemoryTimingTable timing;
  AcceleratorConfig cfg;
  SimOptions opts;
  std::unique_ptr<MainMemory> mem;
  std::unique_ptr<SramBuffer> act, w, mask;
  std::unique_ptr<Dma> dma;
  std::unique_ptr<Driver> drv;
  System(const std::string& p, const std::string& accel_name, std::function<void(Driver&)> script,
         DmaOptions dopts = {}, double act_mb = 0, SimOptions o = {})
      : tech(memtest::tech()), timing(memtest::timing()), cfg(accel(accel_name)), opts(o) {
    mem = std::make_unique<MainMemory>((p + "_mem").c_str(), cfg.main_memory, tech, timing, opts);
    AcceleratorConfig c = cfg;
    if (act_mb > 0) c.activation_buffer_mb = act_mb;
    act = SramBuffer::from_config((p + "_act").c_str(), proto::Buffer::activation, c, tech, opts);
    w = SramBuffer::from_config((p + "_w").c_str(), proto::Buffer::weight, c, tech, opts);
    mask = SramBuffer::from_config((p + "_mask").c_str(), proto::Buffer::mask, c, tech, opts);
    dma = std::make_unique<Dma>((p + "_dma").c_str(), cfg, tech, timing, opts, dopts);
    dma->memory_socket.bind(mem->socket);
    dma->activation_socket.bind(act->socket);
    dma->weight_socket.bind(w->socket);
    dma->mask_socket.bind(mask->socket);
    drv = std::make_unique<Driver>((p + "_drv").c_str(), std::move(script));
    drv->socket.bind(dma->socket);
  }
};

proto::TransferExt cmd(Opcode op, TensorId t, uint64_t data, uint64_t mask) {
  proto::TransferExt e;
  e.kind = transfer_kind(op);
  e.tensor = t;
  e.data_bytes = data;
  e.mask_bytes = mask;
  e.buffer = op == Opcode::LOAD_W ? proto::Buffer::weight : proto::Buffer::activation;
  return e;
}
sc_time send(Driver& d, Opcode op, TensorId t, uint64_t addr, uint64_t data, uint64_t mask) {
  proto::TransferExt e = cmd(op, t, data, mask);
  return d.transfer(op == Opcode::SPILL || op == Opcode::STORE_M || op == Opcode::STORE_A, addr,
                    data, &e);
}
}  // namespace

TEST_CASE("dma: LOAD_W timing and energy equal the hand-computed values", "[memory]") {
  MEMTEST_ISOLATE();
  const uint64_t data = 256 * kKiB, mask = 32 * kKiB + 10;
  sc_time delay;
  System s("edge", "edge", [&](Driver& d) { delay = send(d, Opcode::LOAD_W, 5, 0, data, mask); });
  // A twin memory, driven directly, gives the memory side for the same request.
  MainMemory twin("twin", s.cfg.main_memory, s.tech, s.timing, s.opts);
  Driver idle("idle", [](Driver&) {});
  idle.socket.bind(twin.socket);
  sc_core::sc_start();
  REQUIRE(s.drv->last_ok);
  const double f = 700;      // technology.yaml clock_mhz
  const uint64_t setup = 4;  // memory.yaml dma.setup_cycles
  CHECK(s.dma->setup_cycles() == setup);
  CHECK(s.dma->engines() == 64);  // one per PE on Edge
  const double at_ps = proto::cycles_to_time(setup, f).to_seconds() * 1e12;
  const double mem_end_ps = twin.access(at_ps, 0, data + mask, false);
  const double bpc = 370e9 / 700e6;
  const uint64_t w_end = setup + static_cast<uint64_t>(std::ceil(data / bpc));
  const uint64_t m_end = setup + static_cast<uint64_t>(std::ceil(mask / bpc));
  const uint64_t mem_end = static_cast<uint64_t>(std::ceil(mem_end_ps * f * 1e-6 - 1e-6));
  const uint64_t expected = std::max({w_end, m_end, mem_end});
  CHECK(expected == mem_end);  // memory-bound at 25.6 GB/s
  CHECK(proto::time_to_cycles(delay, f) == expected);
  std::printf("LOAD_W %llu + %llu bytes on Edge: %llu cycles (%.3f us); pure bandwidth %.3f us\n",
              (unsigned long long)data, (unsigned long long)mask, (unsigned long long)expected,
              delay.to_seconds() * 1e6, (data + mask) / 25.6e9 * 1e6);
  // Energy, from technology.yaml written out by hand:
  //   main memory dram_32_2_1: 13.43777522 nJ per 64 bytes of data + mask;
  //   weight buffer: 0.0856588 x sqrt(8 MB) per 64-byte block of data;
  //   mask buffer: 0.08200675 x sqrt(1 MB) per 64-byte block of mask;
  //   DMA: (0.0335287 + 0.0063819) mW / 700 MHz per busy cycle.
  const double mem_nj = std::ceil((data + mask) / 64.0) * 13.43777522;
  const double w_nj = std::ceil(data / 64.0) * 0.0856588 * std::sqrt(8.0);
  const double m_nj = std::ceil(mask / 64.0) * 0.08200675 * std::sqrt(1.0);
  const double dma_nj = (0.0335287 + 0.0063819) / 700.0 * static_cast<double>(expected);
  CHECK(s.mem->stats().dynamic_energy_nj == Approx(mem_nj));
  CHECK(s.w->stats().dynamic_energy_nj == Approx(w_nj));
  CHECK(s.mask->stats().dynamic_energy_nj == Approx(m_nj));
  CHECK(s.dma->stats().energy_nj == Approx(dma_nj));
  CHECK(s.dma->stats().busy_engine_cycles == expected);
  CHECK(s.mem->stats().bytes_read == data + mask);
  CHECK(s.w->stats().bytes_written == data);
  CHECK(s.mask->stats().bytes_written == mask);
  CHECK(s.dma->stats().bytes_from_memory == data + mask);
}

TEST_CASE("dma: several transfers in flight unless the engines are all busy", "[memory]") {
  MEMTEST_ISOLATE();
  sc_time load_a, store_a, load_b, store_b;
  auto script = [](sc_time* load, sc_time* store) {
    return [load, store](Driver& d) {
      // Both issued at time 0 (no wait in between).
      *load = send(d, Opcode::LOAD_W, 1, 0, kMiB, 0);
      *store = send(d, Opcode::STORE_A, 2, 0, 64 * kKiB, 8 * kKiB);
    };
  };
  System many("many", "edge", script(&load_a, &store_a));
  DmaOptions one;
  one.engines = 1;
  System single("single", "edge", script(&load_b, &store_b), one);
  sc_core::sc_start();
  const double bpc = 64 * 32;  // Edge activation buffer: 64 banks with 32-byte ports
  const uint64_t store_cycles = 4 + static_cast<uint64_t>(std::ceil(64 * kKiB / bpc));
  CHECK(proto::time_to_cycles(store_a, 700) == store_cycles);  // not behind the load
  CHECK(many.dma->stats().max_in_flight == 2);
  CHECK(proto::time_to_cycles(load_a, 700) > 20 * store_cycles);
  // One engine: the store waits for the load.
  CHECK(proto::time_to_cycles(store_b, 700) == proto::time_to_cycles(load_b, 700) + store_cycles);
  CHECK(single.dma->stats().max_in_flight == 1);
  CHECK(load_a == load_b);
}

TEST_CASE("dma: spill-and-reload round trip is counted in statistics and memory traffic",
          "[memory]") {
  MEMTEST_ISOLATE();
  const uint64_t tile = 512 * kKiB, tile_mask = 64 * kKiB;
  const uint64_t spill_addr = 256 * kMiB;
  sc_time elapsed;
  bool reload_fitted = false, miss_before_reload = false, store_failed = false;
  std::vector<Evicted> ev_c, ev_reload;
  System* sys = nullptr;
  auto script = [&](Driver& d) {
    SramBuffer& act = *sys->act;
    act.set_needed_later([](const ResidentKey& k) { return k.tensor == 1; });
    // A and B produced by the PEs; C does not fit: A (still needed) is spilled.
    for (TensorId t : {1u, 2u}) {
      if (!act.allocate(ResidentKey{t, 0}, tile).fitted) store_failed = true;
      sc_core::wait(send(d, Opcode::STORE_A, t, 0, tile, tile_mask));
    }
    AllocResult r = act.allocate(ResidentKey{3, 0}, tile);
    ev_c = r.evicted;
    for (const auto& e : r.evicted)
      if (e.spill)
        sc_core::wait(send(d, Opcode::SPILL, e.key.tensor, spill_addr, e.bytes, tile_mask));
    sc_core::wait(send(d, Opcode::STORE_A, 3, 0, tile, tile_mask));
    // A later op reads A again: miss, reload (B is dead: evicted without a spill).
    act.pin(ResidentKey{3, 0});
    miss_before_reload = !act.lookup(ResidentKey{1, 0});
    AllocResult rr = act.allocate(ResidentKey{1, 0}, tile);
    reload_fitted = rr.fitted;
    ev_reload = rr.evicted;
    sc_core::wait(send(d, Opcode::LOAD_A, 1, spill_addr, tile, tile_mask));
    elapsed = sc_core::sc_time_stamp();
  };
  System s("spill", "edge", script, DmaOptions{}, 1.0);  // a 1 MB activation buffer
  sys = &s;
  sc_core::sc_start();
  CHECK_FALSE(store_failed);
  REQUIRE(ev_c.size() == 1);
  CHECK(ev_c[0].key.tensor == 1);
  CHECK(ev_c[0].spill);
  CHECK(miss_before_reload);
  CHECK(reload_fitted);
  REQUIRE(ev_reload.size() == 1);
  CHECK(ev_reload[0].key.tensor == 2);
  CHECK_FALSE(ev_reload[0].spill);
  const SramStats& st = s.act->stats();
  CHECK(st.spills == 1);
  CHECK(st.spilled_bytes == tile);
  CHECK(st.evictions == 2);
  CHECK(st.misses == 1);  // the lookup of A before its reload
  CHECK(st.allocations == 4);
  CHECK(st.bytes_written == 3 * tile + tile);  // three stores + the reload
  CHECK(st.bytes_read == tile);                // the spill
  CHECK(st.peak_occupancy_bytes == 2 * tile);
  CHECK(s.mem->stats().bytes_written == tile + tile_mask);
  CHECK(s.mem->stats().bytes_read == tile + tile_mask);
  CHECK(s.dma->stats().commands[static_cast<size_t>(proto::TransferKind::spill)] == 1);
  CHECK(s.dma->stats().commands[static_cast<size_t>(proto::TransferKind::load_activations)] == 1);
  CHECK(s.dma->stats().commands[static_cast<size_t>(proto::TransferKind::store_activations)] == 3);
  // The round trip costs two memory transfers of the tile at 25.6 GB/s (plus latencies).
  const double trip_s = 2.0 * (tile + tile_mask) / 25.6e9;
  std::printf("spill + reload of %llu bytes: run %.3f us, of which >= %.3f us memory traffic\n",
              (unsigned long long)(tile + tile_mask), elapsed.to_seconds() * 1e6, trip_s * 1e6);
  CHECK(elapsed.to_seconds() > trip_s);
}

TEST_CASE("dma: reference profile reproduces the published transfer cycles", "[memory]") {
  MEMTEST_ISOLATE();
  SimOptions ref;
  ref.profile = Profile::reference;
  ref.bandwidth = BandwidthConvention::words;
  ref.memory_model = MemoryModel::ideal;
  ref.eviction = EvictionPolicy::fifo;
  const uint64_t data = kMiB;
  sc_time delay;
  System s(
      "ref", "edge", [&](Driver& d) { delay = send(d, Opcode::LOAD_W, 1, 0, data, 0); },
      DmaOptions{}, 0, ref);
  sc_core::sc_start();
  CHECK(s.dma->setup_cycles() == 0);
  // Published: cycles = ceil(bits / (GB/s x 2^30 x 20 / f)) with f = 700 MHz.
  const double bits_per_cycle = 25.6 * 1073741824.0 * 20 / 700e6;
  const uint64_t published = static_cast<uint64_t>(std::ceil(data * 8 / bits_per_cycle));
  CHECK(published == 10682);
  CHECK(proto::time_to_cycles(delay, 700) == published);
}

TEST_CASE("dma: a transfer larger than its buffer ends with the buffer's address error",
          "[memory]") {
  MEMTEST_ISOLATE();
  System s("big", "edge", [&](Driver& d) {
    send(d, Opcode::LOAD_W, 42, 0, 9 * kMiB, 0);  // the Edge weight buffer holds 8 MB
  });
  sc_core::sc_start();
  CHECK(s.drv->last_status == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK_THAT(s.dma->last_error(), Catch::Matchers::Contains("weight_socket") &&
                                      Catch::Matchers::Contains("TLM_ADDRESS_ERROR_RESPONSE") &&
                                      Catch::Matchers::Contains("write of 9437184 bytes"));
  CHECK(s.mem->stats().bytes_read == 0);  // the memory side was not issued
}

namespace {
// Between the DMA and a buffer: records each transfer's address and length, then forwards it.
struct BufferSideRecorder : sc_core::sc_module {
  tlm_utils::simple_target_socket<BufferSideRecorder> target;
  tlm_utils::simple_initiator_socket<BufferSideRecorder> out;
  std::vector<std::pair<uint64_t, uint64_t>> transfers;  // (address, data length)
  std::vector<uint64_t> windows;                         // streaming widths
  explicit BufferSideRecorder(sc_core::sc_module_name n)
      : sc_module(n), target("target"), out("out") {
    target.register_b_transport(this, &BufferSideRecorder::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    transfers.emplace_back(gp.get_address(), gp.get_data_length());
    windows.push_back(gp.get_streaming_width());
    out->b_transport(gp, delay);
  }
};
}  // namespace

TEST_CASE("dma: buffer-side transfers carry the parts' placements inside the buffers' ranges",
          "[memory]") {
  MEMTEST_ISOLATE();
  const Technology tech = memtest::tech();
  const MemoryTimingTable timing = memtest::timing();
  const AcceleratorConfig cfg = accel("edge");
  const SimOptions opts;
  MainMemory mem("mem", cfg.main_memory, tech, timing, opts);
  auto act = SramBuffer::from_config("act", proto::Buffer::activation, cfg, tech, opts);
  auto w = SramBuffer::from_config("w", proto::Buffer::weight, cfg, tech, opts);
  auto mask = SramBuffer::from_config("mask", proto::Buffer::mask, cfg, tech, opts);
  Dma dma("dma", cfg, tech, timing, opts);
  BufferSideRecorder to_act("to_act"), to_w("to_w"), to_mask("to_mask");
  dma.memory_socket.bind(mem.socket);
  dma.activation_socket.bind(to_act.target);
  dma.weight_socket.bind(to_w.target);
  dma.mask_socket.bind(to_mask.target);
  to_act.out.bind(act->socket);
  to_w.out.bind(w->socket);
  to_mask.out.bind(mask->socket);
  for (SramBuffer* b : {act.get(), w.get(), mask.get()}) b->track_placements();  // no stores
  // Weight tensor 5, parts 0..2 (homes at 0, 1, 2 MiB), and activation tensor 7 part 0 (home 3
  // MiB). Placed as the control block would: part 0, part 1, part 0 released (a hole at 0),
  // part 2 (first fit: at 0); data in the weight buffer, masks in the mask buffer. Part 2's
  // load moves twice its placement's bytes (a part denser than estimated): a stream through
  // its placement.
  const uint64_t data = 64 * kKiB, mask_bytes = 8 * kKiB;
  const std::map<uint64_t, ResidentKey> homes = {
      {0, {5, 0}}, {kMiB, {5, 1}}, {2 * kMiB, {5, 2}}, {3 * kMiB, {7, 0}}};
  for (uint32_t part : {0u, 1u}) {
    REQUIRE(w->allocate({5, part}, data).fitted);
    REQUIRE(mask->allocate({5, part}, mask_bytes).fitted);
  }
  REQUIRE(w->release({5, 0}));
  REQUIRE(mask->release({5, 0}));
  REQUIRE(w->allocate({5, 2}, data / 2).fitted);
  REQUIRE(mask->allocate({5, 2}, mask_bytes / 2).fitted);
  REQUIRE(act->allocate({7, 0}, data).fitted);
  REQUIRE(mask->allocate({7, 0}, mask_bytes).fitted);
  const std::array<SramBuffer*, 3> buffers = {act.get(), w.get(), mask.get()};
  dma.set_buffer_addresses(
      [&](proto::Buffer b, uint64_t home, const proto::TransferExt&) -> Dma::Placement {
        const SramBuffer& in = *buffers[static_cast<size_t>(b)];
        return {in.address_of(homes.at(home)), in.placed_bytes(homes.at(home))};
      });
  Driver drv("drv", [&](Driver& d) {
    sc_core::wait(send(d, Opcode::LOAD_W, 5, kMiB, data, mask_bytes));
    sc_core::wait(send(d, Opcode::LOAD_W, 5, 2 * kMiB, data, mask_bytes / 2));
    sc_core::wait(send(d, Opcode::LOAD_A, 7, 3 * kMiB, data, mask_bytes));
    sc_core::wait(send(d, Opcode::SPILL, 7, 3 * kMiB, data, mask_bytes));
  });
  drv.socket.bind(dma.socket);
  sc_core::sc_start();
  REQUIRE(drv.last_ok);
  using Transfers = std::vector<std::pair<uint64_t, uint64_t>>;
  CHECK(w->address_of({5, 1}) == data);  // behind the hole part 0 left
  CHECK(w->address_of({5, 2}) == 0);
  CHECK(to_w.transfers == Transfers{{data, data}, {0, data}});
  CHECK(to_w.windows == std::vector<uint64_t>{data, data / 2});  // part 2: its placement
  CHECK(w->stats().bytes_written == 2 * data);  // the port time of every byte moved
  CHECK(to_mask.transfers == Transfers{{mask->address_of({5, 1}), mask_bytes},
                                       {mask->address_of({5, 2}), mask_bytes / 2},
                                       {mask->address_of({7, 0}), mask_bytes},
                                       {mask->address_of({7, 0}), mask_bytes}});
  CHECK(to_act.transfers == Transfers{{0, data}, {0, data}});
  // The mask hole part 5/2 left (4 KiB) is too small: after part 5/1.
  CHECK(mask->address_of({7, 0}) == 2 * mask_bytes);
  const std::pair<const BufferSideRecorder*, const SramBuffer*> sides[] = {
      {&to_act, act.get()}, {&to_w, w.get()}, {&to_mask, mask.get()}};
  for (const auto& [rec, buffer] : sides)
    for (const auto& [address, length] : rec->transfers)
      CHECK(address + length <= buffer->capacity_bytes());
}
