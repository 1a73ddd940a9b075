// `acceltran evaluate` on the shipped checkpoint (models/checkpoints/fortunes-bert-tiny/):
// a 37-sequence dataset runs (the last batch padded), tau 0 predictions against the float
// reference, resuming, and errors.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "test_util.hpp"

namespace {

const std::string kCheckpoint =
    std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/models/checkpoints/fortunes-bert-tiny";

std::vector<nlohmann::json> test_split(size_t n) {
  std::ifstream in(kCheckpoint + "/test.jsonl");
  std::vector<nlohmann::json> out;
  std::string line;
  while (out.size() < n && std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string write_lines(const testutil::TempDir& d, const std::string& name,
                        const std::vector<nlohmann::json>& lines) {
  std::string text;
  for (const auto& j : lines) text += j.dump() + "\n";
  return d.write(name, text);
}

// results.csv's data rows, each as column name -> value.
std::vector<std::map<std::string, std::string>> all_rows(const std::string& csv_path) {
  std::ifstream in(csv_path);
  std::string header, row;
  std::getline(in, header);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, row)) {
    std::map<std::string, std::string> out;
    std::stringstream h(header), r(row);
    std::string k, v;
    while (std::getline(h, k, ',') && std::getline(r, v, ',')) out[k] = v;
    rows.push_back(out);
  }
  return rows;
}

// results.csv as column name -> value of its first data row.
std::map<std::string, std::string> one_row(const std::string& csv_path) {
  const auto rows = all_rows(csv_path);
  return rows.empty() ? std::map<std::string, std::string>{} : rows.front();
}

}  // namespace

TEST_CASE("evaluate: 37 sequences (last batch padded) run and a second run reuses the result",
          "[evaluate]") {
  testutil::TempDir d;
  const std::string set = write_lines(d, "set37.jsonl", test_split(37));
  const std::string out = (d.path / "out").string();
  const std::string cmd = "evaluate --checkpoint " + kCheckpoint + " --dataset " + set +
                          " --threshold 0.05 --no-plot --out " + out;
  const auto r = testutil::run_cli(cmd);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto row = one_row(out + "/results.csv");
  CHECK(row.at("setting") == "dynatran-0.05");
  CHECK(row.at("sequences") == "37");
  CHECK(std::stod(row.at("sparsity")) > 0);
  CHECK(std::stod(row.at("cycles_per_sequence")) > 0);
  CHECK(std::stod(row.at("energy_per_sequence_mj")) > 0);
  std::ofstream(out + "/points/dynatran-0.05/marker") << "kept";
  const auto again = testutil::run_cli(cmd);
  CHECK(again.exit_code == 0);
  CHECK(one_row(out + "/results.csv") == row);
}

