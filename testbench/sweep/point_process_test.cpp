// A sweep point's process is a fork of the sweep (no exec; docs/performance.md, "Sweeps"): the
// forked points give the same results, logs and errors as points started by exec
// (--exec-points).
#include <catch2/catch.hpp>
#include <string>

#include "../compiler/test_util.hpp"
#include "sweep_util.hpp"

using testutil::run_cli;
using testutil::TempDir;
namespace fs = std::filesystem;

namespace {

// `text` with every occurrence of `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// A point's log, its sweep folder's path made DIR, without the "simulated in ... wall time" line.
std::string point_log(const fs::path& sweep, const char* point, const char* log) {
  std::istringstream in(
      replaced(sweeptest::slurp(sweep / "points" / point / log), sweep.string(), "DIR"));
  std::string line, kept;
  while (std::getline(in, line))
    if (line.find("wall time") == std::string::npos) kept += line + "\n";
  return kept;
}

// results.csv without the wall_s column (the 4th), the sweep folder's path made DIR.
std::string results_without_wall(const fs::path& sweep) {
  std::istringstream in(replaced(sweeptest::slurp(sweep / "results.csv"), sweep.string(), "DIR"));
  std::string line, kept;
  while (std::getline(in, line)) {
    size_t comma = 0;
    for (int n = 0; n < 3 && comma != std::string::npos; ++n) comma = line.find(',', comma + 1);
    const size_t next = line.find(',', comma + 1);
    kept += line.substr(0, comma) + line.substr(next) + "\n";
  }
  return kept;
}

}  // namespace

TEST_CASE("forked sweep points give the results, logs and errors of exec'd ones", "[sweep]") {
  TempDir d;
  const auto spec = d.write("spec.yaml", R"(model: bert-tiny
accelerator: edge
fixed: {--timeline-samples: 10}
grid:
  pe: [64, 128]
  --sparsity: [0.3, 0.5]
points:
  - {pe: 64, --lookahead: 0}
)");
  const fs::path forked = d.path / "forked", executed = d.path / "executed";
  const auto a = run_cli("sweep " + spec + " --out " + forked.string() + " -j 2 --no-progress");
  const auto b = run_cli("sweep " + spec + " --out " + executed.string() +
                         " -j 2 --no-progress --exec-points");
  INFO("fork: " << a.out << a.err << "\nexec: " << b.out << b.err);
  CHECK(a.exit_code == 1);  // the --lookahead 0 point fails either way
  CHECK(b.exit_code == 1);
  CHECK(a.out.find("5 points, 4 ok, 1 failed") != std::string::npos);
  CHECK(replaced(a.err, forked.string(), "DIR") == replaced(b.err, executed.string(), "DIR"));
  CHECK(results_without_wall(forked) == results_without_wall(executed));
  for (const char* point : {"0000", "0003", "0004"})
    for (const char* log : {"stdout.txt", "stderr.txt"}) {
      INFO("point " << point << ", " << log);
      const std::string fork_log = point_log(forked, point, log);
      CHECK(fork_log == point_log(executed, point, log));
      if (std::string(log) == "stdout.txt" && std::string(point) != "0004")
        CHECK(fork_log.find("report: ") != std::string::npos);  // flushed before the exit
    }
  CHECK(sweeptest::slurp(forked / "points" / "0004" / "stderr.txt") ==
        "error: option --lookahead: value 0 must be > 0\n");
}
