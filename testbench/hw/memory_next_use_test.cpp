// The residency manager with next-use eviction (hw/control/residency.hpp; docs/memory.md §2.3):
// the program's future decides the victim, a part needed sooner is never evicted, data and mask
// go together, and evictions and reloads are counted per buffer and cause. No simulation runs.
// Tag [memory][residency].
#include <catch2/catch.hpp>
#include <systemc>

#include <tuple>
#include <vector>

#include "memory_test_util.hpp"
#include "recording_port.hpp"

using namespace acceltran;

namespace {
using memtest::kKiB;
using memtest::RecordingPort;

// Tensor 0 "w": five weight parts of 256 KiB (global parts 0..4), each with a 1 KiB mask.
PartTable table() {
  PartTable t;
  t.tensor_names = {"w"};
  t.first_part = {0};
  for (uint32_t p = 0; p < 5; ++p)
    t.parts.push_back(PartInfo{0, p, proto::Buffer::weight, 256 * kKiB, kKiB, p * 300 * kKiB});
  return t;
}

// Uses of each part (instruction ids): part p by the ids in uses[p].
PartUses part_uses(const std::vector<std::vector<uint32_t>>& uses) {
  PartUses result;
  result.begin.push_back(0);
  for (const auto& ids : uses) {
    result.instructions.insert(result.instructions.end(), ids.begin(), ids.end());
    result.begin.push_back(static_cast<uint32_t>(result.instructions.size()));
  }
  return result;
}

// A 1 MB weight buffer (four parts) and a mask buffer of `mask_kib` KiB; next-use eviction.
struct Fixture {
  explicit Fixture(double mask_kib = 1024)
      : mask(buffer("mask_buffer", proto::Buffer::mask, mask_kib / 1024)) {}
  const Technology tech = memtest::tech();
  const SimOptions opts;  // default eviction: next use
  SramBuffer buffer(const char* name, proto::Buffer kind, double mb) const {
    return SramBuffer(name, kind, mb, tech.buffers.at(proto::to_string(kind)),
                      tech.buffer_port_bandwidth_gbps, tech.clock_mhz, opts);
  }
  SramBuffer activation{buffer("activation_buffer", proto::Buffer::activation, 1)};
  SramBuffer weight{buffer("weight_buffer", proto::Buffer::weight, 1)};
  SramBuffer mask;
  RecordingPort port;
  ResidencyManager residency{
      table(), ControlPolicy::for_profile(Profile::hardware), activation, weight, mask, port};

  IssueBlock load(uint32_t part, uint64_t cycle) {
    bool on_chip = false;
    const IssueBlock block = residency.begin_load(part, cycle, &on_chip);
    if (block == IssueBlock::none && !on_chip) residency.load_done(part);
    return block;
  }
};
}  // namespace

TEST_CASE("residency: next-use eviction drops the part used farthest ahead",
          "[memory][residency]") {
  Fixture f;
  // Parts 0..3 next used by instructions 10, 40, 20, 30; part 4 by 5.
  f.residency.set_uses(part_uses({{10}, {40}, {20}, {30}, {5}}), 64);
  CHECK(f.residency.next_use(1) == 40);
  for (uint32_t p = 0; p < 4; ++p) REQUIRE(f.load(p, p) == IssueBlock::none);
  REQUIRE(f.load(4, 10) == IssueBlock::none);            // a fifth part: one must go
  CHECK(f.residency.residency(1) == Residency::absent);  // used at 40: the farthest
  for (uint32_t p : {0u, 2u, 3u, 4u}) CHECK(f.residency.residency(p) == Residency::resident);
  CHECK(f.residency.evictions()[1].evictions[0] == 1);  // weight buffer, cause room
  CHECK(f.residency.evictions()[2].evictions[1] == 1);  // its mask went with it (coupled)
  CHECK_FALSE(f.mask.contains(ResidentKey{0, 1}));
}

TEST_CASE("residency: next-use eviction never evicts a part needed sooner than the one placed",
          "[memory][residency]") {
  Fixture f;
  f.residency.set_uses(part_uses({{10}, {20}, {30}, {40}, {50}}), 64);
  for (uint32_t p = 0; p < 4; ++p) REQUIRE(f.load(p, p) == IssueBlock::none);
  // Part 4 is used at 50, after every resident part: no room, and nothing is evicted.
  CHECK(f.load(4, 10) == IssueBlock::buffer_full);
  for (uint32_t p = 0; p < 4; ++p) CHECK(f.residency.residency(p) == Residency::resident);
  CHECK(f.residency.evictions()[1].evictions[0] == 0);
  // Once instruction 10 has issued, part 0 has no use ahead: it is the one to go.
  f.residency.note_issued(10);
  f.residency.refresh(0, 11);
  CHECK(f.residency.next_use(0) == SramBuffer::kNeverUsed);
  CHECK(f.load(4, 12) == IssueBlock::none);
  CHECK(f.residency.residency(0) == Residency::absent);
}

TEST_CASE(
    "residency: a mask eviction drops the part's data too, counted as coupled, and its "
    "reload is charged to that cause",
    "[memory][residency]") {
  Fixture f(3);  // the mask buffer holds three 1 KiB masks; the weight buffer four parts
  f.residency.set_uses(part_uses({{10, 60}, {20}, {30}, {40}}), 64);
  for (uint32_t p = 0; p < 3; ++p) REQUIRE(f.load(p, p) == IssueBlock::none);
  f.residency.note_issued(10);  // part 0 next used at 60: the farthest
  f.residency.refresh(0, 4);
  REQUIRE(f.load(3, 5) == IssueBlock::none);
  CHECK(f.residency.residency(0) == Residency::absent);
  CHECK_FALSE(f.weight.contains(ResidentKey{0, 0}));  // the data went with the mask
  const auto& weight_counts = f.residency.evictions()[1];
  const auto& mask_counts = f.residency.evictions()[2];
  CHECK(mask_counts.evictions[0] == 1);    // the mask buffer needed room
  CHECK(weight_counts.evictions[1] == 1);  // the data followed: coupled
  CHECK(weight_counts.evicted_bytes[1] == 256 * kKiB);
  // Part 0 is needed again (at 60) after instructions 20 and 30 issued: parts 1 and 2 have no
  // use ahead, part 3 is used at 40. Reloading part 0 evicts part 1 (no use ahead, older).
  for (uint32_t id : {20u, 30u}) f.residency.note_issued(id);
  for (uint32_t p : {1u, 2u}) f.residency.refresh(p, 6);
  f.port.transfers.clear();
  CHECK(f.residency.ensure_resident(0, 6) == IssueBlock::memory);
  REQUIRE(f.port.transfers.size() == 1);
  CHECK(std::get<0>(f.port.transfers[0]) == Opcode::LOAD_W);
  CHECK(weight_counts.reloads[1] == 1);
  CHECK(weight_counts.reload_bytes[1] == 257 * kKiB);
  CHECK(f.residency.residency(1) == Residency::absent);
  CHECK(f.residency.residency(3) == Residency::resident);
}
