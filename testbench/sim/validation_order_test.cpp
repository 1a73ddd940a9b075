// Every option and output of `simulate` is checked before the heavy work (issue 20): a bad
// option of a functional BERT-Base run fails before its weights (over 150 MiB) are built. The
// peak memory of the failed process (getrusage of a child, not wall-clock) shows it.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "../compiler/test_util.hpp"

using testutil::TempDir;

namespace {

struct Measured {
  testutil::RunResult run;
  long peak_rss_kib = 0;  // the acceltran process's
};

// Runs `acceltran ARGS` from a forked helper process whose only child is acceltran, so that
// the helper's RUSAGE_CHILDREN peak is acceltran's own.
Measured run_measured(const std::string& args, const TempDir& d) {
  const std::string result = (d.path / "measured.txt").string();
  const pid_t pid = fork();
  if (pid == 0) {
    const testutil::RunResult r = testutil::run_cli(args);
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);
    std::ofstream(result) << r.exit_code << ' ' << usage.ru_maxrss << '\n' << r.err;
    std::fflush(nullptr);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  Measured m;
  std::ifstream in(result);
  in >> m.run.exit_code >> m.peak_rss_kib;
  in.ignore(1);
  std::getline(in, m.run.err, '\0');
  return m;
}

}  // namespace

TEST_CASE("cli: a bad option of a functional run fails before the weights are built",
          "[cli][functional]") {
  TempDir d;
  const std::string run = "simulate --functional --model bert-base ";
  const std::string out = " --out " + (d.path / "o").string();
  const std::string missing = (d.path / "no-such-folder").string();
  struct Case {
    std::string args, needle;
    int rc;
  };
  const std::vector<Case> cases = {
      {"--batch 5000" + out, "option --batch", 2},
      {"--seq-len 0" + out, "option --seq-len", 2},
      {"--seq-len 1024" + out, "max_position_embeddings 512", 2},
      {"--set pe=3" + out, "pe", 1},
      {"--accel no-such-accelerator" + out, "no-such-accelerator", 1},
      {"--profile reference" + out, "default profile", 2},
      {"--vcd " + missing + "/t.vcd" + out, "no-such-folder", 1},
      {"--dump-outputs " + missing + "/h.npy" + out, "no-such-folder", 1},
  };
  // What a process that fails on its first option takes (much more under AddressSanitizer):
  // the failed runs below may add little to it, not BERT-Base's weights.
  const Measured first_option = run_measured("simulate --no-such-option", d);
  REQUIRE(first_option.run.exit_code == 2);
  for (const auto& c : cases) {
    const Measured m = run_measured(run + c.args, d);
    INFO(c.args << "\nstderr: " << m.run.err);
    CHECK(m.run.exit_code == c.rc);
    CHECK(m.run.err.rfind("error: ", 0) == 0);
    CHECK(m.run.err.find(c.needle) != std::string::npos);
    // BERT-Base's synthetic weights alone take over 150 MiB; the failed run stays far below.
    INFO("peak RSS of a run failing on its first option: " << first_option.peak_rss_kib << " KiB");
    CHECK(m.peak_rss_kib < first_option.peak_rss_kib + 64 * 1024);
  }
}
