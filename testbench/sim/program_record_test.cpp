// `simulate --program` and `simulate --from-report` (issue 22): a program runs only on the
// accelerator, model and options it was compiled for, options it would ignore are refused, and a
// report.json runs again into a byte-identical report (docs/user-guide.md, "Instruction files"
// and "Reproducing a run"). Every refusal: one `error:` line naming the file, the key, the value
// found and the one expected; a non-zero exit; no report folder or `.partial` folder left.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../compiler/test_util.hpp"

namespace fs = std::filesystem;
using testutil::run_cli;
using testutil::TempDir;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Exit code `exit_code`, one error line holding every expected substring, and nothing in
// `folder` but the files the test wrote (`kept`).
void check_refused(const testutil::RunResult& r, int exit_code,
                   const std::vector<std::string>& expected, const fs::path& folder, size_t kept) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == exit_code);
  CHECK(r.err.rfind("error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 2);
  for (const auto& e : expected) CHECK(r.err.find(e) != std::string::npos);
  CHECK(static_cast<size_t>(std::distance(fs::directory_iterator(folder), {})) == kept);
}

}  // namespace

TEST_CASE("program file: simulate --program refuses the options it would ignore",
          "[cli][program]") {
  TempDir d;
  const std::string program = (d.path / "prog.txt").string();
  REQUIRE(run_cli("compile -o " + program).exit_code == 0);
  const std::string run = "simulate --program " + program + " --out " + (d.path / "o").string();
  const std::string profile = d.write("profile.json", R"({"tensor_sparsity": {"x": 0.5}})");
  for (const std::string& option : std::vector<std::string>{
           "--sparsity 0.3", "--weight-sparsity 0.3", "--sparsity-profile " + profile,
           "--threshold 1", "--tiles-per-instruction 1", "--first-layer-only"}) {
    INFO("option: " << option);
    const std::string name = option.substr(2, option.find(' ') - 2);
    check_refused(run_cli(run + " " + option), 2,
                  {"option --" + name, "fixed when the program is compiled", program}, d.path, 2);
  }
}

TEST_CASE("program file: refused when compiled for another accelerator, model or length",
          "[cli][program]") {
  TempDir d;
  const std::string program = (d.path / "prog.txt").string();
  REQUIRE(run_cli("compile -o " + program).exit_code == 0);
  const std::string run = "simulate --program " + program + " --out " + (d.path / "o").string();
  struct Case {
    std::string options;
    std::vector<std::string> expected;
  } cases[] = {
      {"--accel server", {"key 'accelerator.", "found", "expected", "server.yaml", "recompile"}},
      {"--set pe=128", {"key 'accelerator.pe': value '64'", "expected '128'"}},
      {"--loop-order k_i_j_b", {"key 'accelerator.loop_order': value 'b_i_j_k'", "'k_i_j_b'"}},
      {"--model bert-mini", {"key 'model_fingerprint'", "model 'bert-tiny'", "bert-mini"}},
      {"--seq-len 64", {"key 'seq_len': value 128 found, expected 64 (--seq-len)"}},
      {"--profile reference", {"key 'profile': value hardware found, expected reference"}},
  };
  for (const auto& c : cases) {
    INFO("options: " << c.options);
    auto expected = c.expected;
    expected.push_back(program + ": ");
    check_refused(run_cli(run + " " + c.options), 1, expected, d.path, 1);
  }
  // The options that agree with the record are accepted, and give the plain run's figures.
  auto r = run_cli(run + " --model bert-tiny --seq-len 128 --accel edge --profile hardware");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(run_cli("simulate --out " + (d.path / "plain").string()).exit_code == 0);
  const auto with_program = nlohmann::json::parse(slurp(d.path / "o/report.json"));
  const auto plain = nlohmann::json::parse(slurp(d.path / "plain/report.json"));
  CHECK(with_program["cycles"] == plain["cycles"]);
  CHECK(with_program["energy_nj"] == plain["energy_nj"]);
  CHECK(with_program["inputs"]["program"] == program);
}

