#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"
#include "sweep_util.hpp"

using testutil::run_cli;
using testutil::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

size_t column(const std::vector<std::string>& header, const std::string& name) {
  auto it = std::find(header.begin(), header.end(), name);
  REQUIRE(it != header.end());
  return static_cast<size_t>(it - header.begin());
}

}  // namespace

TEST_CASE("a 12-point sweep writes 12 rows, survives a failing point and resumes", "[sweep]") {
  TempDir d;
  // A 2 x 4 grid and 4 explicit points, the last of which fails at run time (simulate
  // rejects --lookahead 0).
  const auto spec = d.write("spec.yaml", R"(model: bert-tiny
accelerator: edge
fixed: {--timeline-samples: 20}
grid:
  pe: [64, 128]
  --sparsity: [0.3, 0.4, 0.5, 0.6]
points:
  - {pe: 256, main_memory.type: hbm, main_memory.ranks: 1, main_memory.channels: 4}
  - {pe: 256, activation_buffer_mb: 8}
  - {pe: 512, --loop-order: k_i_j_b}
  - {pe: 64, --lookahead: 0}
)");
  const auto out = (d.path / "out").string();
  auto r = run_cli("sweep " + spec + " --out " + out + " -j 2");
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 1);  // one point failed; the others ran
  CHECK(r.out.find("12 points, 11 ok, 1 failed, 0 missing") != std::string::npos);
  // No progress bar when stderr is not a terminal (here a pipe): the error line is all.
  CHECK(r.err.find("points, 1 failed") == std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.out.find("failed point 11: option --lookahead: value 0 must be > 0") !=
        std::string::npos);
  // The error line says why: the count and the first failed point's error.
  CHECK(r.err.find("error: 1 of 12 points failed; the first, point 0011: option --lookahead: "
                   "value 0 must be > 0") != std::string::npos);
  auto rows = read_csv(d.path / "out" / "results.csv");
  REQUIRE(rows.size() == 13);
  const auto& h = rows[0];
  for (const char* c : {"point",
                        "status",
                        "error",
                        "model",
                        "accelerator",
                        "pe",
                        "sparsity",
                        "main_memory.type",
                        "activation_buffer_mb",
                        "loop-order",
                        "cycles",
                        "latency_us",
                        "throughput_seq_per_s",
                        "energy_per_seq_mj",
                        "power_w.average",
                        "power_w.peak",
                        "area_mm2.total",
                        "utilization.mac_lanes",
                        "memory.bytes_read",
                        "memory.bytes_written"})
    column(h, c);
  int ok = 0;
  for (size_t n = 1; n < rows.size(); ++n) {
    REQUIRE(rows[n].size() == h.size());
    if (rows[n][column(h, "status")] == "ok") {
      ++ok;
      CHECK(std::stod(rows[n][column(h, "cycles")]) > 0);
    }
  }
  CHECK(ok == 11);
  const auto& bad = rows[12];
  CHECK(bad[column(h, "status")] == "failed");
  CHECK(bad[column(h, "error")] == "option --lookahead: value 0 must be > 0");
  // Inputs reach the simulation: the sparsity column equals the report's.
  CHECK(rows[1][column(h, "sparsity")] == "0.3");
  CHECK(std::stod(rows[1][column(h, "inputs.activation_sparsity")]) == Approx(0.3));
  CHECK(rows[9][column(h, "main_memory.type")] == "hbm");
  CHECK(rows[10][column(h, "area_mm2.activation_buffer")] !=
        rows[9][column(h, "area_mm2.activation_buffer")]);

  // Pareto front: non-empty, and no point of results.csv dominates a point on it.
  auto front = read_csv(d.path / "out" / "pareto.csv");
  REQUIRE(front.size() >= 2);
  const auto t = column(h, "throughput_seq_per_s"), e = column(h, "energy_per_seq_mj"),
             a = column(h, "area_mm2.total");
  for (size_t f = 1; f < front.size(); ++f)
    for (size_t n = 1; n < rows.size(); ++n) {
      if (rows[n][column(h, "status")] != "ok") continue;
      double ft = std::stod(front[f][t]), fe = std::stod(front[f][e]), fa = std::stod(front[f][a]);
      double rt = std::stod(rows[n][t]), re = std::stod(rows[n][e]), ra = std::stod(rows[n][a]);
      bool dom = rt >= ft && re <= fe && ra <= fa && (rt > ft || re < fe || ra < fa);
      CHECK_FALSE(dom);
    }

  // Second run: the 11 done points are skipped (their status files are untouched), the
  // failed one is tried again.
  const auto status0 = d.path / "out" / "points" / "0000" / "status.json";
  const auto before = fs::last_write_time(status0);
  r = run_cli("sweep " + spec + " --out " + out + " -j 2");
  CHECK(r.out.find("12 points, 11 already done, 1 to run") != std::string::npos);
  CHECK(fs::last_write_time(status0) == before);
  CHECK(read_csv(d.path / "out" / "results.csv").size() == 13);
}

