// acceltran simulate --memory-trace FILE: the main-memory traffic of BERT-Tiny/Edge as a DRAMSys
// STL trace that accounts for every main-memory byte of the report, inside the range the
// report states; figures unchanged.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"

using testutil::run_cli;
using testutil::TempDir;

TEST_CASE("memory trace: BERT-Tiny on Edge, every main-memory byte in the STL trace",
          "[memory][trace][sim]") {
  TempDir d;
  const std::string out = (d.path / "out").string(), trace = out + "/memory.stl";
  auto r =
      run_cli("simulate --model bert-tiny --accel edge --out " + out + " --memory-trace " + trace);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto plain = run_cli("simulate --model bert-tiny --accel edge --out " + out + "-plain");
  REQUIRE(plain.exit_code == 0);
  std::ifstream report_file(out + "/report.json"), plain_file(out + "-plain/report.json");
  const auto report = nlohmann::json::parse(report_file);
  const auto plain_report = nlohmann::json::parse(plain_file);
  CHECK(report["cycles"] == plain_report["cycles"]);
  CHECK(report["energy_nj"] == plain_report["energy_nj"]);
  const double bytes_read = report["memory"]["bytes_read"];
  const double bytes_written = report["memory"]["bytes_written"];
  const double range = report["memory"]["main_memory_range_bytes"];
  REQUIRE(bytes_read > 0);
  std::ifstream in(trace);
  REQUIRE(in.good());
  const std::regex access(R"(^([0-9]+):\t(read|write)\t0x([0-9a-f]+)$)");
  const std::regex totals(R"(^# transfers: ([0-9]+), bytes read: ([0-9]+), bytes written: )"
                          R"(([0-9]+), accesses: ([0-9]+)$)");
  std::string line;
  uint64_t lines = 0, read_lines = 0, header_accesses = 0;
  double header_read = -1, header_written = -1, highest = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, totals)) {
      header_read = std::stod(m[2]);
      header_written = std::stod(m[3]);
      header_accesses = std::stoull(m[4]);
      continue;
    }
    if (line.rfind("#", 0) == 0) continue;
    INFO(line);
    REQUIRE(std::regex_match(line, m, access));
    ++lines;
    read_lines += m[2] == "read";
    highest = std::max(highest, static_cast<double>(std::stoull(m[3], nullptr, 16)));
  }
  CHECK(header_read == bytes_read);
  CHECK(header_written == bytes_written);
  CHECK(header_accesses == lines);
  CHECK(read_lines * 64 >= bytes_read);
  CHECK((lines - read_lines) * 64 >= bytes_written);
  CHECK(highest < range);
}

TEST_CASE("memory trace: a --memory-trace file that cannot be written is refused before the run",
          "[memory][trace][sim]") {
  TempDir d;
  auto r = run_cli("simulate --model bert-tiny --accel edge --out " + (d.path / "out").string() +
                   " --memory-trace " + (d.path / "missing" / "t.stl").string());
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("--memory-trace") != std::string::npos);
}

TEST_CASE("memory trace: the Ramulator format has the STL trace's bursts as LD and ST lines",
          "[memory][trace][sim]") {
  TempDir d;
  const std::string out = (d.path / "out").string();
  auto stl = run_cli("simulate --model bert-tiny --accel edge --out " + out + " --memory-trace " +
                     out + "/memory.stl");
  REQUIRE(stl.exit_code == 0);
  auto ramulator =
      run_cli("simulate --model bert-tiny --accel edge --out " + out + " --memory-trace " + out +
              "/memory.trace --memory-trace-format ramulator");
  INFO(ramulator.err);
  REQUIRE(ramulator.exit_code == 0);  // the folder may hold the .stl trace of the first run
  // The STL trace went with the folder it was in; its bursts, as LD / ST lines.
  std::ifstream stl_again_check(out + "/memory.stl");
  CHECK(!stl_again_check.good());
  auto again = run_cli("simulate --model bert-tiny --accel edge --out " + out + "-stl" +
                       " --memory-trace " + out + "-stl/memory.stl");
  REQUIRE(again.exit_code == 0);
  std::ifstream stl_file(out + "-stl/memory.stl"), ramulator_file(out + "/memory.trace");
  std::string stl_line, ramulator_line;
  const std::regex stl_access(R"(^[0-9]+:\t(read|write)\t(0x[0-9a-f]+)$)");
  const std::regex ramulator_access(R"(^(LD|ST) (0x[0-9a-f]+)$)");
  uint64_t lines = 0;
  bool same = true;
  while (std::getline(stl_file, stl_line)) {
    if (stl_line.rfind("#", 0) == 0) continue;
    std::smatch s, r;
    REQUIRE(std::getline(ramulator_file, ramulator_line));
    REQUIRE(std::regex_match(stl_line, s, stl_access));
    REQUIRE(std::regex_match(ramulator_line, r, ramulator_access));
    same = same && (s[1] == "read") == (r[1] == "LD") && s[2] == r[2];
    ++lines;
  }
  CHECK(same);
  CHECK(lines > 0);
  CHECK(!std::getline(ramulator_file, ramulator_line));
}

TEST_CASE("memory trace: --memory-trace-format without --memory-trace is a usage error",
          "[memory][trace][sim]") {
  auto r = run_cli("simulate --memory-trace-format ramulator --out /tmp/never-written");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--memory-trace-format") != std::string::npos);
  auto bad = run_cli("simulate --memory-trace x.stl --memory-trace-format dramsim --out /tmp/x");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("allowed: dramsys, ramulator") != std::string::npos);
}
