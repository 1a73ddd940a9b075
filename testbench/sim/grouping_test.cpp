// Profile hardware: --tiles-per-instruction N only changes how many instructions the stream has
// (docs/isa.md, "Issue groups"): the control block issues the pieces of a block as one, so every
// figure of the run is the N = 0 one; only the instruction counts differ.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"

using nlohmann::json;

namespace {

json run_grouped(const testutil::TempDir& d, const std::string& accel,
                 uint64_t tiles_per_instruction) {
  const std::string out = (d.path / (accel + std::to_string(tiles_per_instruction))).string();
  const auto r = testutil::run_cli(fmt::format(
      "simulate --accel {} --seq-len 64 --tiles-per-instruction {} --out {}", accel,
      tiles_per_instruction, out));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(out + "/report.json");
  REQUIRE(in.good());
  return json::parse(in);
}

}  // namespace

TEST_CASE("grouping: N = 1, 8, 64 give the cycles and energy of N = 0 on Edge and Server",
          "[sim][grouping]") {
  testutil::TempDir d;
  for (const char* accel : {"edge", "server"}) {
    const json whole = run_grouped(d, accel, 0);
    for (uint64_t tiles_per_instruction : {1ull, 8ull, 64ull}) {
      CAPTURE(accel, tiles_per_instruction);
      const json split = run_grouped(d, accel, tiles_per_instruction);
      CHECK(split["cycles"] == whole["cycles"]);
      CHECK(split["energy_nj"]["total"] == whole["energy_nj"]["total"]);
      CHECK(split["tiles_dispatched"] == whole["tiles_dispatched"]);
      CHECK(split["memory"] == whole["memory"]);
      CHECK(split["compute"] == whole["compute"]);
      CHECK(split["critical_path"] == whole["critical_path"]);  // bounds over the issued blocks
      CHECK(split["achievable_bound"] == whole["achievable_bound"]);
      CHECK(split["finished"] == true);
    }
  }
}