TEST_CASE("evaluate: tau 0 on unpadded sequences agrees with the float reference", "[evaluate]") {
  // Every sequence cut to 24 tokens ([CLS] 22 tokens [SEP]): no padding, so this holds without
  // padding masks. Q4.16 against float32: at least 99.5 % identical predictions.
  testutil::TempDir d;
  std::vector<nlohmann::json> lines;
  for (auto j : test_split(1000)) {
    auto ids = j["input_ids"].get<std::vector<int>>();
    if (ids.size() < 24) continue;
    ids.resize(23);
    ids.push_back(3);  // [SEP]
    lines.push_back({{"input_ids", ids}, {"label", j["label"]}});
    if (lines.size() == 64) break;
  }
  REQUIRE(lines.size() == 64);
  const std::string out = (d.path / "out").string();
  const auto r = testutil::run_cli("evaluate --checkpoint " + kCheckpoint + " --dataset " +
                                   write_lines(d, "s24.jsonl", lines) +
                                   " --threshold 0 --no-plot --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto row = one_row(out + "/results.csv");
  CHECK(std::stod(row.at("agreement_with_float")) >= 0.995);
  CHECK(std::abs(std::stod(row.at("accuracy")) - std::stod(row.at("float_accuracy"))) <= 0.005);
}

TEST_CASE("evaluate: tau 0 on padded sequences agrees with the float reference", "[evaluate]") {
  // Sequences of different lengths padded to the longest: the padding masks keep the padded
  // keys out of every softmax.
  testutil::TempDir d;
  const std::string out = (d.path / "out").string();
  const auto r = testutil::run_cli("evaluate --checkpoint " + kCheckpoint + " --dataset " +
                                   write_lines(d, "s.jsonl", test_split(64)) +
                                   " --threshold 0 --no-plot --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(std::stod(one_row(out + "/results.csv").at("agreement_with_float")) >= 0.995);
}

TEST_CASE("evaluate --policy published: named rows, tau 0 agrees with the float reference",
          "[evaluate]") {
  testutil::TempDir d;
  const std::string out = (d.path / "out").string();
  const auto r =
      testutil::run_cli("evaluate --checkpoint " + kCheckpoint +
                        " --policy published --threshold 0 --limit 16 --no-plot --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto row = one_row(out + "/results.csv");
  CHECK(row.at("setting") == "published-dynatran-0");
  CHECK(std::stod(row.at("agreement_with_float")) >= 0.995);
  const auto bad = testutil::run_cli("evaluate --checkpoint " + kCheckpoint +
                                     " --policy nonsense --threshold 0 --no-plot --out " + out);
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("option --policy: 'nonsense' is neither a built-in policy "
                                      "(uniform, published, unscaled) nor a policy file"));
}

TEST_CASE(
    "evaluate --policy FILE: a row per policy file, named; the published rules in a file "
    "give the published row",
    "[evaluate]") {
  testutil::TempDir d;
  const std::string out = (d.path / "out").string();
  // The published policy at tau 0.02 written as a file: every class and the pooler at 0.02.
  const std::string file = d.write("paper.yaml",
                                   "tau_applies_to: unscaled\ntopk_rule: above_kth\n"
                                   "pooler: {tau: 0.02}\nclasses:\n  default: {tau: 0.02}\n");
  const std::string half =
      d.write("half.yaml", "classes:\n  probabilities: {topk_fraction: 0.5}\n");
  const auto r =
      testutil::run_cli("evaluate --checkpoint " + kCheckpoint + " --policy published," + file +
                        "," + half + " --threshold 0.02 --limit 8 --no-plot --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto rows = all_rows(out + "/results.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].at("setting") == "published-dynatran-0.02");
  CHECK(rows[0].at("policy") == "published");
  CHECK(rows[1].at("setting") == "policy-paper");
  CHECK(rows[1].at("policy") == file);
  CHECK(rows[1].at("prune") == "policy");
  CHECK(rows[1].at("tau").empty());
  CHECK(rows[2].at("setting") == "policy-half");
  // The pooler is counted (2 x 8 sequences' 128 values) and the file reproduces the policy.
  CHECK_FALSE(rows[0].at("sparsity_pooler").empty());
  for (const char* key : {"accuracy", "sparsity", "sparsity_pooler", "sparsity_softmax",
                          "sparsity_attn.qkv", "cycles_per_sequence"})
    CHECK(rows[1].at(key) == rows[0].at(key));
  CHECK(rows[2].at("sparsity_pooler").empty());  // no pooler key: not counted
  CHECK(std::stod(rows[2].at("sparsity_softmax")) >= 0.45);
  const auto bad = testutil::run_cli(
      "evaluate --checkpoint " + kCheckpoint + " --no-plot --out " + out + " --policy " +
      d.write("bad.yaml", "classes:\n  default: {tau: 0.02}\npooler: {topk: 3}\n"));
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("bad.yaml: key 'pooler': the pooler takes 'off'"));
  const auto twice =
      testutil::run_cli("evaluate --checkpoint " + kCheckpoint + " --no-plot --out " + out +
                        " --policy " + half + "," + half);
  CHECK(twice.exit_code == 2);
  CHECK_THAT(twice.err, Catch::Contains("two policy files named 'half'"));
}

TEST_CASE("evaluate: errors", "[evaluate]") {
  testutil::TempDir d;
  const std::string base =
      "evaluate --checkpoint " + kCheckpoint + " --no-plot --out " + (d.path / "o").string() + " ";
  auto r = testutil::run_cli(base + "--threshold 0,x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("option --threshold: 'x' is not a number"));
  r = testutil::run_cli(base + "--threshold 9");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("[0, 8)"));
  r = testutil::run_cli(base + "--topk 0");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("option --topk"));
  r = testutil::run_cli(base);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("at least one setting"));
  r = testutil::run_cli(base + "--threshold 0 --dataset " +
                        d.write("bad.jsonl", "{\"input_ids\": [2, 3], \"label\": 7}\n"));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("bad.jsonl:1: key 'label'") && Catch::Contains("num_labels"));
  r = testutil::run_cli("evaluate --threshold 0 --no-plot");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--checkpoint"));
  r = testutil::run_cli(base + "--threshold 0 --sparsity 0.5");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("option --sparsity"));
}

