// The control block's residency manager (hw/control/residency.hpp) on its own: three small
// buffers, a hand-made part table and a port that records the transfers it is asked for (no
// simulation runs). Tag [memory][residency].
#include <catch2/catch.hpp>
#include <systemc>

#include <string>
#include <tuple>
#include <vector>

#include "memory_test_util.hpp"
#include "recording_port.hpp"

using namespace acceltran;

namespace {
using memtest::kKiB;
using memtest::RecordingPort;

// Tensor 0 "w": a weight of five 256 KiB parts (global parts 0..4). Tensor 1 "a": an
// activation of three 512 KiB parts (global parts 5..7). Every part has a 1 KiB mask.
PartTable table() {
  PartTable t;
  t.tensor_names = {"w", "a"};
  t.first_part = {0, 5};
  uint64_t address = 0;
  auto add = [&](TensorId tensor, uint32_t index, proto::Buffer buffer, uint64_t bytes) {
    t.parts.push_back(PartInfo{tensor, index, buffer, bytes, kKiB, address});
    address += bytes + 4 * kKiB;
  };
  for (uint32_t p = 0; p < 5; ++p) add(0, p, proto::Buffer::weight, 256 * kKiB);
  for (uint32_t p = 0; p < 3; ++p) add(1, p, proto::Buffer::activation, 512 * kKiB);
  return t;
}

// 1 MB buffers (LRU): the weight buffer holds four weight parts, the activation buffer two
// activation parts; the mask buffer never fills.
SimOptions lru_eviction() {
  SimOptions opts;
  opts.eviction = EvictionPolicy::lru;
  return opts;
}

struct Fixture {
  const Technology tech = memtest::tech();
  const SimOptions opts = lru_eviction();
  SramBuffer buffer(const char* name, proto::Buffer kind) const {
    return SramBuffer(name, kind, 1, tech.buffers.at(proto::to_string(kind)),
                      tech.buffer_port_bandwidth_gbps, tech.clock_mhz, opts);
  }
  SramBuffer activation{buffer("activation_buffer", proto::Buffer::activation)};
  SramBuffer weight{buffer("weight_buffer", proto::Buffer::weight)};
  SramBuffer mask{buffer("mask_buffer", proto::Buffer::mask)};
  RecordingPort port;
  ResidencyManager residency{
      table(), ControlPolicy::for_profile(Profile::hardware), activation, weight, mask, port};

  void load(uint32_t part, uint64_t cycle) {
    bool on_chip = true;
    REQUIRE(residency.begin_load(part, cycle, &on_chip) == IssueBlock::none);
    REQUIRE_FALSE(on_chip);
    residency.load_done(part);
  }
};

OperandRef read(uint32_t part, proto::Buffer buffer = proto::Buffer::weight) {
  return OperandRef{part, buffer, OperandAccess::read};
}
OperandRef write(uint32_t part) {
  return OperandRef{part, proto::Buffer::activation, OperandAccess::write};
}
OperandSpan span(const std::vector<OperandRef>& operands) {
  return OperandSpan{operands.data(), operands.data() + operands.size()};
}
}  // namespace

TEST_CASE(
    "residency: a full weight buffer evicts the least recently used unpinned part and "
    "reloads it from its home",
    "[memory][residency]") {
  Fixture f;
  for (uint32_t part = 0; part < 4; ++part) f.load(part, part + 1);  // LRU order 0 1 2 3
  CHECK(f.weight.used_bytes() == 1024 * kKiB);
  CHECK(f.residency.ensure_resident(1, 5) == IssueBlock::none);  // refresh: 0 2 3 1
  f.load(4, 6);  // evicts part 0, the oldest: a weight, dropped (its home keeps it)
  CHECK(f.residency.residency(0) == Residency::absent);
  CHECK(f.port.transfers.empty());
  // Part 2 pinned: reloading part 0 evicts part 3 (order 2* 3 1 4), not part 2.
  f.residency.pin(2);
  CHECK(f.residency.ensure_resident(0, 7) == IssueBlock::memory);
  REQUIRE(f.port.transfers.size() == 1);
  CHECK(f.port.transfers[0] == std::make_tuple(Opcode::LOAD_W, 0u, false));
  CHECK(f.residency.residency(0) == Residency::loading);
  CHECK(f.residency.residency(3) == Residency::absent);
  CHECK(f.residency.residency(2) == Residency::resident);
  CHECK(f.weight.pin_count(ResidentKey{0, 0}) == 1);  // the reload's pin
  f.residency.reload_done(0, false);
  CHECK(f.residency.residency(0) == Residency::resident);
  CHECK(f.weight.pin_count(ResidentKey{0, 0}) == 0);
  // Last use: part 2 at 3 (pinned: not a victim while it stays so), 1 at 5, 4 at 6, 0 at 7.
  CHECK(f.weight.resident_keys() == std::vector<ResidentKey>{{0, 2}, {0, 1}, {0, 4}, {0, 0}});
}