TEST_CASE("program file: a reference program runs with its profile and switches",
          "[cli][program]") {
  TempDir d;
  const std::string program = (d.path / "prog.txt").string();
  REQUIRE(run_cli("compile --profile reference --reference-fixes emb-ln -o " + program).exit_code ==
          0);
  REQUIRE(run_cli("simulate --profile reference --reference-fixes emb-ln --out " +
                  (d.path / "plain").string())
              .exit_code == 0);
  // No --profile: the program's; the report is the in-memory compile's.
  auto r = run_cli("simulate --program " + program + " --out " + (d.path / "o").string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto with_program = nlohmann::json::parse(slurp(d.path / "o/report.json"));
  const auto plain = nlohmann::json::parse(slurp(d.path / "plain/report.json"));
  CHECK(with_program["inputs"]["profile"] == "reference");
  CHECK(with_program["inputs"]["reference_fixes"] == plain["inputs"]["reference_fixes"]);
  CHECK(with_program["cycles"] == plain["cycles"]);
  CHECK(with_program["energy_nj"] == plain["energy_nj"]);
  // Switches given must be the recorded ones.
  check_refused(
      run_cli("simulate --program " + program +
              " --profile reference --reference-fixes all --out " + (d.path / "x").string()),
      1, {"key 'reference_fixes': value 'emb-ln' found, expected '", "(--reference-fixes)"}, d.path,
      3);
}

TEST_CASE("program file: a file without the compile record is refused with a hint to recompile",
          "[cli][program]") {
  TempDir d;
  const std::string program = (d.path / "prog.txt").string();
  REQUIRE(run_cli("compile -o " + program).exit_code == 0);
  std::string text = slurp(program);
  // The previous format: its magic line, no compiled_for record (the checksum no longer holds).
  text.replace(0, text.find('\n'), "# acceltran-isa 2");
  const auto record = text.find("\ncompiled_for ");
  REQUIRE(record != std::string::npos);
  text.erase(record, text.find('\n', record + 1) - record);
  const std::string old = d.write("old.txt", text);
  check_refused(run_cli("simulate --program " + old + " --out " + (d.path / "o").string()), 1,
                {old + ":1:", "acceltran-isa 2", "no record of the model, accelerator",
                 "recompile it with `acceltran compile ... -o " + old + "`"},
                d.path, 2);
}

TEST_CASE(
    "report: simulate --from-report reproduces a run byte for byte, or names the input that "
    "changed",
    "[cli][report]") {
  TempDir d;
  const std::string accel = d.write("accel.yaml", "base: edge\npe: 128\n");
  const std::string first = (d.path / "first").string();
  auto r = run_cli("simulate --accel " + accel +
                   " --set main_memory.type=hbm --set main_memory.ranks=1 "
                   "--set main_memory.channels=4 --sparsity 0.3 --eviction lru "
                   "--timeline-samples 50 --out " +
                   first);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto report = nlohmann::ordered_json::parse(slurp(fs::path(first) / "report.json"));
  const auto& inputs = report["inputs"];
  CHECK(inputs["command_line"][0] == "simulate");
  CHECK(inputs["run_options"]["eviction"] == "lru");
  CHECK(run_cli("--version").out == "acceltran " + inputs["version"].get<std::string>() + "\n");
  CHECK(inputs["accelerator_settings"][4] == nlohmann::ordered_json::array({"pe", 128}));
  CHECK(inputs["technology"][0] == nlohmann::ordered_json::array({"clock_mhz", 700}));
  const std::string again = (d.path / "again").string();
  // From another working directory: the report's is used.
  r = run_cli("simulate --from-report " + first + "/report.json --out " + again);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* file : {"report.json", "report.csv", "ops.csv", "timeline.csv"}) {
    INFO("file: " << file);
    CHECK(slurp(fs::path(first) / file) == slurp(fs::path(again) / file));
  }
  // The accelerator file changed since: refused, naming the setting.
  d.write("accel.yaml", "base: edge\npe: 256\n");
  check_refused(run_cli("simulate --from-report " + first + "/report.json --out " +
                        (d.path / "changed").string()),
                1,
                {first + "/report.json: key 'inputs.accelerator_settings.pe'", "128", "256",
                 "cannot be reproduced"},
                d.path, 3);
  // Options beside --from-report other than --out and --progress: a usage error.
  check_refused(run_cli("simulate --from-report " + first + "/report.json --seq-len 64"), 2,
                {"'--seq-len' with --from-report", "only --out and --progress"}, d.path, 3);
}

