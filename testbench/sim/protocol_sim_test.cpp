// acceltran simulate --check-protocol: a base-protocol checker on every socket finds no
// violation and changes no figure (report.json byte-for-byte the same as without it).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"

using testutil::run_cli;
using testutil::TempDir;

namespace {

// report.json of a run (it holds no wall time: two runs of the same input give the same file).
nlohmann::json report(const TempDir& d, const std::string& args, const std::string& sub,
                      std::string* stdout_text = nullptr) {
  const std::string out = (d.path / sub).string();
  auto r = run_cli("simulate " + args + " --out " + out);
  INFO("args: " << args << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  if (stdout_text) *stdout_text = r.out;
  std::ifstream in(out + "/report.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

void same_figures_without_violations(const std::string& args) {
  TempDir d;
  std::string text;
  auto checked = report(d, args + " --check-protocol", "checked", &text);
  const auto plain = report(d, args, "plain");
  INFO(args << "\n" << text);
  CHECK(text.find("protocol check: 17 sockets, ") != std::string::npos);
  CHECK(text.find(" 0 violations") != std::string::npos);
  CHECK(text.find(" 0 transactions") == std::string::npos);
  CHECK(checked["cycles"] == plain["cycles"]);
  CHECK(checked["energy_nj"] == plain["energy_nj"]);
  // The inputs record the option (command line, run options); every figure is the same.
  CHECK(checked["inputs"]["run_options"]["check_protocol"] == true);
  checked["inputs"]["run_options"]["check_protocol"] = false;
  checked["inputs"]["command_line"] = plain["inputs"]["command_line"];
  CHECK(checked == plain);
}

}  // namespace

TEST_CASE("protocol: BERT-Tiny on Edge with --check-protocol: 0 violations, same figures",
          "[protocol][sim]") {
  same_figures_without_violations("--model bert-tiny --accel edge");
}

TEST_CASE("protocol: BERT-Tiny on Edge, reference profile, with --check-protocol",
          "[protocol][sim]") {
  same_figures_without_violations("--model bert-tiny --accel edge --profile reference");
}

TEST_CASE("protocol: BERT-Base on Server with --check-protocol: 0 violations, same figures",
          "[protocol][sim]") {
  same_figures_without_violations("--model bert-base --accel server");
}