TEST_CASE("sweep collect lists missing points and a changed point is run again", "[sweep]") {
  TempDir d;
  const auto spec =
      d.write("spec.yaml", "grid: {pe: [64, 128, 256]}\nfixed: {--timeline-samples: 10}\n");
  const auto out = (d.path / "out").string();
  auto r = run_cli("sweep " + spec + " --out " + out + " -j 1 --no-progress");
  REQUIRE(r.exit_code == 0);
  fs::remove(d.path / "out" / "points" / "0001" / "status.json");
  r = run_cli("sweep collect " + out);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("2 ok, 0 failed, 1 missing") != std::string::npos);
  CHECK(r.out.find("missing points: 1") != std::string::npos);
  auto rows = read_csv(d.path / "out" / "results.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows[2][column(rows[0], "status")] == "missing");
  // Edit the spec: point 2 now has other inputs and runs again; 0 stays done.
  d.write("spec.yaml", "grid: {pe: [64, 128, 512]}\nfixed: {--timeline-samples: 10}\n");
  r = run_cli("sweep " + spec + " --out " + out + " -j 1 --no-progress");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("3 points, 1 already done, 2 to run") != std::string::npos);
}

TEST_CASE("bad sweep specs and options give one clear error", "[sweep]") {
  TempDir d;
  struct Case {
    std::string spec, expect;
  } cases[] = {
      {"grids: {pe: [64]}\n", "unknown key 'grids'; allowed keys: model, models"},
      {"grid: {pe: 64}\n", "key 'grid.pe': expected a non-empty list"},
      {"model: bert-tiny\nmodels: [bert-base]\n", "keys 'model' and 'models' exclude each other"},
      {"points: [{--out: x}]\n", "key 'points[0].--out'"},
      {"grid: {pe: [64, \n", "YAML syntax error"},
      {"grid: {--sparsty: [0.3]}\n",
       "key '--sparsty' is not an option of acceltran simulate; options: "
       "--allow-outside-design-space"},
  };
  for (const auto& c : cases) {
    auto spec = d.write("bad.yaml", c.spec);
    auto r = run_cli("sweep " + spec + " --out " + (d.path / "o").string());
    INFO(c.spec << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(c.expect) != std::string::npos);
  }
  // An unknown accelerator key fails every point; the summary names the error once.
  auto r = run_cli("sweep " + d.write("typo.yaml", "grid: {pes: [64, 128]}\n") + " --out " +
                   (d.path / "typo").string() + " --no-progress");
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("failed points 0-1: ") != std::string::npos);
  CHECK(r.out.find("edge.yaml: unknown key 'pes' (did you mean 'pe'?); allowed keys: ") !=
        std::string::npos);
  CHECK(r.err.find("error: every point of the sweep failed: 2 of 2 points failed; the first, "
                   "point 0000: ") != std::string::npos);
  CHECK(r.err.find("unknown key 'pes'") != std::string::npos);
  r = run_cli("sweep " + d.write("ok.yaml", "grid: {pe: [64]}\n"));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("missing --out DIR") != std::string::npos);
  r = run_cli("sweep collect " + (d.path / "nosuch").string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("not a sweep folder") != std::string::npos);
}

TEST_CASE("slurm back end writes a job-array script (--dry-run)", "[sweep]") {
  TempDir d;
  const auto spec = d.write("spec.yaml", "grid: {pe: [64, 128, 256, 512, 1024]}\n");
  const auto out = (d.path / "out").string();
  auto r = run_cli("sweep " + spec + " --out " + out +
                   " --backend slurm --points-per-task 2 --slurm-opt=--partition=short "
                   "--slurm-opt time=00:10:00 --dry-run");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto s = sweeptest::slurp(d.path / "out" / "slurm" / "sweep.sbatch");
  CHECK(s.find("#SBATCH --array=0-2\n") != std::string::npos);
  CHECK(s.find("#SBATCH --partition=short\n") != std::string::npos);
  CHECK(s.find("#SBATCH --time=00:10:00\n") != std::string::npos);
  CHECK(s.find("chunks=( 0-1 2-3 4 )") != std::string::npos);
  CHECK(!fs::exists(d.path / "out" / "points" / "0000" / "run" / "report.json"));
  // The array task's command, run by hand for chunk 2: point 4 only.
  r = run_cli("sweep worker " + out + " --points 4");
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(d.path / "out" / "points" / "0004" / "run" / "report.json"));
  CHECK(!fs::exists(d.path / "out" / "points" / "0003"));
  r = run_cli("sweep collect " + out);
  CHECK(r.out.find("1 ok, 0 failed, 4 missing") != std::string::npos);
  CHECK(r.out.find("missing points: 0-3") != std::string::npos);
}
