// Table-driven bad-input test: every malformed input gives a non-zero exit and one clear error
// line naming the problem (file, key, value, allowed values) — never a crash or a silent default.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>
#include <set>

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
  std::string args;                   // after "compile" (or the command line, see run_cases)
  std::vector<std::string> expected;  // substrings of stderr
  int exit_code = 1;                  // 1: bad input file or failed run, 2: usage error
};

// Runs each case ("compile " + args unless with_command) and checks its exit code and that
// stderr is one clear "error: ..." line holding every expected substring.
void run_cases(const std::vector<Case>& cases, bool with_command = false) {
  for (const auto& c : cases) {
    INFO("case: " << c.name << "\nargs: " << c.args);
    auto r = testutil::run_cli((with_command ? "" : "compile ") + c.args);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == c.exit_code);
    for (const auto& e : c.expected) CHECK(r.err.find(e) != std::string::npos);
    CHECK(r.err.rfind("error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 2);
  }
}

// The 1-based number of the first line starting with `prefix`.
std::string line_of(const std::string& text, const std::string& prefix) {
  auto pos = text.find("\n" + prefix);
  REQUIRE(pos != std::string::npos);
  return ":" + std::to_string(std::count(text.begin(), text.begin() + pos + 1, '\n') + 1) + ":";
}

// Replaces `from` by `to` in the first line starting with `prefix`.
std::string edit_line(const std::string& text, const std::string& prefix, const std::string& from,
                      const std::string& to) {
  auto pos = text.find("\n" + prefix);
  REQUIRE(pos != std::string::npos);
  auto end = text.find('\n', pos + 1);
  std::string line = text.substr(pos + 1, end - pos - 1);
  auto at = line.find(from);
  REQUIRE(at != std::string::npos);
  line.replace(at, from.size(), to);
  return text.substr(0, pos + 1) + line + text.substr(end);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Input files written to a scratch folder, as command-line options.
struct Inputs {
  testutil::TempDir dir;
  std::string accel(const char* file, const std::string& text) const {
    return "--accel " + dir.write(file, text);
  }
  std::string model(const char* file, const std::string& text) const {
    return "--model " + dir.write(file, text);
  }
};

}  // namespace

TEST_CASE("bad inputs: non-zero exit and a message naming the problem", "[compiler][cli]") {
  Inputs in;
  const std::string edge = edge_yaml();
  auto accel = [&](const char* file, const std::string& text) { return in.accel(file, text); };
  auto model = [&](const char* file, const std::string& text) { return in.model(file, text); };

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
      {"explicit zero FIFO depth (absent means the default, 0 is refused)",
       accel("fifo0.yaml", replace(edge, "fifo_depth_words: 32", "fifo_depth_words: 0")),
       {"fifo0.yaml", "key 'fifo_depth_words'", "value 0 must be positive", "leave the key out"}},
      {"explicit zero banks",
       accel("banks0.yaml", replace(edge, "mask_banks: 16", "mask_banks: 0")),
       {"banks0.yaml", "key 'buffer_ports.mask_banks'", "value 0 must be positive"}},
      {"memory layout not in the design space",
       accel("layout.yaml", replace(edge, "banks: 32", "banks: 7")),
       {"layout.yaml", "main_memory", "[7, 2, 1]"}},
      {"unknown memory type",
       accel("memtype.yaml", replace(edge, "type: dram", "type: sram")),
       {"memtype.yaml", "main_memory.type", "'sram'", "rram, dram, hbm"}},
      {"bad loop order",
       accel("loop.yaml", replace(edge, "loop_order: b_i_j_k", "loop_order: b_i_i_k")),
       {"loop.yaml", "loop_order", "permutation of b,i,j,k"}},
      {"duplicate JSON key",
       model("dupkey.json",
             R"({"l": 1, "o": [["sa_sdp_64"]], "h": [128], "h": [256], "f": [[512]]})"),
       {"dupkey.json", "duplicate key 'h'"}},
      {"JSON number too large for a double",
       model("huge.json", R"({"hidden_size": 24e800, "num_hidden_layers": 2})"),
       {"huge.json", "JSON value error", "number overflow"}},
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
       {"/nonexistent-dir/prog.txt", "cannot open for writing"}},
      {"unknown profile", "--profile fast", {"--profile", "'fast'", "hardware, reference"}, 2},
      {"sparsity out of range", "--sparsity 1.5", {"--sparsity", "1.5", "[0, 1)"}, 2},
      {"batch outside the design space", "--batch 5", {"batch_size", "5", "allowed: 4, 16, 32"}, 2},
      {"unknown option", "--frobnicate", {"frobnicate"}, 2},
  };
  REQUIRE(cases.size() >= 15);
  run_cases(cases);
}