TEST_CASE("report: the header labels the sparsities and --progress changes no report output",
          "[cli][report]") {
  TempDir d;
  auto plain = run_cli("simulate --out " + (d.path / "a").string());
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.out.find("activation sparsity 0.50, weight sparsity 0.50") != std::string::npos);
  CHECK(plain.err.empty());  // not a terminal: no progress bar
  auto shown = run_cli("simulate --progress --out " + (d.path / "b").string());
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.err.find("instructions, cycle") != std::string::npos);
  for (const char* file : {"report.json", "report.csv", "ops.csv", "timeline.csv"})
    CHECK(slurp(d.path / "a" / file) == slurp(d.path / "b" / file));
  // A replayed per-tensor profile is named in the header and listed.
  const std::string functional = (d.path / "f").string();
  REQUIRE(run_cli("simulate --functional --seq-len 16 --out " + functional).exit_code == 0);
  auto replayed = run_cli("simulate --seq-len 16 --sparsity-profile " + functional +
                          "/report.json --out " + (d.path / "c").string());
  INFO(replayed.err);
  REQUIRE(replayed.exit_code == 0);
  CHECK(replayed.out.find("sparsity per tensor from " + functional + "/report.json") !=
        std::string::npos);
  CHECK(replayed.out.find("sparsity profile (tensor, sparsity):") != std::string::npos);
  CHECK(replayed.out.find("L0.attn.ln.gb") != std::string::npos);
  const auto report = nlohmann::json::parse(slurp(d.path / "c/report.json"));
  CHECK(report["inputs"]["sparsity_profile"]["tensor_sparsity"].size() > 10);
}

TEST_CASE("help: --help is grouped by topic and wrapped to the terminal width", "[cli][help]") {
  for (const char* command : {"simulate", "compile", "calibrate"}) {
    for (int width : {60, 80, 120}) {
      INFO(command << " at " << width << " columns");
      auto r = run_cli(std::string("--help >/dev/null; COLUMNS=") + std::to_string(width) + " " +
                       testutil::kBin + " " + command + " --help");
      REQUIRE(r.exit_code == 0);
      for (const char* group : {"Model and accelerator:", "Workload:", "Compilation:"})
        CHECK(r.out.find(group) != std::string::npos);
      std::istringstream lines(r.out);
      std::string words;
      for (std::string line; std::getline(lines, line);) {
        CHECK(line.size() <= static_cast<size_t>(width));
        words += " " + line;
      }
      // Words are whole: a long option name and a long description word are never cut.
      std::istringstream tokens(words);
      std::vector<std::string> all;
      for (std::string t; tokens >> t;) all.push_back(t);
      for (const char* word : {"--allow-outside-design-space", "models/design_space.yaml",
                               "--weight-sparsity)", "(models/transformers/*.json)"})
        CHECK(std::find(all.begin(), all.end(), word) != all.end());
    }
  }
  auto r = run_cli("simulate --help");
  for (const char* group : {"Program and report:", "Simulation:", "Output:", "General:"})
    CHECK(r.out.find(group) != std::string::npos);
}

TEST_CASE("help: sweep --help is grouped, within 80 columns and wrapped to the terminal",
          "[cli][help]") {
  for (int width : {80, 120}) {
    INFO("sweep --help at " << width << " columns");
    auto r = run_cli(std::string("--help >/dev/null; COLUMNS=") + std::to_string(width) + " " +
                     testutil::kBin + " sweep --help");
    REQUIRE(r.exit_code == 0);
    for (const char* group : {"Sweep:", "Slurm:", "General:"})
      CHECK(r.out.find(group) != std::string::npos);
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      INFO(line);
      CHECK(line.size() <= static_cast<size_t>(width));
    }
  }
  for (const char* sub : {"collect", "worker"}) {
    auto r = run_cli(std::string("sweep ") + sub + " --help");
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("Options:") != std::string::npos);
  }
}
