// Functional runs (`simulate --functional`): values through the modelled hardware, checked
// against the float32 reference, DynaTran's measured sparsity, top-k, outputs, bad input;
// padding masks, pruning policies and per-class calibration.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"

using nlohmann::json;
using testutil::run_cli;
using testutil::TempDir;

namespace {

const std::string kFixture =
    std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/testbench/fixtures/bert-2l-64";
const std::string kFixtureArgs = "--functional --model " + kFixture + "/config.json --weights " +
                                 kFixture + "/model.safetensors --tokens " + kFixture +
                                 "/tokens.txt --allow-outside-design-space";
const std::string kCheckpoint =
    "--model " + kFixture + "/config.json --weights " + kFixture + "/model.safetensors";

json run_fn(const TempDir& d, const std::string& args, const std::string& sub = "out") {
  const std::string out = (d.path / sub).string();
  const auto r = run_cli("simulate " + args + " --out " + out);
  INFO("args: " << args << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(out + "/report.json");
  REQUIRE(in.good());
  const json j = json::parse(in);
  REQUIRE(j["finished"] == true);
  REQUIRE(j.contains("functional"));
  return j;
}

}  // namespace

TEST_CASE("functional: tau = 0 on the fixture matches the float reference (cosine >= 0.999)",
          "[functional]") {
  TempDir d;
  const json j = run_fn(d, kFixtureArgs);
  const json& f = j["functional"];
  CHECK(f["synthetic_weights"] == false);
  CHECK(f["saturated_values"] == 0);
  REQUIRE(f["error_vs_float_reference"].size() == 3);  // embeddings + 2 layers
  for (const auto& l : f["error_vs_float_reference"]) {
    INFO(l.dump());
    CHECK(l["cosine"].get<double>() >= 0.999);
    // Documented bound (docs/dynatran.md): Q4.16 rounding through two layers.
    CHECK(l["max_abs_error"].get<double>() <= 0.01);
    CHECK(l["relative_error"].get<double>() <= 0.01);
  }
  // Every pruned op reports its measured sparsity; at tau = 0 only exact zeros count.
  CHECK(f["pruned_tensors"].size() == 2 * (1 + 2 * 3 + 3));  // qkv, 2 heads x3, o, up, down
  CHECK(f["pruned_sparsity"].get<double>() < 0.05);
  // The effectual MACs come from the data: nearly dense at tau = 0.
  const double dense = j["compute"]["dense_macs"], eff = j["compute"]["effectual_macs"];
  CHECK(eff > 0.9 * dense);
  CHECK(eff <= dense);
}

TEST_CASE("functional: measured sparsity and effectual MACs follow tau monotonically",
          "[functional]") {
  TempDir d;
  double prev_s = -1, prev_eff = 1e300, prev_err = -1;
  int n = 0;
  for (double tau : {0.0, 0.005, 0.02, 0.05, 0.2}) {
    const json j =
        run_fn(d, fmt::format("--functional --threshold {}", tau), fmt::format("o{}", n++));
    const json& f = j["functional"];
    const double s = f["pruned_sparsity"], eff = j["compute"]["effectual_macs"];
    const double err = f["error_vs_float_reference"].back()["relative_error"];
    INFO("tau " << tau << ": sparsity " << s << ", effectual " << eff << ", error " << err);
    CHECK(s > prev_s);
    CHECK(eff < prev_eff);
    CHECK(err >= prev_err);
    for (const auto& t : f["pruned_tensors"])
      CHECK(t["zeros"].get<uint64_t>() <= t["elements"].get<uint64_t>());
    prev_s = s;
    prev_eff = eff;
    prev_err = err;
  }
  CHECK(prev_s > 0.5);  // tau = 0.2 prunes most of the small synthetic activations
}

TEST_CASE("functional: top-k keeps k values per row segment", "[functional]") {
  TempDir d;
  const json j = run_fn(d, kFixtureArgs + " --prune topk --topk 8");
  const json& f = j["functional"];
  CHECK(f["prune"] == "topk k=8");
  CHECK(f["topk_network_cycles"].get<uint64_t>() > 0);
  for (const auto& t : f["pruned_tensors"]) {
    const std::string op = t["op"];
    const double s = t["sparsity"];
    INFO(op << " sparsity " << s);
    // Row segments: 32-wide head slices (qkv, pv), 16 keys (qk, softmax), 64 / 256 features.
    double expect = 1 - 8.0 / 64;
    if (op.find("qkv") != std::string::npos || op.find(".pv") != std::string::npos)
      expect = 1 - 8.0 / 32;
    const bool qk = op.size() > 3 && op.compare(op.size() - 3, 3, ".qk") == 0;
    if (qk || op.find("softmax") != std::string::npos) expect = 1 - 8.0 / 16;
    if (op.find("up") != std::string::npos) expect = 1 - 8.0 / 256;
    CHECK(s >= expect - 1e-9);
    CHECK(s <= expect + 0.05);  // a few kept values may be exact zeros
  }
}

TEST_CASE("functional: --dump-outputs writes the final hidden states", "[functional]") {
  TempDir d;
  const std::string npy = (d.path / "h.npy").string();
  const std::string st = (d.path / "h.safetensors").string();
  run_fn(d, kFixtureArgs + " --dump-outputs " + npy, "a");
  run_fn(d, kFixtureArgs + " --dump-outputs " + st, "b");
  // 2 sequences x 16 tokens x 64 features of float32 after the .npy header (128 bytes).
  CHECK(std::filesystem::file_size(npy) == 128 + 2 * 16 * 64 * 4);
  CHECK(std::filesystem::file_size(st) > 2 * 16 * 64 * 4);
  const auto bad = run_cli("simulate " + kFixtureArgs + " --dump-outputs " +
                           (d.path / "h.txt").string() + " --out " + (d.path / "c").string());
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("must end in .npy or .safetensors") != std::string::npos);
}

