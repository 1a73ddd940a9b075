// Helpers shared by the design-space exploration tests.
#pragma once
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../compiler/test_util.hpp"

namespace sweeptest {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the acceltran binary with `args` (shell syntax) in `folder`, for relative paths.
inline testutil::RunResult run_in(const std::filesystem::path& folder, const std::string& args) {
  testutil::TempDir d;
  const auto out = d.path / "out.txt", err = d.path / "err.txt";
  const std::string cmd = "cd '" + folder.string() + "' && " + testutil::kBin + " " + args + " >" +
                          out.string() + " 2>" + err.string();
  const int rc = std::system(cmd.c_str());
  return testutil::RunResult{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

// Writes DIR/spec.yaml and runs it as a sweep into DIR/sw with two processes.
inline testutil::RunResult run_sweep(const testutil::TempDir& d, const std::string& spec_text) {
  const std::string spec = d.write("spec.yaml", spec_text);
  return testutil::run_cli("sweep " + spec + " --out " + (d.path / "sw").string() +
                           " -j 2 --no-progress");
}

}  // namespace sweeptest
