// Table-driven bad-input test: every malformed input gives a non-zero exit and one clear error
// line naming the problem (file, key, value, allowed values) — never a crash or a silent default.
#include <catch2/catch.hpp>

#include <regex>

#include "test_util.hpp"

namespace {

std::string edge_yaml() {
  std::ifstream in(testutil::kModels + "/accelerators/edge.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

struct Case {
  const char* name;
  std::string args;                   // after "compile"
  std::vector<std::string> expected;  // substrings of stderr
};

}  // namespace

TEST_CASE("bad inputs: non-zero exit and a message naming the problem", "[compiler][cli]") {
  testutil::TempDir d;
  const std::string edge = edge_yaml();
  auto accel = [&](const char* file, const std::string& text) {
    return "--accel " + d.write(file, text);
  };
  auto model = [&](const char* file, const std::string& text) {
    return "--model " + d.write(file, text);
  };

  std::vector<Case> cases = {
      {"YAML syntax error",
       accel("syntax.yaml", "name: x\ntile: {tile_b: 1, tile_x: [16\n"),
       {"syntax.yaml", "YAML syntax error"}},
      {"JSON syntax error",
       model("syntax.json", R"({"l": 2, "o": [)"),
       {"syntax.json", "JSON syntax error"}},
      {"unknown accelerator key",
       accel("unknown.yaml", edge + "turbo: true\n"),
       {"unknown.yaml", "unknown key 'turbo'", "allowed keys"}},
      {"missing accelerator key",
       accel("missing.yaml", replace(edge, "pe: 64\n", "")),
       {"missing.yaml", "missing key 'pe'"}},
      {"value outside the design space",
       accel("pe.yaml", replace(edge, "pe: 64", "pe: 100")),
       {"pe.yaml", "key 'pe'", "100", "allowed: 64, 128, 256, 512, 1024"}},
      {"wrong type",
       accel("type.yaml", replace(edge, "pe: 64", "pe: many")),
       {"type.yaml", "key 'pe'", "'many' is not an integer"}},
      {"tile_x != tile_y",
       accel("tile.yaml", replace(edge, "tile_y: 16", "tile_y: 8")),
       {"tile.yaml", "tile_x (16) must equal tile_y (8)"}},
      {"tile_x != tile_y even outside the design space",
       accel("tile2.yaml", replace(edge, "tile_y: 16", "tile_y: 8")) +
           " --allow-outside-design-space",
       {"tile2.yaml", "must equal tile_y"}},
      {"zero PEs even outside the design space",
       accel("zero.yaml", replace(edge, "pe: 64", "pe: 0")) + " --allow-outside-design-space",
       {"zero.yaml", "key 'pe'", "must be > 0"}},
      {"memory layout not in the design space",
       accel("layout.yaml", replace(edge, "banks: 32", "banks: 7")),
       {"layout.yaml", "main_memory", "[7, 2, 1]"}},
      {"unknown memory type",
       accel("memtype.yaml", replace(edge, "type: dram", "type: sram")),
       {"memtype.yaml", "main_memory.type", "'sram'", "rram, dram, hbm"}},
      {"bad loop order",
       accel("loop.yaml", replace(edge, "loop_order: b_i_j_k", "loop_order: b_i_i_k")),
       {"loop.yaml", "loop_order", "permutation of b,i,j,k"}},
      {"head string with two fields",
       model("twofields.json", R"({"l": 1, "o": [["sa_64"]], "h": [128], "f": [[512]]})"),
       {"twofields.json", "head 'sa_64'", "expected 3 fields"}},
      {"unknown head type",
       model("headtype.json", R"({"l": 1, "o": [["sa_xyz_64"]], "h": [128], "f": [[512]]})"),
       {"headtype.json", "unknown head type 'sa_xyz'"}},
      {"negative hidden size",
       model("negative.json", R"({"l": 1, "o": [["sa_sdp_64"]], "h": [-128], "f": [[512]]})"),
       {"negative.json", "h[0]", "-128", "not a positive integer"}},
      {"layer count mismatch",
       model("count.json", R"({"l": 3, "o": [["sa_sdp_64"]], "h": [128], "f": [[512]]})"),
       {"count.json", "key 'o'", "3 entries"}},
      {"HF config with a bad head split",
       model(
           "config.json",
           R"({"hidden_size": 100, "num_hidden_layers": 2, "num_attention_heads": 3, "intermediate_size": 400})"),
       {"config.json", "hidden_size", "not divisible"}},
      {"sequence longer than the position table",
       model(
           "short.json",
           R"({"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512, "max_position_embeddings": 64})") +
           " --seq-len 128",
       {"short.json", "seq_len 128 exceeds max_position_embeddings 64"}},
      {"missing model file",
       "--model /nonexistent/model.json",
       {"/nonexistent/model.json", "not found"}},
      {"unknown built-in model", "--model bert-huge", {"bert-huge", "built-ins", "bert-tiny"}},
      {"missing accelerator file",
       "--accel /nonexistent/accel.yaml",
       {"/nonexistent/accel.yaml", "not found"}},
      {"unwritable output",
       "-o /nonexistent-dir/prog.txt",
       {"/nonexistent-dir/prog.txt", "cannot open output file"}},
      {"unknown profile", "--profile fast", {"--profile", "'fast'", "bert, reference"}},
      {"sparsity out of range", "--sparsity 1.5", {"--sparsity", "1.5", "[0, 1)"}},
      {"batch outside the design space", "--batch 5", {"batch_size", "5", "allowed: 4, 16, 32"}},
      {"unknown option", "--frobnicate", {"frobnicate"}},
  };
  REQUIRE(cases.size() >= 15);
  for (const auto& c : cases) {
    INFO("case: " << c.name << "\nargs: " << c.args);
    auto r = testutil::run_cli("compile " + c.args);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code < 128);  // an error exit, not a signal or a crash
    for (const auto& e : c.expected) CHECK(r.err.find(e) != std::string::npos);
    // One clear line: the message is a single "error: ..." line (plus an optional hint).
    CHECK(r.err.rfind("error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 2);
  }
}

TEST_CASE("compile -o writes a stream that reads back; --help lists defaults", "[compiler][cli]") {
  testutil::TempDir d;
  auto out = (d.path / "prog.txt").string();
  auto r = testutil::run_cli("compile --profile reference -o " + out);
  REQUIRE(r.exit_code == 0);
  auto p = acceltran::read_program_file(out);
  CHECK(p.info.profile == "reference");
  CHECK(p.instrs.size() > 100);
  auto h = testutil::run_cli("compile --help");
  CHECK(h.exit_code == 0);
  for (const char* opt :
       {"--model", "--accel", "--profile", "--seq-len", "--batch", "--sparsity", "--output",
        "--stats", "--tiles-per-instruction", "(=bert-tiny)", "(=edge)"})
    CHECK(h.out.find(opt) != std::string::npos);
  auto sim = testutil::run_cli("sweep");
  CHECK(sim.exit_code == 2);
  CHECK(sim.err.find("not yet available") != std::string::npos);
}
