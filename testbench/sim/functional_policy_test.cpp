// Padding masks and pruning policies through the command line: token files with masks and of
// different lengths, the fixture's documented checkpoint command without --batch, --policy
// (built-in and files) and the per-class calibration reaching its targets.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"

using nlohmann::json;
using testutil::run_cli;
using testutil::TempDir;

namespace {

const std::string kFixture =
    std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/testbench/fixtures/bert-2l-64";
const std::string kCheckpoint =
    "--model " + kFixture + "/config.json --weights " + kFixture + "/model.safetensors";

json run_report(const TempDir& d, const std::string& args, const std::string& sub) {
  const std::string out = (d.path / sub).string();
  const auto r = run_cli("simulate " + args + " --out " + out);
  INFO("args: " << args << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(out + "/report.json");
  REQUIRE(in.good());
  return json::parse(in)["functional"];
}

}  // namespace

TEST_CASE("masks: token files with masks and different lengths run, padding reported",
          "[functional][mask]") {
  TempDir d;
  // The fixture's checkpoint command as documented: 2 sequences, no --batch (the batch is the
  // accelerator's 4, two whole-padding sequences added).
  const json f =
      run_report(d, "--functional " + kCheckpoint + " --tokens " + kFixture + "/tokens.txt", "a");
  CHECK(f["padding_tokens"] == 2 * 16);
  for (const auto& l : f["error_vs_float_reference"]) CHECK(l["cosine"].get<double>() >= 0.999);
  // Different lengths and an explicit mask: padded to the longest (5), 4 sequences.
  const std::string tokens = d.write("t.txt", "1 2 3 4 5\n6 7 8\n9 10 11 0 0 | 1 1 1 0 0\n");
  const json g = run_report(d, "--functional " + kCheckpoint + " --tokens " + tokens, "b");
  CHECK(g["padding_tokens"] == 2 + 2 + 5);
  const json& probs = g["class_sparsity"]["probabilities"];
  // Padding keys are exactly 0: with padding counted, the probabilities are sparser.
  CHECK(probs["unpadded_elements"] == 2 * 2 * (25 + 9 + 9));
  CHECK(probs["sparsity"].get<double>() > probs["unpadded_sparsity"].get<double>());
  for (const auto& l : g["error_vs_float_reference"]) CHECK(l["cosine"].get<double>() >= 0.999);
  // Bad masks and too many sequences: one error line naming the file.
  struct Case {
    std::string text, needle;
  };
  for (const Case& c : {Case{"1 2 | 1\n", "1 mask values after '|' for 2 token ids"},
                        Case{"1 2 | 1 2\n", "mask value '2'"},
                        Case{"1\n2\n3\n4\n5\n", "5 sequences for a batch of 4"}}) {
    const auto r = run_cli("simulate --functional " + kCheckpoint + " --tokens " +
                           d.write("bad.txt", c.text) + " --out " + (d.path / "c").string());
    INFO(r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.rfind("error: ", 0) == 0);
    CHECK(r.err.find("bad.txt") != std::string::npos);
    CHECK(r.err.find(c.needle) != std::string::npos);
  }
}

TEST_CASE("policies: --policy published and policy files through simulate",
          "[functional][policy]") {
  TempDir d;
  const std::string args = "--functional --seq-len 32";
  const json u = run_report(d, args + " --threshold 0.05", "u");
  const json p = run_report(d, args + " --policy published --threshold 0.05", "p");
  CHECK(u["policy"] == "uniform tau=0.05");
  CHECK(p["policy"] == "published tau=0.05");
  // The published policy compares q and scores before the 1/sqrt(d) fold: fewer are pruned.
  for (const char* kind : {"q", "scores"})
    CHECK(p["class_sparsity"][kind]["sparsity"].get<double>() <
          u["class_sparsity"][kind]["sparsity"].get<double>());
  // A policy file: only the FFN intermediate and the probabilities pruned.
  const std::string file =
      d.write("p.yaml", "classes:\n  ffn_intermediate: {tau: 0.05}\n  probabilities: {topk: 4}\n");
  const json f = run_report(d, args + " --policy " + file, "f");
  CHECK(f["class_sparsity"]["q"]["sparsity"].get<double>() < 0.01);
  CHECK(f["class_sparsity"]["ffn_intermediate"]["sparsity"].get<double>() > 0.1);
  CHECK(f["class_sparsity"]["probabilities"]["sparsity"].get<double>() ==
        Approx(1 - 4.0 / 32).margin(0.01));
  const auto both = run_cli("simulate " + args + " --policy " + file + " --threshold 0.1 --out " +
                            (d.path / "x").string());
  CHECK(both.exit_code == 2);
  CHECK(both.err.find("excludes --prune, --threshold and --topk") != std::string::npos);
  const auto unknown =
      run_cli("simulate " + args + " --policy paper --out " + (d.path / "y").string());
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("paper: policy file not found (built-in policies: uniform, published, "
                         "unscaled)") != std::string::npos);
}

TEST_CASE("policies: calibrate --per-class reaches every class's target within 0.02",
          "[functional][policy]") {
  TempDir d;
  const std::string policy = (d.path / "cal.yaml").string();
  const auto r = run_cli(
      "calibrate --seq-len 32 --policy unscaled --per-class --target-sparsity 0.4 "
      "--tolerance 0.005 --write-policy " +
      policy);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const json f = run_report(d, "--functional --seq-len 32 --policy " + policy, "s");
  for (const auto& [kind, c] : f["class_sparsity"].items()) {
    INFO(kind);
    CHECK(c["unpadded_sparsity"].get<double>() == Approx(0.4).margin(0.02));
  }
}
