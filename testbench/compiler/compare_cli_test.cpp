// `acceltran compare`: ratios from a hand-made report and baseline file, refused baselines and
// bad input (one error line, non-zero exit), and the published normalised figures
// (models/baselines/published.yaml) as printed in jha-lab/acceltran's baselines.pdf.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "test_util.hpp"

namespace {

const std::string kBaselinesDir = std::string(ACCELTRAN_SOURCE_DIR_FOR_TESTS) + "/models/baselines";

// A report.json with what compare reads: 2000 sequences/s, 0.5 mJ per sequence.
std::string report(const testutil::TempDir& d, const std::string& model = "bert-tiny",
                   int seq_len = 128) {
  return d.write("report.json", "{\"inputs\": {\"model\": \"" + model +
                                    "\", \"seq_len\": " + std::to_string(seq_len) +
                                    ", \"batch\": 4}, \"throughput_seq_per_s\": 2000, "
                                    "\"energy_per_seq_mj\": 0.5}");
}

const char* kBaseline = R"(model: bert-tiny
seq_len: 128
devices:
  - name: slow-cpu
    throughput_seq_per_s: 40
    energy_per_seq_mj: 200
    source: "hand-made for the test"
  - name: "gpu, no energy"
    throughput_seq_per_s: 8000
    source: "hand-made, no energy figure"
)";

std::vector<std::map<std::string, std::string>> csv_rows(const std::string& path) {
  std::ifstream in(path);
  std::string header, line;
  std::getline(in, header);
  std::vector<std::string> keys;
  std::stringstream h(header);
  for (std::string k; std::getline(h, k, ',');) keys.push_back(k);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> row;
    std::stringstream r(line);
    std::string v;
    for (const auto& k : keys) {
      if (r.peek() == '"') {  // a quoted field: up to the closing quote
        r.get();
        std::getline(r, v, '"');
        r.get();
      } else {
        std::getline(r, v, ',');
      }
      row[k] = v;
    }
    rows.push_back(row);
  }
  return rows;
}

void check_one_error(const testutil::RunResult& r, const std::string& fragment) {
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.err.rfind("error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(fragment) != std::string::npos);
}

}  // namespace

TEST_CASE("compare: throughput and energy ratios of a run against each baseline device",
          "[compare]") {
  testutil::TempDir d;
  const std::string baseline = d.write("baseline.yaml", kBaseline);
  const std::string csv = (d.path / "ratios.csv").string();
  const auto r = testutil::run_cli("compare --report " + report(d) + " --baseline " + baseline +
                                   " --csv " + csv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("slow-cpu") != std::string::npos);
  const auto rows = csv_rows(csv);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("device") == "slow-cpu");
  CHECK(std::stod(rows[0].at("throughput_ratio")) == Approx(50.0));   // 2000 / 40
  CHECK(std::stod(rows[0].at("energy_reduction")) == Approx(400.0));  // 200 / 0.5
  CHECK(std::stod(rows[0].at("run_energy_per_seq_mj")) == Approx(0.5));
  CHECK(rows[1].at("device") == "gpu, no energy");
  CHECK(std::stod(rows[1].at("throughput_ratio")) == Approx(0.25));  // 2000 / 8000
  CHECK(rows[1].at("energy_reduction").empty());
  CHECK(rows[1].at("source") == "hand-made, no energy figure");
}

TEST_CASE("compare: a baseline for another model or sequence length is refused unless --force",
          "[compare]") {
  testutil::TempDir d;
  const std::string baseline = d.write("baseline.yaml", kBaseline);
  check_one_error(
      testutil::run_cli("compare --report " + report(d, "bert-base") + " --baseline " + baseline),
      "--force");
  check_one_error(testutil::run_cli("compare --report " + report(d, "bert-tiny", 256) +
                                    " --baseline " + baseline),
                  "sequence length 128");
  const auto forced = testutil::run_cli("compare --report " + report(d, "bert-base") +
                                        " --baseline " + baseline + " --force");
  INFO(forced.err);
  CHECK(forced.exit_code == 0);
  CHECK(forced.err.find("warning: ") != std::string::npos);
}