TEST_CASE(
    "residency: an evicted activation part still read later is spilled, then reloaded; "
    "a dead one is dropped",
    "[memory][residency]") {
  Fixture f;
  f.residency.add_reader(5);  // part 5 (a, part 0) is read by a later tile job; 6 and 7 not
  for (uint32_t part : {5u, 6u}) {
    const std::vector<OperandRef> job{write(part)};
    REQUIRE(f.residency.pin_and_allocate_outputs(span(job), part) == IssueBlock::none);
    CHECK(f.activation.pin_count(ResidentKey{1, part - 5}) == 1);  // pinned while written
    f.residency.finish_tile_job(span(job), true, part + 1);
  }
  const std::vector<OperandRef> third{write(7)};
  REQUIRE(f.residency.pin_and_allocate_outputs(span(third), 10) == IssueBlock::none);
  // Part 5, the least recently used, is needed later: spilled.
  REQUIRE(f.port.transfers.size() == 1);
  CHECK(f.port.transfers[0] == std::make_tuple(Opcode::SPILL, 5u, false));
  CHECK(f.residency.residency(5) == Residency::spilling);
  CHECK(f.residency.ensure_resident(5, 11) == IssueBlock::memory);  // wait for the spill
  f.residency.spill_done(5);
  CHECK(f.residency.residency(5) == Residency::in_memory);
  f.residency.finish_tile_job(span(third), true, 12);
  // Reloading part 5 evicts part 6 (dead: dropped, no transfer).
  CHECK(f.residency.ensure_resident(5, 13) == IssueBlock::memory);
  REQUIRE(f.port.transfers.size() == 2);
  CHECK(f.port.transfers[1] == std::make_tuple(Opcode::LOAD_A, 5u, false));
  CHECK(f.residency.residency(6) == Residency::absent);
  CHECK(f.residency.residency(7) == Residency::resident);
}

TEST_CASE("residency: the gathering tile job holds what it has and keeps its own reload's pin",
          "[memory][residency]") {
  Fixture f;
  for (uint32_t part = 0; part < 3; ++part) f.load(part, part + 1);
  CHECK(f.residency.ensure_resident(4, 4) == IssueBlock::memory);  // part 4: someone's reload
  REQUIRE(f.port.transfers.size() == 1);
  // Job 9 reads parts 1 (resident), 3 (absent), 4 (loading by the other reload).
  const std::vector<OperandRef> job{read(1), read(3), read(4)};
  CHECK(f.residency.gather(9, span(job), 5) == IssueBlock::memory);
  CHECK(f.residency.gatherer() == 9);
  REQUIRE(f.port.transfers.size() == 2);
  // Part 3's reload is the job's: it keeps its pin. It evicted part 0 (least recently used).
  CHECK(f.port.transfers[1] == std::make_tuple(Opcode::LOAD_W, 3u, true));
  CHECK(f.residency.residency(0) == Residency::absent);
  CHECK(f.weight.pin_count(ResidentKey{0, 1}) == 1);  // held
  CHECK(f.weight.pin_count(ResidentKey{0, 4}) == 2);  // the other reload's pin and the hold
  f.residency.reload_done(3, true);                   // still held: stays pinned
  f.residency.reload_done(4, false);                  // the other reload drops only its pin
  CHECK(f.weight.pin_count(ResidentKey{0, 3}) == 1);
  CHECK(f.weight.pin_count(ResidentKey{0, 4}) == 1);
  CHECK(f.residency.gather(9, span(job), 6) == IssueBlock::none);  // all on chip
  f.residency.release_gather();
  for (uint32_t part : {1u, 3u, 4u}) CHECK(f.weight.pin_count(ResidentKey{0, part}) == 0);
  CHECK(f.residency.gatherer() == kNone);
}
