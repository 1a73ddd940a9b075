// tools/reference_variants.py: one simulation per reference-profile switch (docs/fidelity.md,
// the "effect" column); each row is the run it names.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_util.hpp"

using namespace acceltran;

namespace {

std::string tool() {
  return (std::filesystem::path(testutil::kModels) / ".." / "tools" / "reference_variants.py")
      .lexically_normal()
      .string();
}

nlohmann::json report(const std::filesystem::path& dir) {
  std::ifstream f(dir / "report.json");
  return nlohmann::json::parse(f);
}

}  // namespace

TEST_CASE("reference_variants.py: one run per switch, each differing from the reference run",
          "[compiler][fidelity]") {
  testutil::TempDir d;
  const std::string variants =
      "fix:store-output bug:double-load-energy bug:unstored-outputs opt:lru fix:all";
  const std::string cmd =
      fmt::format("python3 {} --bin {} --keep {} {} > {} 2>&1", tool(), testutil::kBin,
                  d.path.string(), variants, (d.path / "table.txt").string());
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream t(d.path / "table.txt");
  std::stringstream table;
  table << t.rdbuf();
  INFO(table.str());
  const auto base = report(d.path / "reference");
  // The reference run is the plain `simulate --profile reference` run.
  CHECK(base["inputs"]["profile"] == "reference");
  // Each row prints its run's cycles, and each switch reached the simulator.
  for (const char* v : {"fix_store-output", "bug_double-load-energy", "bug_unstored-outputs",
                        "opt_lru", "fix_all"}) {
    const auto r = report(d.path / v);
    CHECK(table.str().find(fmt::format(" {} ", r["cycles"].get<uint64_t>())) != std::string::npos);
  }
  // store-output adds the STORE_M: more cycles and main-memory energy; double-load-energy
  // charges main-memory loads twice; LRU eviction changes nothing (nothing is evicted).
  const auto so = report(d.path / "fix_store-output");
  CHECK(so["cycles"].get<uint64_t>() > base["cycles"].get<uint64_t>());
  const auto dl = report(d.path / "bug_double-load-energy");
  CHECK(dl["cycles"] == base["cycles"]);
  CHECK(dl["energy_nj"]["main_memory"]["total"].get<double>() ==
        Approx(2 * base["energy_nj"]["main_memory"]["total"].get<double>()).epsilon(1e-9));
  CHECK(report(d.path / "opt_lru")["cycles"] == base["cycles"]);
  // unstored-outputs: no STORE_A of layer norms and activations, fewer bytes into the buffers.
  const auto un = report(d.path / "bug_unstored-outputs");
  CHECK(un["cycles"].get<uint64_t>() < base["cycles"].get<uint64_t>());
  CHECK(un["memory"]["activation_buffer_port_bytes"].get<double>() <
        base["memory"]["activation_buffer_port_bytes"].get<double>());
  CHECK(report(d.path / "fix_all")["cycles"] != base["cycles"]);
}

TEST_CASE("reference_variants.py: an unknown variant is an error", "[compiler][fidelity]") {
  const std::string cmd =
      fmt::format("python3 {} --bin {} bogus > /dev/null 2>&1", tool(), testutil::kBin);
  const int rc = std::system(cmd.c_str());
  CHECK(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 1);
}

// tools/reference_steps.py: the prefixes of the reference stream end in order, and the whole
// stream ends at the cycle of the plain run.
TEST_CASE("reference_steps.py: every prefix simulates, the last one is the whole run",
          "[compiler][fidelity]") {
  testutil::TempDir d;
  const std::string steps =
      (std::filesystem::path(tool()).parent_path() / "reference_steps.py").string();
  const std::string cmd = fmt::format("python3 {} --bin {} > {} 2>&1", steps, testutil::kBin,
                                      (d.path / "steps.txt").string());
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto r = testutil::run_cli("simulate --profile reference --out " + (d.path / "run").string());
  REQUIRE(r.exit_code == 0);
  const uint64_t cycles = report(d.path / "run")["cycles"].get<uint64_t>();
  std::ifstream in(d.path / "steps.txt");
  std::string line;
  uint64_t last_end = 0, rows = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int64_t i = 0, end = 0, adds = 0;
    std::string opcode, name, size;
    if (!(ls >> i >> opcode >> name >> size >> end >> adds)) continue;
    CHECK(i == static_cast<int64_t>(rows));
    // In-order streams: a longer prefix never ends earlier than a shorter one.
    CHECK(adds >= 0);
    CHECK(end >= static_cast<int64_t>(last_end));
    last_end = static_cast<uint64_t>(end);
    ++rows;
  }
  CHECK(rows == 101);  // the BERT-Tiny/Edge reference stream
  CHECK(last_end == cycles);
  std::ifstream again(d.path / "steps.txt");
  std::stringstream all;
  all << again.rdbuf();
  CHECK(all.str().find(fmt::format("cycles added per class (total {})", cycles)) !=
        std::string::npos);
}