TEST_CASE("evaluate: a row's values do not depend on its batch (the last batch runs its real rows)",
          "[evaluate]") {
  // One sequence alone (a batch of 1 real row) and four copies of it (one full batch of 4) give
  // the same sparsity per tensor class and the same accuracy.
  testutil::TempDir d;
  const auto first = test_split(1);
  const std::vector<nlohmann::json> four(4, first[0]);
  std::map<std::string, std::string> rows[2];
  int i = 0;
  for (const auto& lines : {first, four}) {
    const std::string out = (d.path / ("o" + std::to_string(i))).string();
    const auto r = testutil::run_cli("evaluate --checkpoint " + kCheckpoint + " --dataset " +
                                     write_lines(d, "s" + std::to_string(i) + ".jsonl", lines) +
                                     " --threshold 0.02 --no-plot --out " + out);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    rows[i++] = one_row(out + "/results.csv");
  }
  CHECK(rows[0].at("sequences") == "1");
  CHECK(rows[1].at("sequences") == "4");
  for (const auto& [key, value] : rows[0])
    if (key.rfind("sparsity", 0) == 0 || key == "accuracy") CHECK(rows[1].at(key) == value);
}

namespace {

// Runs evaluate at tau 0 on a head fixture (tools/make_head_fixtures.py) and checks it against
// the torch forward pass's predictions and metrics in its expected.json.
void check_head_fixture(const std::string& name, const std::string& head) {
  const std::string dir = std::string(ACCELTRAN_FIXTURES_DIR_FOR_TESTS) + "/" + name;
  std::ifstream in(dir + "/expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  testutil::TempDir d;
  const std::string out = (d.path / "out").string();
  const auto r =
      testutil::run_cli("evaluate --checkpoint " + dir + " --threshold 0 --no-plot --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto row = one_row(out + "/results.csv");
  CHECK(row.at("head") == head);
  CHECK(row.at("sequences") == "10");
  CHECK(std::stoll(row.at("items")) == expected.at("items").get<int64_t>());
  // The float reference's predictions are torch's: the same accuracy to the printed digits.
  CHECK(std::stod(row.at("float_accuracy")) ==
        Approx(expected.at("accuracy").get<double>()).margin(1e-6));
  // The Q4.16 data path: at least 99.5 % of the predictions identical.
  const double agreement = std::stod(row.at("agreement_with_float"));
  CHECK(agreement >= 0.995);
  CHECK(std::stod(row.at("accuracy")) ==
        Approx(expected.at("accuracy").get<double>()).margin(1 - agreement + 1e-6));
  // F1 and MCC for a binary task only; macro-F1 for a classifier; each equal to torch's when
  // every prediction agrees.
  for (const char* key : {"f1", "mcc", "macro_f1"}) {
    INFO(key);
    if (!expected.contains(key)) {
      CHECK(row.at(key).empty());
    } else if (agreement == 1.0) {
      CHECK(std::stod(row.at(key)) == Approx(expected.at(key).get<double>()).margin(1e-6));
    }
  }
}

}  // namespace

TEST_CASE("evaluate: a token-classification checkpoint at tau 0 predicts as torch does",
          "[evaluate]") {
  check_head_fixture("bert-2l-64-token", "token-classification");
}

TEST_CASE("evaluate: a binary sequence classifier at tau 0: accuracy, F1 and MCC as torch's",
          "[evaluate]") {
  check_head_fixture("bert-2l-64-binary", "sequence-classification");
}

TEST_CASE("evaluate: a masked-LM checkpoint at tau 0 predicts as torch does", "[evaluate]") {
  check_head_fixture("bert-2l-64-mlm", "masked-lm");
}

TEST_CASE("evaluate: a checkpoint without a supported head is one error naming the tensors",
          "[evaluate]") {
  testutil::TempDir d;
  const std::string dir = std::string(ACCELTRAN_FIXTURES_DIR_FOR_TESTS) + "/bert-2l-64";
  const auto r = testutil::run_cli(
      "evaluate --checkpoint " + dir + " --threshold 0 --no-plot --out " + (d.path / "o").string() +
      " --dataset " + d.write("s.jsonl", "{\"input_ids\": [2, 3], \"label\": 0}\n"));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err,
             Catch::StartsWith("error: " + dir + "/model.safetensors: no supported task head") &&
                 Catch::Contains("'classifier.weight'") &&
                 Catch::Contains("'cls.predictions.bias'"));
}

TEST_CASE("evaluate: the fortunes classifier has macro-F1 (4 classes), no binary F1 or MCC",
          "[evaluate]") {
  testutil::TempDir d;
  const std::string out = (d.path / "out").string();
  const auto r = testutil::run_cli("evaluate --checkpoint " + kCheckpoint +
                                   " --threshold 0 --limit 8 --no-plot --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto row = one_row(out + "/results.csv");
  CHECK(row.at("head") == "sequence-classification");
  CHECK(row.at("items") == "8");
  CHECK(std::stod(row.at("macro_f1")) > 0);
  CHECK(row.at("f1").empty());
  CHECK(row.at("mcc").empty());
}
