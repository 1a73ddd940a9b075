// Sweep specs and folders that would lose or mix results: refused with one error line, exit
// code != 0, and nothing left behind (issue 22).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"
#include "sweep_util.hpp"

using testutil::run_cli;
using testutil::TempDir;
namespace fs = std::filesystem;

namespace {

// Names in `folder`, sorted (a left-over .partial folder shows up here).
std::vector<std::string> listing(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

int error_lines(const std::string& err) {
  int count = 0;
  for (size_t at = err.find("error: "); at != std::string::npos; at = err.find("error: ", at + 1))
    ++count;
  return count;
}

// Runs `sweep SPEC --out DIR/out`, expects exit code 1, one error line holding `expect`, and no
// sweep folder (nor anything else new) in DIR.
void expect_refused(const std::string& spec_text, const std::string& expect) {
  TempDir d;
  const auto spec = d.write("spec.yaml", spec_text);
  const auto before = listing(d.path);
  const auto r = run_cli("sweep " + spec + " --out " + (d.path / "out").string());
  INFO(spec_text << "\nstderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(expect) != std::string::npos);
  CHECK(error_lines(r.err) == 1);
  CHECK(listing(d.path) == before);
}

}  // namespace

TEST_CASE("a key given twice in a sweep spec is refused with both lines", "[sweep]") {
  expect_refused("fixed: {pe: 64, pe: 128}\n",
                 "spec.yaml:1: key 'fixed.pe' is given twice (first on line 1); keep one");
  expect_refused("grid:\n  pe: [64]\n  --sparsity: [0.3]\n  pe: [128]\n",
                 "spec.yaml:4: key 'grid.pe' is given twice (first on line 2); keep one");
  expect_refused("points:\n  - {accel: edge, accelerator: server}\n",
                 "key 'points[0].accelerator' is given twice");
  expect_refused("model: bert-tiny\nmodel: bert-base\n", "spec.yaml:2: key 'model' is given twice");
  // Inside a value passed on to --set.
  expect_refused("fixed: {main_memory: {type: hbm, type: dram}}\n",
                 "key 'fixed.main_memory.type' is given twice");
}

TEST_CASE("a grid axis or a point that would override a fixed setting is refused", "[sweep]") {
  expect_refused("fixed: {pe: 64}\ngrid: {pe: [128, 256]}\n",
                 "key 'grid.pe' would override 'fixed.pe', which is set for every point; keep one");
  expect_refused("fixed: {--sparsity: 0.5}\npoints: [{pe: 128}, {--sparsity: 0.3}]\n",
                 "key 'points[1].--sparsity' would override 'fixed.--sparsity'");
  expect_refused("models: [bert-tiny]\ngrid: {model: [bert-mini]}\n",
                 "key 'grid.model' would override 'models'");
  expect_refused("accelerator: edge\nfixed: {accel: server}\n",
                 "key 'fixed.accelerator' would override 'accelerator'");
}

TEST_CASE("a relative --vcd is written into each point's folder, a shared one is refused",
          "[sweep]") {
  TempDir d;
  const auto spec = d.write("spec.yaml",
                            "fixed: {--vcd: traces/trace.vcd, --timeline-samples: 0}\n"
                            "grid: {pe: [64, 128]}\n");
  const auto out = d.path / "sweep";
  const auto r = sweeptest::run_in(d.path, "sweep " + spec + " --out sweep -j 2 --no-progress");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto first = out / "points" / "0000" / "traces" / "trace.vcd";
  const auto second = out / "points" / "0001" / "traces" / "trace.vcd";
  REQUIRE(fs::exists(first));
  REQUIRE(fs::exists(second));
  CHECK(sweeptest::slurp(first) != sweeptest::slurp(second));  // 64 and 128 PEs
  CHECK(!fs::exists(d.path / "traces"));
  // An absolute path every point would write, or a relative one leaving the point's folder.
  const std::string shared = (d.path / "one.vcd").string();
  expect_refused("fixed: {--vcd: " + shared + "}\ngrid: {pe: [64, 128]}\n",
                 "key '--vcd': points 0000 and 0001 would both write " + shared);
  expect_refused("points: [{pe: 64, --vcd: " + (d.path / "one").string() +
                     "}, {pe: 128, --vcd: " + shared + "}]\n",
                 "points 0000 and 0001 would both write " + shared);
  expect_refused("fixed: {--vcd: ../up.vcd}\n",
                 "key '--vcd': '../up.vcd' leaves the point's folder");
  expect_refused("fixed: {--functional: true, --dump-outputs: " + (d.path / "h.npy").string() +
                     "}\ngrid: {--threshold: [0.01, 0.02]}\n",
                 "key '--dump-outputs': points 0000 and 0001 would both write");
}

TEST_CASE("sweep --out is validated as simulate's: not the root, not a non-sweep folder",
          "[sweep]") {
  TempDir d;
  const auto spec = d.write("spec.yaml", "grid: {pe: [64]}\nfixed: {--timeline-samples: 0}\n");
  for (const std::string out : {"/", ".", ".."}) {
    const auto r = run_cli("sweep " + spec + " --out " + out);
    INFO(out << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("must name a folder") != std::string::npos);
    CHECK(error_lines(r.err) == 1);
  }
  CHECK(!fs::exists("/plan.json"));
  // A folder of other files, a simulate report folder, a file: refused and left as they were.
  fs::create_directories(d.path / "notes");
  d.write("notes/todo.txt", "keep me\n");
  fs::create_directories(d.path / "report");
  d.write("report/report.json", "{}\n");
  d.write("file", "x\n");
  const auto before = listing(d.path);
  const std::pair<std::string, std::string> cases[] = {
      {"notes", "--out holds 'todo.txt', which is not a report file"},
      {"report", "--out holds 'report.json' but no plan.json, so it is not a sweep folder"},
      {"file", "--out exists and is not a folder"}};
  for (const auto& [folder, expect] : cases) {
    const auto r = run_cli("sweep " + spec + " --out " + (d.path / folder).string());
    INFO(folder << ": " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(expect) != std::string::npos);
    CHECK(error_lines(r.err) == 1);
  }
  CHECK(listing(d.path) == before);
  CHECK(listing(d.path / "notes") == std::vector<std::string>{"todo.txt"});
  CHECK(listing(d.path / "report") == std::vector<std::string>{"report.json"});
  // A new folder, then the same one resumed.
  const auto sweep = (d.path / "new" / "sweep").string();
  REQUIRE(run_cli("sweep " + spec + " --out " + sweep + " --no-progress").exit_code == 0);
  const auto r = run_cli("sweep " + spec + " --out " + sweep + " --no-progress");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("1 points, 1 already done, 0 to run") != std::string::npos);
  CHECK(listing(d.path / "new") == std::vector<std::string>{"sweep"});
}

TEST_CASE("sweep plan, status and logs: bounded reads, checked writes", "[sweep]") {
  TempDir d;
  const auto spec = d.write("spec.yaml", "grid: {pe: [64, 128]}\nfixed: {--timeline-samples: 0}\n");
  const auto sweep = d.path / "sweep";
  REQUIRE(run_cli("sweep " + spec + " --out " + sweep.string() + " --no-progress").exit_code == 0);
  // The point's log files are written whole (stdout holds simulate's report).
  CHECK(sweeptest::slurp(sweep / "points" / "0001" / "stdout.txt").find("cycles") !=
        std::string::npos);
  CHECK(fs::exists(sweep / "points" / "0001" / "stderr.txt"));
  // A status nested far too deep is an unreadable status: the point is run again.
  const auto status = sweep / "points" / "0001" / "status.json";
  d.write("sweep/points/0001/status.json", std::string(100000, '[') + std::string(100000, ']'));
  auto r = run_cli("sweep " + spec + " --out " + sweep.string() + " --no-progress");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("2 points, 1 already done, 1 to run") != std::string::npos);
  CHECK(nlohmann::json::parse(sweeptest::slurp(status)).value("status", "") == "ok");
  // A point's log that cannot be written (a full disk: /dev/full) fails the point and the sweep
  // with the file's error, and the point runs again next time.
  const auto log = sweep / "points" / "0000" / "stdout.txt";
  fs::remove(log);
  fs::create_symlink("/dev/full", log);
  fs::remove(sweep / "points" / "0000" / "status.json");
  r = run_cli("sweep " + spec + " --out " + sweep.string() + " --no-progress");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("error: " + log.string() + ": cannot write: No space left on device") !=
        std::string::npos);
  CHECK(error_lines(r.err) == 1);
  const auto point_status =
      nlohmann::json::parse(sweeptest::slurp(sweep / "points" / "0000" / "status.json"));
  CHECK(point_status.value("status", "") == "failed");
  fs::remove(log);
  r = run_cli("sweep " + spec + " --out " + sweep.string() + " --no-progress");
  CHECK(r.out.find("2 points, 1 already done, 1 to run") != std::string::npos);
  CHECK(r.exit_code == 0);
  // A plan nested far too deep, or one without end: one error naming the file and the limit.
  const auto plan = sweep / "plan.json";
  d.write("sweep/plan.json", std::string(100000, '[') + std::string(100000, ']'));
  r = run_cli("sweep collect " + sweep.string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(plan.string() + ": JSON nested deeper than") != std::string::npos);
  CHECK(error_lines(r.err) == 1);
  fs::remove(plan);
  fs::create_symlink("/dev/zero", plan);
  r = run_cli("sweep collect " + sweep.string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(plan.string() + ": sweep plan file exceeds the limit of 67108864 bytes") !=
        std::string::npos);
}