TEST_CASE("compile -o writes a stream that reads back, --help lists defaults", "[compiler][cli]") {
  testutil::TempDir d;
  auto out = (d.path / "prog.txt").string();
  auto r = testutil::run_cli("compile --profile reference -o " + out);
  REQUIRE(r.exit_code == 0);
  auto p = acceltran::read_program_file(out);
  CHECK(p.info.profile == acceltran::Profile::reference);
  CHECK(p.instrs.size() > 100);
  auto h = testutil::run_cli("compile --help");
  CHECK(h.exit_code == 0);
  for (const char* opt :
       {"--model", "--accel", "--profile", "--seq-len", "--batch", "--sparsity", "--output",
        "--stats", "--tiles-per-instruction", "(=bert-tiny)", "(=edge)"})
    CHECK(h.out.find(opt) != std::string::npos);
  // A sweep without its spec: a usage error naming what is missing.
  auto sim = testutil::run_cli("sweep");
  CHECK(sim.exit_code == 2);
  CHECK(sim.err.find("error: missing the sweep spec (SPEC.yaml)") != std::string::npos);
}

TEST_CASE("bad command lines and run options: exit 2 or 1 and one clear line", "[compiler][cli]") {
  Inputs in;
  testutil::TempDir& d = in.dir;
  const std::string edge = edge_yaml();
  auto accel = [&](const char* file, const std::string& text) { return in.accel(file, text); };
  auto model = [&](const char* file, const std::string& text) { return in.model(file, text); };
  std::filesystem::create_directories(d.path / "folder");
  std::filesystem::create_directories(d.path / "nomodel");
  const std::string folder = (d.path / "folder").string();
  const std::string out = " --out " + (d.path / "o").string();
  std::filesystem::create_directories(d.path / "busy");
  d.write("busy/notes.txt", "");
  std::vector<Case> cases = {
      {"positional argument", "compile bert-base", {"unexpected argument 'bert-base'"}, 2},
      {"option prefix",
       "compile --loop-orde b_i_j_k",
       {"'--loop-orde'", "did you mean '--loop-order'"},
       2},
      {"misspelt option", "simulate --modle bert-tiny", {"'--modle'", "did you mean '--model'"}, 2},
      {"negative --tiles-per-instruction",
       "compile --tiles-per-instruction=-1",
       {"--tiles-per-instruction", "'-1'", "negative"},
       2},
      {"negative --tiles-per-instruction, separate value",
       "compile --tiles-per-instruction -1",
       {"--tiles-per-instruction"},
       2},
      {"negative --lookahead", "simulate --lookahead=-1", {"--lookahead", "negative"}, 2},
      {"--pipeline-blocks out of range",
       "compile --pipeline-blocks 0",
       {"--pipeline-blocks", "outside [1, 1024]"},
       2},
      {"--pipeline-blocks with the reference profile",
       "compile --profile reference --pipeline-blocks 4",
       {"--pipeline-blocks", "--profile reference"},
       2},
      {"negative --timeline-samples",
       "simulate --timeline-samples=-1",
       {"--timeline-samples", "negative"},
       2},
      {"--trace-window without --vcd",
       "simulate --trace-window 0:100",
       {"--trace-window", "needs --vcd"},
       2},
      {"--seq-len beyond the limit",
       "compile --seq-len 100000",
       {"--seq-len", "100000", "[1, 65536]"},
       2},
      {"--vcd on an existing folder", "simulate --vcd " + folder + out, {folder, "names a folder"}},
      {"--vcd on an uncreatable path",
       "simulate --vcd /proc/x.vcd" + out,
       {"/proc/x.vcd", "cannot write the VCD file"}},
      {"--vcd in a missing folder",
       "simulate --vcd /nonexistent-dir/x.vcd" + out,
       {"/nonexistent-dir", "does not exist"}},
      {"--out is a file",
       "simulate --out " + d.write("file.txt", "x"),
       {"file.txt", "not a folder"}},
      {"--out holds other files",
       "simulate --out " + (d.path / "busy").string(),
       {"notes.txt", "not a report file"}},
      {"misspelt model name",
       "compile --model bert-tinny",
       {"bert-tinny", "did you mean 'bert-tiny'"}},
      {"misspelt accelerator name", "compile --accel edg", {"'edg'", "did you mean 'edge'"}},
      {"folder without config.json as --model",
       "compile --model " + (d.path / "nomodel").string(),
       {"nomodel", "without a config.json"}},
      {"duplicate YAML key",
       "compile " + accel("dup.yaml", edge + "pe: 128\n"),
       {"dup.yaml:", "duplicate key 'pe'"}},
      {"misspelt YAML key",
       "compile " + accel("typo.yaml", edge + "lanes_per_pes: 16\n"),
       {"typo.yaml", "unknown key 'lanes_per_pes'", "did you mean 'lanes_per_pe'"}},
      {"accelerator size beyond the limit",
       "compile " + accel("huge.yaml", replace(edge, "pe: 64", "pe: 2000000")) +
           " --allow-outside-design-space",
       {"huge.yaml", "key 'pe'", "exceeds the limit"}},
      {"buffer size beyond the limit",
       "compile " +
           accel("buf.yaml",
                 replace(edge, "activation_buffer_mb: 4", "activation_buffer_mb: 1e300")) +
           " --allow-outside-design-space",
       {"buf.yaml", "activation_buffer_mb", "exceeds the limit"}},
      {"num_hidden_layers 1e9",
       "compile " +
           model(
               "layers.json",
               R"({"hidden_size": 128, "num_hidden_layers": 1000000000, "num_attention_heads": 2, "intermediate_size": 512})"),
       {"layers.json", "num_hidden_layers", "1000000000", "exceeds the limit 1024"}},
      {"FlexiBERT layer count beyond the limit",
       "compile " + model("flex.json", R"({"l": 5000, "o": [], "h": [], "f": []})"),
       {"flex.json", "key 'l'", "exceeds the limit"}},
      {"dims giving 1e12 tiles",
       "compile --seq-len 65536 " +
           model(
               "wide.json",
               R"({"hidden_size": 65536, "num_hidden_layers": 2, "num_attention_heads": 1, "intermediate_size": 65536, "max_position_embeddings": 65536})"),
       {"wide.json", "more than 10000000000 tiles", "--seq-len"}},
      {"one instruction per tile beyond the instruction limit",
       "compile --model bert-large --seq-len 512 --tiles-per-instruction 1",
       {"bert-large", "instructions", "use --tiles-per-instruction"}},
  };
  run_cases(cases, true);
}

