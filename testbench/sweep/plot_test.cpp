#include <catch2/catch.hpp>

#include "../compiler/test_util.hpp"
#include "sweep_util.hpp"

using testutil::run_cli;
using testutil::TempDir;
namespace fs = std::filesystem;

namespace {

struct Png {
  int width = 0, height = 0, colours = 0;
  double nonwhite = 0, coloured = 0;
};

std::string python() {
  const char* env = std::getenv("ACCELTRAN_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

// Reads the PNG with matplotlib (testbench/sweep/check_png.py).
Png inspect(const fs::path& png) {
  TempDir d;
  const std::string out = (d.path / "o.txt").string();
  const std::string cmd = python() + " " + ACCELTRAN_SOURCE_DIR_FOR_TESTS +
                          "/testbench/sweep/check_png.py " + png.string() + " >" + out;
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::istringstream in(sweeptest::slurp(out));
  std::string path;
  Png p;
  in >> path >> p.width >> p.height >> p.colours >> p.nonwhite >> p.coloured;
  return p;
}

// A drawn figure: a real size, and coloured marks beyond the grey axes and text (an axes-only
// figure has no coloured pixels at all).
void check_drawn(const fs::path& png) {
  INFO(png.string());
  REQUIRE(fs::exists(png));
  CHECK(fs::file_size(png) > 10000);
  const Png p = inspect(png);
  CHECK(p.width >= 600);
  CHECK(p.height >= 300);
  CHECK(p.colours > 100);
  CHECK(p.coloured > 0.003);
}

}  // namespace

TEST_CASE("acceltran plot draws every figure of a run folder", "[plot]") {
  TempDir d;
  const auto run = (d.path / "run").string();
  REQUIRE(run_cli("simulate --timeline-samples 60 --out " + run).exit_code == 0);
  auto r = run_cli("plot " + run);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* kind : {"timeline", "power", "utilization", "energy", "area", "breakdown"})
    check_drawn(d.path / "run-plots" / (std::string(kind) + ".png"));  // beside the run folder
  r = run_cli("plot " + run + " --kind sankey");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("'sankey' is not a run figure; allowed: timeline, power") != std::string::npos);
}

TEST_CASE("acceltran plot draws sweep figures: lines, bars, contour, Pareto front", "[plot]") {
  TempDir d;
  REQUIRE(sweeptest::run_sweep(d,
                               "fixed: {--timeline-samples: 10}\n"
                               "grid: {pe: [64, 128, 256], --sparsity: [0.3, 0.5]}\n")
              .exit_code == 0);
  const auto sw = (d.path / "sw").string();
  const auto out = (d.path / "png").string();
  auto r = run_cli("plot " + sw + " --out " + out +
                   " --kind metric --x pe --group sparsity --metric energy_per_seq_mj "
                   "--name lines.png");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(run_cli("plot " + sw + " --out " + out +
                  " --kind metric --x pe --group sparsity --style bars --name bars.png")
              .exit_code == 0);
  REQUIRE(run_cli("plot " + sw + " --out " + out +
                  " --kind metric --x pe --y sparsity --mark pe=64,sparsity=0.5 "
                  "--name contour.png")
              .exit_code == 0);
  REQUIRE(run_cli("plot " + sw + " --out " + out + " --kind pareto").exit_code == 0);
  REQUIRE(
      run_cli("plot memory --out " + out + " --models bert-tiny bert-mini -- --profile reference")
          .exit_code == 0);
  for (const char* png : {"lines.png", "bars.png", "contour.png", "pareto.png", "memory.png"})
    check_drawn(d.path / "png" / png);
  // Several points per x without --group are ambiguous: one clear error.
  r = run_cli("plot " + sw + " --out " + out + " --kind metric --x pe");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("several points share pe=64") != std::string::npos);
  r = run_cli("plot " + sw + " --kind metric --x pes");
  CHECK(r.err.find("results.csv has no column 'pes'") != std::string::npos);
}
