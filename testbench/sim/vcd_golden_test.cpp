// The VCD tracer's values do not move (issue 20): the tracer that updates only the units that
// changed writes, signal by signal, the same value changes at the same time stamps as the tracer
// that rescanned every lane at each refresh (bcaf5c2). Each signal's changes ("time=value" in
// file order) are folded into a 64-bit FNV-1a digest and compared with the digests of that
// tracer's VCD for the same BERT-Tiny/Edge run (testbench/sim/vcd_golden.txt). A mismatch
// prints this run's digests in the file's format.
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../compiler/test_util.hpp"

using testutil::run_cli;
using testutil::TempDir;

namespace {

struct SignalDigest {
  uint64_t changes = 0;
  uint64_t fnv = 14695981039346656037ULL;
  bool operator==(const SignalDigest& o) const { return changes == o.changes && fnv == o.fnv; }
};

void fold(SignalDigest& d, const std::string& text) {
  for (unsigned char c : text) {
    d.fnv ^= c;
    d.fnv *= 1099511628211ULL;
  }
  ++d.changes;
}

// scope.signal -> digest of its value changes. Line-based: SystemC writes one item per line.
std::map<std::string, SignalDigest> digest_vcd(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::map<std::string, std::string> signal_of_code;
  std::vector<std::string> scopes;
  std::map<std::string, SignalDigest> digests;
  std::string line, time = "0";
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string first, second, third, fourth, fifth;
    words >> first >> second >> third >> fourth >> fifth;
    if (first == "$scope") {
      scopes.push_back(third);
    } else if (first == "$upscope") {
      scopes.pop_back();
    } else if (first == "$var") {  // $var wire <bits> <code> <name> ...
      signal_of_code[fourth] = scopes.back() + "." + fifth;
    } else if (!first.empty() && first[0] == '#') {
      time = first.substr(1);
    } else if (!first.empty() && (first[0] == 'b' || first[0] == 'r') && !second.empty()) {
      fold(digests[signal_of_code.at(second)], time + "=" + first.substr(1));
    } else if (!first.empty() && (first[0] == '0' || first[0] == '1') && first.size() > 1) {
      fold(digests[signal_of_code.at(first.substr(1))], time + "=" + first.substr(0, 1));
    }
  }
  return digests;
}

// The golden digests of one run from testbench/sim/vcd_golden.txt.
std::map<std::string, SignalDigest> golden(const std::string& run) {
  std::ifstream in(std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/testbench/sim/vcd_golden.txt");
  REQUIRE(in.good());
  std::map<std::string, SignalDigest> digests;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string name, signal;
    SignalDigest d;
    words >> name >> signal >> d.changes >> std::hex >> d.fnv;
    if (name == run) digests[signal] = d;
  }
  REQUIRE(!digests.empty());
  return digests;
}

std::string table(const std::string& run, const std::map<std::string, SignalDigest>& digests) {
  std::ostringstream out;
  for (const auto& [signal, d] : digests)
    out << run << " " << signal << " " << d.changes << " " << std::hex << d.fnv << std::dec << "\n";
  return out.str();
}

void check_against(const std::string& run, const std::string& options) {
  const auto expected = golden(run);
  TempDir d;
  const auto vcd = (d.path / "run.vcd").string();
  const auto r =
      run_cli("simulate " + options + " --vcd " + vcd + " --out " + (d.path / "out").string());
  REQUIRE(r.exit_code == 0);
  const auto digests = digest_vcd(vcd);
  INFO("digests of this run:\n" << table(run, digests));
  CHECK(digests.size() == expected.size());
  for (const auto& [signal, want] : expected) {
    INFO(signal);
    REQUIRE(digests.count(signal) == 1);
    CHECK(digests.at(signal) == want);
  }
}

}  // namespace

TEST_CASE("VCD golden: BERT-Tiny/Edge performance run, every signal as the rescanning tracer's",
          "[sim][vcd]") {
  check_against("performance", "");
}

TEST_CASE("VCD golden: BERT-Tiny/Edge functional run (DynaTran signals included)", "[sim][vcd]") {
  check_against("functional", "--functional");
}

TEST_CASE("VCD golden: BERT-Tiny/Edge trace window 3000:9000", "[sim][vcd]") {
  check_against("window", "--trace-window 3000:9000");
}