TEST_CASE("bad instruction files: one error with file and line, never a wrong result",
          "[compiler][cli]") {
  testutil::TempDir d;
  const std::string prog = (d.path / "prog.txt").string();
  REQUIRE(testutil::run_cli("compile -o " + prog).exit_code == 0);
  const std::string text = slurp(prog);
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  REQUIRE(lines.size() > 100);
  const std::string n_instr = std::to_string(std::count_if(
      lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("i ", 0) == 0; }));
  const std::string n_less = std::to_string(std::stoi(n_instr) - 1);
  auto first_lines = [&](size_t n) {
    std::string s;
    for (size_t k = 0; k < n; ++k) s += lines[k] + "\n";
    return s;
  };
  auto file = [&](const char* name, const std::string& body) {
    return "simulate --out " + (d.path / "o").string() + " --program " + d.write(name, body);
  };
  const std::string load = "i 7 LOAD_W";
  std::vector<Case> cases = {
      {"file cut mid-way",
       file("cut.txt", first_lines(lines.size() * 3 / 4)),
       {"cut.txt:", "without the 'end' line", "cut short"}},
      {"file cut inside a line",
       file("cutline.txt", text.substr(0, text.size() / 2)),
       {"cutline.txt:"}},
      {"header-only file",
       file("header.txt", first_lines(4)),
       {"header.txt:4:", "without the 'end' line", "0 of " + n_instr + " instructions"}},
      {"empty file", file("empty.txt", ""), {"empty.txt", "empty file"}},
      {"old format",
       file("v1.txt", "# acceltran-isa 1\n" + text.substr(text.find('\n') + 1)),
       {"v1.txt:1:", "not supported"}},
      {"activation_sparsity=nan",
       file("nan.txt",
            edit_line(text, "info ", "activation_sparsity=0.5", "activation_sparsity=nan")),
       {"nan.txt:2:", "activation_sparsity", "'nan' is not a finite number"}},
      {"sparsity outside [0, 1)",
       file("sp.txt", edit_line(text, "info ", "weight_sparsity=0.5", "weight_sparsity=1.5")),
       {"sp.txt:2:", "weight_sparsity", "[0, 1)"}},
      {"grid disagreeing with dims",
       file("grid.txt", edit_line(text, "op 2 ", "grid=4x8x24x8", "grid=4x8x24x9")),
       {"grid.txt" + line_of(text, "op 2 "), "grid", "disagrees with dims", "4x8x24x8"}},
      {"0x0x0 tensor shape",
       file("shape.txt", edit_line(text, "tensor 0 ", "shape=4x128x128", "shape=0x0x0")),
       {"shape.txt" + line_of(text, "tensor 0 "), "shape", "outside the allowed range"}},
      {"data_bytes disagreeing with shape and sparsity",
       file("tbytes.txt", edit_line(text, "tensor 0 ", "data_bytes=81920", "data_bytes=81921")),
       {"tbytes.txt" + line_of(text, "tensor 0 "), "data_bytes", "disagrees with shape"}},
      {"bytes=9e9",
       file("b9e9.txt", edit_line(text, load, "bytes=2560", "bytes=9e9")),
       {"b9e9.txt" + line_of(text, load), "'9e9' is not an integer"}},
      {"bytes=9000000000",
       file("b9.txt", edit_line(text, load, "bytes=2560", "bytes=9000000000")),
       {"b9.txt" + line_of(text, load), "disagree with part 7 of tensor 0"}},
      {"counts instructions=4e9",
       file("c4e9.txt", edit_line(text, "counts ", "instructions=" + n_instr, "instructions=4e9")),
       {"c4e9.txt:4:", "'4e9' is not an integer"}},
      {"counts instructions=4000000000",
       file("c4.txt",
            edit_line(text, "counts ", "instructions=" + n_instr, "instructions=4000000000")),
       {"c4.txt", "4000000000 instructions", "the file has"}},
      {"tile range outside its op",
       file("tiles.txt", edit_line(text, "i 46 MATMUL", "tiles=0+6144", "tiles=0+6145")),
       {"tiles.txt" + line_of(text, "i 46 MATMUL"), "outside block 0 of op 2"}},
      {"dependency on an undefined instruction",
       file("deps.txt", edit_line(text, "i 46 MATMUL", "deps=43,44,45", "deps=43,44,999")),
       {"deps.txt" + line_of(text, "i 46 MATMUL"), "instruction 999 not defined"}},
      {"a field given twice",
       file("twice.txt", edit_line(text, "info ", "seq_len=128", "seq_len=128 seq_len=64")),
       {"twice.txt:2:", "'seq_len=' given twice"}},
      {"an unknown field",
       file("field.txt", edit_line(text, "tensor 0 ", "layer=-1", "layer=-1 colour=red")),
       {"field.txt" + line_of(text, "tensor 0 "), "unknown field 'colour='"}},
      {"changed after writing (checksum)",
       file("sum.txt", edit_line(text, load, "# emb.word_rows", "# edited")),
       {"sum.txt" + line_of(text, "end "), "checksum", "changed after"}},
      {"trailer count disagreeing",
       file("endn.txt",
            edit_line(text, "end ", "instructions=" + n_instr, "instructions=" + n_less)),
       {"endn.txt" + line_of(text, "end "), "instructions=" + n_less, n_instr}},
      {"text after the end line",
       file("after.txt", text + lines[lines.size() - 2] + "\n"),
       {"after.txt:" + std::to_string(lines.size() + 1) + ":", "after the 'end' line"}},
      {"a folder", "simulate --program " + d.path.string(), {d.path.string(), "is a folder"}},
      {"an endless line (/dev/zero): read up to the line limit only",
       "simulate --program /dev/zero --out " + (d.path / "o").string(),
       {"/dev/zero:1:", "line longer than 65536 bytes"}},
      {"Windows line endings",
       file("crlf.txt", std::regex_replace(text, std::regex("\n"), "\r\n")),
       {"crlf.txt:1:", "carriage return", "dos2unix"}},
  };
  run_cases(cases, true);
  // Hand-edited streams may skip the checksum with checksum=-; every record is still checked.
  const auto cs = text.find("checksum=", text.find("\nend "));
  std::string hand = text.substr(0, cs) + "checksum=-\n";
  auto r =
      testutil::run_cli(file("hand.txt", edit_line(hand, load, "# emb.word_rows", "# edited")));
  CHECK(r.exit_code == 0);
  // ... including that every tile of every op is in exactly one instruction.
  r = testutil::run_cli(
      file("gap.txt", edit_line(hand, "i 46 MATMUL", "tiles=0+6144", "tiles=0+6000")));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("gap.txt: op 2 (L0.attn.qkv): tiles 6000 to 6143 of block 0 are in no "
                   "instruction") != std::string::npos);
}

