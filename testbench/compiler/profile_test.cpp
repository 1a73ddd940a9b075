// The profile names and the table of published-behaviour switches (config/profile.hpp): the
// command line's help, its parser and report.json all derive from the one table.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "acceltran/config/profile.hpp"
#include "test_util.hpp"

using namespace acceltran;

TEST_CASE("profile names: hardware, reference, and bert as an alias of hardware", "[profile]") {
  Profile p = Profile::reference;
  REQUIRE(parse_profile("hardware", &p));
  CHECK(p == Profile::hardware);
  REQUIRE(parse_profile("reference", &p));
  CHECK(p == Profile::reference);
  REQUIRE(parse_profile("bert", &p));
  CHECK(p == Profile::hardware);
  CHECK_FALSE(parse_profile("Bert", &p));
  CHECK_FALSE(parse_profile("", &p));
  CHECK(std::string(to_string(Profile::hardware)) == "hardware");
  CHECK(std::string(to_string(Profile::reference)) == "reference");
}

TEST_CASE("switch table: unique names, one field each, set and listed by name", "[profile]") {
  std::set<std::string> names;
  const auto& table = published_switches();
  for (size_t i = 0; i < table.size(); ++i) {
    CHECK(names.insert(table[i].name).second);
    CHECK(std::string(table[i].description).size() > 10);
    for (size_t j = 0; j < i; ++j) CHECK(table[i].field != table[j].field);
  }
  CHECK(switch_names(SwitchFamily::bug).size() == 11);
  CHECK(switch_names(SwitchFamily::fix).size() == 5);
  for (const PublishedSwitch& s : published_switches()) {
    PublishedBehaviours b;
    REQUIRE(set_switch(b, s.family, s.name));
    CHECK(b.*s.field);
    CHECK(switches_on(b, s.family) == std::vector<std::string>{s.name});
    const SwitchFamily other =
        s.family == SwitchFamily::bug ? SwitchFamily::fix : SwitchFamily::bug;
    CHECK_FALSE(set_switch(b, other, s.name));
    CHECK(switches_on(b, other).empty());
  }
}

TEST_CASE("switch table: --help lists every switch, the parser takes each, report.json lists them",
          "[profile][cli]") {
  const auto help = testutil::run_cli("simulate --help");
  REQUIRE(help.exit_code == 0);
  for (const PublishedSwitch& s : published_switches())
    CHECK(help.out.find(s.name) != std::string::npos);
  testutil::TempDir d;
  const std::string out = (d.path / "run").string();
  const auto run = testutil::run_cli(
      "simulate --profile reference --reference-bugs load-writes-free,softmax-overassign "
      "--reference-fixes emb-ln --out " +
      out);
  REQUIRE(run.exit_code == 0);
  std::ifstream in(out + "/report.json");
  const auto j = nlohmann::json::parse(in);
  // Table order, whatever the order on the command line.
  CHECK(j["inputs"]["profile"] == "reference");
  CHECK(j["inputs"]["reference_bugs"] ==
        std::vector<std::string>{"softmax-overassign", "load-writes-free"});
  CHECK(j["inputs"]["reference_fixes"] == std::vector<std::string>{"emb-ln"});
  const auto alias = testutil::run_cli("simulate --profile bert --out " + out);
  REQUIRE(alias.exit_code == 0);
  CHECK(alias.out.find("profile hardware") != std::string::npos);
  const auto bad = testutil::run_cli("simulate --profile fast --out " + out);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("allowed: hardware, reference") != std::string::npos);
}
