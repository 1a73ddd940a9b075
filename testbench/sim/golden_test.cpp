// Golden figures: a dozen runs across models, accelerators and profiles must give exactly the
// figures recorded in testbench/golden/figures.json (recorded without protocol checkers; every
// run here has a base-protocol checker on every socket, which must see no violation and change
// no figure). When a change is meant to move them,
// regenerate the file with `python3 tools/update_golden.py` and say in the commit which
// figures moved and why.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"

using nlohmann::json;

TEST_CASE("golden figures of a dozen runs are reproduced exactly", "[sim][golden]") {
  std::ifstream in(std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/testbench/golden/figures.json");
  REQUIRE(in.good());
  const json golden = json::parse(in);
  REQUIRE(golden["runs"].size() >= 12);
  for (const auto& run : golden["runs"]) {
    testutil::TempDir d;
    std::string args;
    for (const auto& a : run["args"]) args += " '" + a.get<std::string>() + "'";
    const auto out = (d.path / "o").string();
    const auto r = testutil::run_cli("simulate" + args + " --check-protocol --out " + out);
    INFO(run["name"].get<std::string>() << ": " << args << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find(" 0 violations") != std::string::npos);
    std::ifstream rep(out + "/report.json");
    const json j = json::parse(rep);
    const json& g = run["figures"];
    CHECK(j["cycles"] == g["cycles"]);
    CHECK(j["finished"] == g["finished"]);
    CHECK(j["tiles_dispatched"] == g["tiles_dispatched"]);
    CHECK(j["memory"]["bytes_read"] == g["bytes_read"]);
    CHECK(j["memory"]["bytes_written"] == g["bytes_written"]);
    CHECK(j["memory"]["spills"] == g["spills"]);
    CHECK(j["compute"]["effectual_macs"] == g["effectual_macs"]);
    CHECK(j["compute"]["operand_reads"] == g["operand_reads"]);
    for (const auto& [block, nj] : g["energy_nj"].items()) {
      INFO("energy of " << block);
      const double got =
          block == "total" ? j["energy_nj"]["total"].get<double>()
                           : j["energy_nj"][block]["total"].get<double>();
      CHECK(got == Approx(nj.get<double>()).epsilon(1e-12));
    }
  }
}
