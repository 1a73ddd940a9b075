// acceltran plot on inputs it used to mishandle (issue 22): too few rows for a contour, values
// that are not finite, a --name outside --out, an unwritable --out, the default folders.
#include <catch2/catch.hpp>

#include "../compiler/test_util.hpp"
#include "sweep_util.hpp"

using testutil::run_cli;
using testutil::TempDir;
namespace fs = std::filesystem;

namespace {

std::string python() {
  const char* env = std::getenv("ACCELTRAN_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

// Replaces the first `from` in `path` by `to`.
void edit(const fs::path& path, const std::string& from, const std::string& to) {
  std::string text = sweeptest::slurp(path);
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("plot: a small grid, non-finite values, --name and --out are checked", "[plot]") {
  TempDir d;
  REQUIRE(sweeptest::run_sweep(d,
                               "fixed: {--timeline-samples: 0}\n"
                               "grid: {pe: [64, 128], --sparsity: [0.3, 0.5]}\n")
              .exit_code == 0);
  const auto sw = (d.path / "sw").string();
  // 2 x 2 values: a heat map, with a note saying why, and no matplotlib warning.
  auto r = run_cli("plot " + sw + " --kind metric --x pe --y sparsity --name grid.png");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("note: heat map instead of a contour over pe and sparsity: 2 x 2 values, a "
                   "contour needs at least 3 x 3") != std::string::npos);
  CHECK(r.err.find("Warning") == std::string::npos);
  CHECK(fs::exists(d.path / "sw" / "plots" / "grid.png"));
  // The Pareto front is drawn highlighted and counted.
  r = run_cli("plot " + sw + " --kind pareto");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("4 points, ") != std::string::npos);
  CHECK(r.out.find(" on the Pareto front (highlighted)") != std::string::npos);
  // A point whose metric is not finite is named, not dropped silently.
  const auto results = d.path / "sw" / "results.csv";
  const std::string csv = sweeptest::slurp(results);
  const auto row = csv.find("\n0001,ok,");
  REQUIRE(row != std::string::npos);
  const auto header = csv.substr(0, csv.find('\n'));
  REQUIRE(header.find(",cycles,") != std::string::npos);
  std::string line = csv.substr(row + 1, csv.find('\n', row + 1) - row - 1);
  size_t column = std::count(header.begin(), header.begin() + header.find(",cycles,") + 1, ',');
  size_t start = 0;
  for (size_t c = 0; c < column; ++c) start = line.find(',', start) + 1;
  std::string fixed = line;
  fixed.replace(start, line.find(',', start) - start, "nan");
  edit(results, line, fixed);
  r = run_cli("plot " + sw + " --kind metric --x pe --group sparsity --name lines.png");
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("note: 1 of 4 points left out of the figure (not finite): point 0001: cycles "
                   "= nan") != std::string::npos);
  // --name cannot leave --out; an --out that cannot be written is one error, no partial file.
  for (const std::string name : {"../..", "../escape.png", "/tmp/x.png", ".hidden.png"}) {
    r = run_cli("plot " + sw + " --kind pareto --name " + name);
    INFO(name);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("error: option --name: '" + name + "' must be a file name ending in .png") !=
          std::string::npos);
  }
  CHECK(!fs::exists(d.path / "escape.png"));
  d.write("file", "x\n");
  r = run_cli("plot " + sw + " --kind pareto --out " + (d.path / "file" / "png").string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("error: " + (d.path / "file" / "png" / "pareto.png").string() +
                   ": cannot write: ") != std::string::npos);
}

TEST_CASE("plot: default folders stay out of simulate's --out and the current folder", "[plot]") {
  TempDir d;
  using sweeptest::run_in;
  REQUIRE(run_in(d.path, "simulate --timeline-samples 20").exit_code == 0);
  auto r = run_in(d.path, "plot out --kind breakdown");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(d.path / "out-plots" / "breakdown.png"));
  CHECK(!fs::exists(d.path / "out" / "plots"));
  // The default run still works after the plots.
  CHECK(run_in(d.path, "simulate --timeline-samples 20").exit_code == 0);
  r = run_in(d.path, "plot memory --models bert-tiny");
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(d.path / "out-plots" / "memory.png"));
  CHECK(!fs::exists(d.path / "memory.png"));
}

TEST_CASE("plot.py: distinct pie colours, tick labels without an offset", "[plot]") {
  const std::string check =
      "import sys; sys.argv = ['plot']; sys.path.insert(0, '" +
      std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) +
      "/tools'); import plot, matplotlib; "
      "assert all(len(set(plot.distinct_colours(n))) == n for n in range(1, 40)); "
      "assert matplotlib.rcParams['axes.formatter.useoffset'] is False";
  CHECK(std::system((python() + " -B -c \"" + check + "\"").c_str()) == 0);  // -B: no __pycache__
}