TEST_CASE("a Hugging Face model folder is read through its config.json", "[compiler][cli]") {
  testutil::TempDir d;
  std::filesystem::create_directories(d.path / "my-bert");
  d.write("my-bert/config.json", slurp(testutil::kModels + "/transformers/bert-tiny.json"));
  auto r = testutil::run_cli("compile --model " + (d.path / "my-bert").string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("my-bert") != std::string::npos);
}

TEST_CASE("report folder: --out holds the complete new report or the old one, nothing else",
          "[compiler][cli]") {
  namespace fs = std::filesystem;
  testutil::TempDir d;
  const std::string out = (d.path / "o").string();
  REQUIRE(testutil::run_cli("simulate --out " + out).exit_code == 0);
  auto names = [&](const fs::path& dir) {
    std::set<std::string> s;
    for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
    return s;
  };
  CHECK(names(out) ==
        std::set<std::string>{"ops.csv", "report.csv", "report.json", "timeline.csv"});
  CHECK(names(d.path) == std::set<std::string>{"o"});  // no partial folder left beside it
  const std::string before = slurp(out + "/report.json");
  // A failed run (a bad instruction file, a deadlock) leaves the old report untouched.
  auto bad = testutil::run_cli("simulate --out " + out + " --program " + d.write("x.txt", "junk"));
  CHECK(bad.exit_code == 1);
  CHECK(slurp(out + "/report.json") == before);
  // A new run replaces it as a whole.
  REQUIRE(testutil::run_cli("simulate --seq-len 64 --out " + out + "/").exit_code == 0);
  CHECK(slurp(out + "/report.json") != before);
  CHECK(names(out) ==
        std::set<std::string>{"ops.csv", "report.csv", "report.json", "timeline.csv"});
  CHECK(names(d.path) == std::set<std::string>{"o", "x.txt"});
  // A VCD inside --out is written with the report and replaced with it.
  REQUIRE(testutil::run_cli("simulate --out " + out + " --vcd " + out + "/t.vcd").exit_code == 0);
  CHECK(names(out) ==
        std::set<std::string>{"ops.csv", "report.csv", "report.json", "t.vcd", "timeline.csv"});
  CHECK(slurp(out + "/t.vcd").find("$timescale") != std::string::npos);
  CHECK(names(d.path) == std::set<std::string>{"o", "x.txt"});
  // A run that never started leaves no folder behind.
  auto none = testutil::run_cli("simulate --out " + (d.path / "new").string() + " --lookahead 0");
  CHECK(none.exit_code == 2);
  CHECK(!fs::exists(d.path / "new"));
}
