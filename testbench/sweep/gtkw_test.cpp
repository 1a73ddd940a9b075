// The shipped GTKWave layout (traces/acceltran.gtkw) against a VCD the tool writes: every
// signal it names exists, counts are analog traces, the cycle counter comes first.
#include <catch2/catch.hpp>

#include <set>

#include "../compiler/test_util.hpp"
#include "sweep_util.hpp"

using testutil::run_cli;
using testutil::TempDir;
namespace fs = std::filesystem;

TEST_CASE("traces/acceltran.gtkw: existing signals, analog counts, a cycle counter", "[gtkw]") {
  TempDir d;
  const auto vcd = (d.path / "run.vcd").string();
  const auto r =
      run_cli("simulate --timeline-samples 0 --out " + (d.path / "out").string() + " --vcd " + vcd);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  // "$var wire 64  aaab  cycle [63:0]  $end" in "$scope module control $end".
  std::set<std::string> signals;
  std::istringstream trace(sweeptest::slurp(vcd));
  std::string word, scope;
  while (trace >> word && word != "$enddefinitions") {
    if (word == "$scope") trace >> word >> scope;
    if (word != "$var") continue;
    std::string type, width, code, name, range;
    trace >> type >> width >> code >> name >> range;
    signals.insert("SystemC." + scope + "." + name + (range == "$end" ? "" : range));
  }
  REQUIRE(signals.count("SystemC.control.cycle[63:0]") == 1);

  std::istringstream layout(
      sweeptest::slurp(std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/traces/acceltran.gtkw"));
  std::string line, flags, first;
  int analog = 0, extended = 0;
  while (std::getline(layout, line)) {
    if (line.empty() || line[0] == '[' || line[0] == '*' || line[0] == '-') continue;
    if (line[0] == '@') {
      flags = line;
      continue;
    }
    INFO(line);
    CHECK(signals.count(line) == 1);
    if (first.empty()) first = line;
    const bool count = line.find("busy_lanes") != std::string::npos ||
                       line.find("used_bytes") != std::string::npos ||
                       line.find("in_flight") != std::string::npos ||
                       line.find("bytes[") != std::string::npos;
    if (count) CHECK(flags == "@8024");  // analog step, decimal, right-justified
    if (flags == "@8024") ++analog;
  }
  const std::string text =
      sweeptest::slurp(std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/traces/acceltran.gtkw");
  for (size_t at = text.find("@20000\n-\n-\n"); at != std::string::npos;
       at = text.find("@20000\n-\n-\n", at + 1))
    ++extended;
  CHECK(first == "SystemC.control.cycle[63:0]");
  CHECK(analog >= 12);
  CHECK(extended == analog);  // each analog trace three rows high
}
