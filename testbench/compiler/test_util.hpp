// Helpers shared by the compiler tests.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/workload/model.hpp"

namespace testutil {

inline const std::string kModels = ACCELTRAN_MODELS_DIR_FOR_TESTS;
inline const std::string kBin = ACCELTRAN_BIN_FOR_TESTS;

struct Setup {
  acceltran::Technology tech = acceltran::load_technology(kModels + "/technology.yaml");
  acceltran::DesignSpace space = acceltran::load_design_space(kModels + "/design_space.yaml");
  acceltran::AcceleratorConfig accel(const std::string& name = "edge") const {
    return acceltran::load_accelerator(kModels + "/accelerators/" + name + ".yaml", space, tech);
  }
};

inline acceltran::Program compile(const std::string& model, const std::string& profile = "hardware",
                                  const std::string& accel = "edge", uint64_t tpi = 0,
                                  int64_t seq = 128) {
  Setup s;
  acceltran::CompileOptions o;
  REQUIRE(acceltran::parse_profile(profile, &o.profile));
  o.tiles_per_instruction = tpi;
  o.seq_len = seq;
  return acceltran::compile_program(
      acceltran::load_model(kModels + "/transformers/" + model + ".json"), s.accel(accel), s.tech,
      o);
}

// A scratch folder removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/acceltran-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    std::ofstream(p) << text;
    return p.string();
  }
};

struct RunResult {
  int exit_code;
  std::string out, err;
};

// Runs the acceltran binary with the given argument string (shell syntax).
inline RunResult run_cli(const std::string& args) {
  TempDir d;
  auto out = (d.path / "out.txt").string(), err = (d.path / "err.txt").string();
  std::string cmd = kBin + " " + args + " >" + out + " 2>" + err;
  int rc = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return RunResult{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

}  // namespace testutil