TEST_CASE("functional: bad functional input gives one clear error", "[functional]") {
  TempDir d;
  const std::string out = " --out " + (d.path / "o").string();
  struct Case {
    std::string args, needle;
    int rc;
  };
  const std::vector<Case> cases = {
      {"--weights x.safetensors", "needs --functional", 2},
      {"--functional --profile reference", "default profile", 2},
      {"--functional --prune topk", "needs --topk", 2},
      {"--functional --prune best", "allowed: dynatran, topk", 2},
      {"--functional --threshold 9", "outside the Q4.16 range", 2},
      {"--functional --sparsity 0.3", "measure every tensor's sparsity", 2},
      {"--functional --seq-len 16 --model " + kFixture + "/config.json --weights " + kFixture +
           "/tokens.txt",
       "tokens.txt", 1},
      {"--functional --model bert-tiny --weights " + kFixture + "/model.safetensors",
       "model.safetensors", 1},
  };
  for (const auto& c : cases) {
    const auto r = run_cli("simulate " + c.args + out);
    INFO(c.args << "\nstderr: " << r.err);
    CHECK(r.exit_code == c.rc);
    CHECK(r.err.rfind("error: ", 0) == 0);
    CHECK(r.err.find(c.needle) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("functional: calibrate finds tau for a target sparsity, and simulate agrees",
          "[functional]") {
  const auto r = run_cli("calibrate --target-sparsity 0.4 --seq-len 32");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto at = r.out.find("tau = ");
  REQUIRE(at != std::string::npos);
  const double tau = std::stod(r.out.substr(at + 6));
  const auto m = r.out.find("measured ");
  REQUIRE(m != std::string::npos);
  const double measured = std::stod(r.out.substr(m + 9));
  CHECK(std::abs(measured - 0.4) <= 0.001);
  CHECK(tau > 0);
  TempDir d;
  const json j = run_fn(d, fmt::format("--functional --seq-len 32 --threshold {:.6f}", tau));
  CHECK(std::abs(j["functional"]["pruned_sparsity"].get<double>() - measured) < 1e-3);
  const auto bad = run_cli("calibrate --target-sparsity 1.5");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("outside (0, 1)") != std::string::npos);
}

TEST_CASE("functional: --sparsity-profile replays a functional run's measured sparsities",
          "[functional]") {
  TempDir d;
  const json f = run_fn(d, "--functional --threshold 0.01 --seq-len 64", "f");
  const std::string profile = (d.path / "f" / "report.json").string();
  const auto r = run_cli("simulate --seq-len 64 --sparsity-profile " + profile + " --out " +
                         (d.path / "p").string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in((d.path / "p" / "report.json").string());
  const json p = json::parse(in);
  // Same per-tensor zero fractions, averaged instead of per tile: within 2 % of the functional
  // run's cycles and energy.
  const double fc = f["cycles"], pc = p["cycles"];
  CHECK(std::abs(pc - fc) <= 0.02 * fc);
  const double fe = f["energy_nj"]["total"], pe = p["energy_nj"]["total"];
  CHECK(std::abs(pe - fe) <= 0.02 * fe);
  // A profile of another shape, and a file that is no profile, are refused.
  const auto other = run_cli("simulate --sparsity-profile " + profile +
                             " --model bert-mini --out " + (d.path / "q").string());
  CHECK(other.exit_code == 1);
  CHECK(other.err.find("sparsity profile") != std::string::npos);
  const std::string junk = d.write("junk.json", "{\"cycles\": 3}");
  const auto bad =
      run_cli("simulate --sparsity-profile " + junk + " --out " + (d.path / "q").string());
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("functional.tensor_sparsity") != std::string::npos);
  const auto both = run_cli("simulate --sparsity 0.3 --sparsity-profile " + profile);
  CHECK(both.exit_code == 2);
}

TEST_CASE("functional: the VCD shows DynaTran's real activity", "[functional]") {
  TempDir d;
  const std::string vcd = (d.path / "t.vcd").string();
  run_fn(d, "--functional --threshold 0.02 --seq-len 32 --vcd " + vcd);
  std::ifstream in(vcd);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  CHECK(text.find("blocks_pruned") != std::string::npos);
  CHECK(text.find("sparsity_permille") != std::string::npos);
}

TEST_CASE("functional: values do not depend on how tiles are grouped into jobs", "[functional]") {
  // Exact integer accumulation: any order of a tile's k contributions gives the same words.
  TempDir d;
  std::vector<std::string> files;
  for (int tpi : {0, 1, 37}) {
    const std::string npy = (d.path / fmt::format("h{}.npy", tpi)).string();
    run_fn(d,
           fmt::format("--functional --threshold 0.02 --seq-len 32 --tiles-per-instruction {} "
                       "--dump-outputs {}",
                       tpi, npy),
           fmt::format("o{}", tpi));
    std::ifstream in(npy, std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  REQUIRE(files[0].size() > 1000);
  CHECK(files[0] == files[1]);
  CHECK(files[0] == files[2]);
}

// Padding masks and pruning policies through the command line.
TEST_CASE("masks: token files with masks and different lengths run, padding reported",
          "[functional][mask]") {
  TempDir d;
  // The fixture's checkpoint command as documented: 2 sequences, no --batch (the batch is the
  // accelerator's 4, two whole-padding sequences added).
  const json f = run_fn(d, "--functional " + kCheckpoint + " --tokens " + kFixture + "/tokens.txt",
                        "a")["functional"];
  CHECK(f["padding_tokens"] == 2 * 16);
  for (const auto& l : f["error_vs_float_reference"]) CHECK(l["cosine"].get<double>() >= 0.999);
  // Different lengths and an explicit mask: padded to the longest (5), 4 sequences.
  const std::string tokens = d.write("t.txt", "1 2 3 4 5\n6 7 8\n9 10 11 0 0 | 1 1 1 0 0\n");
  const json g =
      run_fn(d, "--functional " + kCheckpoint + " --tokens " + tokens, "b")["functional"];
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
  const json u = run_fn(d, args + " --threshold 0.05", "u")["functional"];
  const json p = run_fn(d, args + " --policy published --threshold 0.05", "p")["functional"];
  CHECK(u["policy"] == "uniform tau=0.05");
  CHECK(p["policy"] == "published tau=0.05");
  // The published policy compares q and scores before the 1/sqrt(d) fold: fewer are pruned.
  for (const char* kind : {"q", "scores"})
    CHECK(p["class_sparsity"][kind]["sparsity"].get<double>() <
          u["class_sparsity"][kind]["sparsity"].get<double>());
  // A policy file: only the FFN intermediate and the probabilities pruned.
  const std::string file =
      d.write("p.yaml", "classes:\n  ffn_intermediate: {tau: 0.05}\n  probabilities: {topk: 4}\n");
  const json f = run_fn(d, args + " --policy " + file, "f")["functional"];
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

TEST_CASE("policies: calibrate --per-class reaches every class's target within 0.02 (tau, top-k)",
          "[functional][policy]") {
  TempDir d;
  const std::string policy = (d.path / "cal.yaml").string();
  // Every class thresholded but the probabilities, pruned by top-k: their kept fraction is
  // calibrated (a multiple of 1/32 of a row at sequence 32).
  const std::string start = d.write("start.yaml",
                                    "tau_applies_to: unscaled\n"
                                    "classes:\n  default: {tau: 0.01}\n"
                                    "  probabilities: {topk: 8}\n");
  const auto r =
      run_cli("calibrate --seq-len 32 --policy " + start +
              " --per-class --target-sparsity 0.4 --tolerance 0.005 --write-policy " + policy);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const json f = run_fn(d, "--functional --seq-len 32 --policy " + policy, "s")["functional"];
  for (const auto& [kind, c] : f["class_sparsity"].items()) {
    INFO(kind);
    CHECK(c["unpadded_sparsity"].get<double>() == Approx(0.4).margin(0.02));
  }
}