TEST_CASE("compare: missing keys and bad numbers give one error line naming the key", "[compare]") {
  testutil::TempDir d;
  const std::string rep = report(d);
  const auto with = [&](const std::string& devices) {
    const std::string b = d.write("b.yaml", "model: bert-tiny\nseq_len: 128\ndevices:\n" + devices);
    return testutil::run_cli("compare --report " + rep + " --baseline " + b);
  };
  check_one_error(with("  - {name: a, source: s}\n"), "throughput_seq_per_s");
  check_one_error(with("  - {name: a, throughput_seq_per_s: 10}\n"), "'source'");
  check_one_error(with("  - {name: a, throughput_seq_per_s: -3, source: s}\n"), "positive number");
  check_one_error(with("  - {name: a, throughput_seq_per_s: fast, source: s}\n"),
                  "throughput_seq_per_s");
  check_one_error(with("  - {name: a, throughput_seq_per_s: 1, energy_per_seq_mj: 0, source: s}\n"),
                  "energy_per_seq_mj");
  check_one_error(with("  - {name: a, throughput: 1, source: s}\n"), "unknown key 'throughput'");
  const std::string no_model = d.write("m.yaml", "seq_len: 128\ndevices: []\n");
  check_one_error(testutil::run_cli("compare --report " + rep + " --baseline " + no_model),
                  "'model'");
  const std::string bad_report = d.write("bad.json", "{\"inputs\": {\"model\": \"bert-tiny\"}}");
  check_one_error(testutil::run_cli("compare --report " + bad_report + " --baseline " + no_model),
                  "seq_len");
  const auto usage = testutil::run_cli("compare --report " + rep);
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("--baseline") != std::string::npos);
}

TEST_CASE("compare: the published normalised figures load and hold the paper's numbers",
          "[compare]") {
  const YAML::Node root = YAML::LoadFile(kBaselinesDir + "/published.yaml");
  CHECK(root["kind"].as<std::string>() == "normalised");
  CHECK(root["source"].as<std::string>().find("jha-lab/acceltran") != std::string::npos);
  std::map<std::string, std::pair<double, double>> ratios;  // throughput, energy reduction
  std::map<std::string, std::string> reference;
  for (const auto& group : root["groups"])
    for (const auto& dev : group["devices"]) {
      const std::string name = dev["name"].as<std::string>();
      ratios[name] = {dev["throughput_ratio"].as<double>(),
                      dev["printed_energy_reduction"].as<double>()};
      reference[name] = group["reference"].as<std::string>();
    }
  REQUIRE(ratios.size() == 10);
  CHECK(reference.at("AccelTran-Edge") == "RPi CPU");
  CHECK(reference.at("AccelTran-Server") == "A100");
  CHECK(ratios.at("NCS NPU").first == 1.98);
  CHECK(ratios.at("M1 CPU").first == 19.3);
  CHECK(ratios.at("M1 GPU").first == 1180);
  CHECK(ratios.at("AccelTran-Edge").first == 330578);
  CHECK(ratios.at("OPTIMUS").first == 1.07);
  CHECK(ratios.at("SpAtten").first == 4.6);
  CHECK(ratios.at("Energon").first == 11.4);
  CHECK(ratios.at("AccelTran-Server").first == 63.1);
  CHECK(ratios.at("AccelTran-Edge").second == 93300);
  CHECK(ratios.at("AccelTran-Server").second == 10805);
  CHECK(ratios.at("Energon").second == 2926);
}

TEST_CASE("compare: the committed host-CPU example baselines are valid baseline files",
          "[compare]") {
  testutil::TempDir d;
  for (const auto& [model, file] :
       {std::pair<std::string, std::string>{"bert-tiny", "host-cpu-bert-tiny.yaml"},
        {"bert-base", "host-cpu-bert-base.yaml"}}) {
    const auto r = testutil::run_cli("compare --report " + report(d, model) + " --baseline " +
                                     kBaselinesDir + "/" + file);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("host-cpu-pytorch") != std::string::npos);
  }
}
