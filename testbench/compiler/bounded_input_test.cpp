// Bounded input (config/input_limits.hpp): deeply nested JSON and YAML, YAML alias bombs, huge
// values and binary bytes each give one short, printable `error:` line naming the file and the
// limit, and a non-zero exit -- never a crash, a hang or megabytes of output.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/workload/safetensors.hpp"
#include "golden_util.hpp"
#include "test_util.hpp"

using namespace acceltran;

namespace {

std::string repeat(const std::string& text, size_t count) {
  std::string out;
  out.reserve(text.size() * count);
  for (size_t n = 0; n < count; ++n) out += text;
  return out;
}

// `inner` inside `depth` levels of lists.
std::string nested_list(size_t depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

// True when every byte is printable ASCII or a newline.
bool printable(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return c == '\n' || (byte >= 0x20 && byte < 0x7f);
  });
}

// A billion-laughs accelerator: `levels` anchors, each a list of `width` aliases of the one
// before, over a list of `width` scalars.
std::string alias_bomb(int levels, int width) {
  std::string text = "a0: &a0 [" + repeat("x,", static_cast<size_t>(width - 1)) + "x]\n";
  for (int n = 1; n <= levels; ++n) {
    const std::string alias = "*a" + std::to_string(n - 1);
    text += "a" + std::to_string(n) + ": &a" + std::to_string(n) + " [" +
            repeat(alias + ",", static_cast<size_t>(width - 1)) + alias + "]\n";
  }
  return text + "name: bomb\n";
}

// A copy of the models folder whose memory.yaml (main-memory timing) is `memory_yaml`.
std::string models_with_memory_yaml(const testutil::TempDir& d, const std::string& memory_yaml) {
  const auto models = d.path / "models";
  std::filesystem::copy(testutil::kModels, models, std::filesystem::copy_options::recursive);
  d.write("models/memory.yaml", memory_yaml);
  return models.string();
}

struct Case {
  const char* name;
  std::string args;                   // the command line after the binary
  std::vector<std::string> expected;  // substrings of stderr
  size_t max_bytes = 400;             // of stderr, the one line
};

// Runs each case under a 60 s timeout (a hang is a failure, not a stuck test: timeout exits
// with 124) and checks one short printable `error:` line with every expected substring and exit
// code 1. No wall-clock check: the sanitizer build on a busy machine is many times slower.
void run_bounded(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    INFO("case: " << c.name);
    testutil::TempDir d;
    const auto out = (d.path / "out.txt").string(), err = (d.path / "err.txt").string();
    const int rc = std::system(
        ("timeout 60 " + testutil::kBin + " " + c.args + " >" + out + " 2>" + err).c_str());
    const std::string message = golden::slurp(err);
    INFO("stderr (" << message.size() << " bytes): " << message.substr(0, 2000));
    CHECK((WIFEXITED(rc) ? WEXITSTATUS(rc) : -1) == 1);
    CHECK(message.rfind("error: ", 0) == 0);
    CHECK(std::count(message.begin(), message.end(), '\n') == 1);
    CHECK(message.size() <= c.max_bytes);
    CHECK(printable(message));
    for (const auto& e : c.expected) CHECK(message.find(e) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("quoted values: at most 200 characters, printable, with the total size when cut",
          "[compiler][limits]") {
  CHECK(quoted_value("sa_sdp_64") == "sa_sdp_64");
  CHECK(quoted_value(std::string("a\x01\xff\n", 4)) == "a\\x01\\xff\\x0a");
  const std::string cut = quoted_value(std::string(5000, 'x'));
  CHECK(cut == std::string(limits::kMaxQuotedChars, 'x') + "... (5000 bytes)");
  const std::string binary = quoted_value(std::string(1000, '\x80'));
  CHECK(binary.size() <= limits::kMaxQuotedChars + 20);
  CHECK(binary.rfind("\\x80\\x80", 0) == 0);
  CHECK(binary.find("... (1000 bytes)") != std::string::npos);
}

TEST_CASE("deep and huge JSON models: one short error line naming the limit",
          "[compiler][cli][limits]") {
  testutil::TempDir d;
  auto model = [&](const char* file, const std::string& text) {
    return "compile --model " + d.write(file, text);
  };
  run_bounded({
      {"model JSON nested 100,000 deep",
       model("deep.json", "{\"l\": " + nested_list(100000) + "}"),
       {"deep.json", "JSON nested deeper than the limit of 64 levels"}},
      {"a head nested 100,000 deep",
       model("deephead.json", "{\"l\": 1, \"o\": [" + nested_list(100000, "\"sa_sdp_64\"") +
                                  "], \"h\": [64], \"f\": [[64]]}"),
       {"deephead.json", "nested deeper than the limit of 64"}},
      {"a flat list of 2,000,000 entries as a value",
       model("flat.json", "{\"l\": [" + repeat("1,", 1999999) + "1]}"),
       {"flat.json", "key 'l'", "not a positive integer", "... (4000001 bytes)"},
       320},
      {"a 1,000,000-character head string",
       model("longhead.json", "{\"l\": 1, \"o\": [[\"" + std::string(1000000, 'q') +
                                  "\"]], \"h\": [64], \"f\": [[64]]}"),
       {"longhead.json", "head 'qqqq", "... (1000000 bytes)", "allowed forms"},
       500},
      {"a sparsity profile nested 100,000 deep",
       "simulate --sparsity-profile " +
           d.write("profile.json", "{\"tensor_sparsity\": {\"x\": " + nested_list(100000) + "}}"),
       {"profile.json", "JSON nested deeper than the limit of 64 levels"}},
      {"a folder as the sparsity profile",
       "simulate --sparsity-profile " + d.path.string(),
       {d.path.string(), "is a folder, not a sparsity profile file"}},
      {"a model file over the size limit",
       model("big.json", "{\"l\": 1, \"pad\": \"" + std::string(17u << 20, ' ') + "\"}"),
       {"big.json", "model file of", "exceeds the limit of 16777216 bytes"}},
  });
}

TEST_CASE("binary bytes in input values are escaped in the error line", "[compiler][cli][limits]") {
  testutil::TempDir d;
  const std::string edge = golden::slurp(testutil::kModels + "/accelerators/edge.yaml");
  std::string binary_pe = edge;
  binary_pe.replace(binary_pe.find("pe: 64"), 6, "pe: \"6\\x01\\x1b[31m\\xff4\"");
  run_bounded({
      {"JSON head with control characters",
       "compile --model " +
           d.write("ctl.json",
                   R"({"l": 1, "o": [["sa_sdp_6\u0001\u001b[31m4"]], "h": [64], "f": [[64]]})"),
       {"ctl.json", "sa_sdp_6\\x01\\x1b[31m4"}},
      {"JSON with raw invalid UTF-8 bytes",
       "compile --model " + d.write("raw.json", "{\"l\": \"\xff\xfe\x80\x1b[2J\"}"),
       {"raw.json", "JSON syntax error", "\\xff"}},
      {"YAML value with binary bytes",
       "compile --accel " + d.write("binary.yaml", binary_pe),
       {"binary.yaml", "key 'pe'", "6\\x01\\x1b[31m\\xc3\\xbf4"}},
      {"a model name with control bytes and malformed UTF-8 (any message, not only quoted values)",
       "simulate --model " + std::string("'bad\x01\x1b[31m\xff name'"),
       {"bad\\x01\\x1b[31m\\xff name", "no such file"}},
  });
}

TEST_CASE("error messages: control bytes and malformed UTF-8 escaped, text kept",
          "[compiler][limits]") {
  CHECK(acceltran::printable_message("plain text") == "plain text");
  CHECK(acceltran::printable_message("µs, ≠, →") == "µs, ≠, →");  // well-formed UTF-8 kept
  CHECK(acceltran::printable_message(std::string("a\x01\x1b[2J\xff\xc3", 8)) ==
        "a\\x01\\x1b[2J\\xff\\xc3");  // a lone lead byte at the end is malformed
  CHECK(acceltran::printable_message("\xc2\x85") == "\\xc2\\x85");  // C1 control
  CHECK(acceltran::printable_message("line\nnext") == "line\nnext");
}

TEST_CASE("YAML alias bombs and deep nesting end fast with one error line",
          "[compiler][cli][limits]") {
  testutil::TempDir d;
  const std::string bomb = alias_bomb(8, 8);  // 64 alias uses, 8^9 nodes
  REQUIRE(bomb.size() < 400);
  const std::string many_aliases = "a: &a 1\nb: [" + repeat("*a,", 64) + "*a]\nname: x\n";
  const std::string deep = "name: x\ntile: " + std::string(100000, '[') + "\n";
  std::string long_type = golden::slurp(testutil::kModels + "/accelerators/edge.yaml");
  long_type.replace(long_type.find("type: dram"), 10, "type: " + std::string(500000, 'z'));
  const std::string spec =
      "model: bert-tiny\naccelerator: edge\n" + alias_bomb(8, 8) + "grid:\n  pe: [*a8]\n";
  run_bounded({
      {"accelerator expanding to 16 million nodes",
       "compile --accel " + d.write("bomb.yaml", bomb),
       {"bomb.yaml", "expands to more than 1000000 nodes"}},
      {"accelerator with 65 aliases",
       "compile --accel " + d.write("aliases.yaml", many_aliases),
       {"aliases.yaml:2:", "more than 64 aliases"}},
      {"accelerator nested 100,000 deep",
       "compile --accel " + d.write("deep.yaml", deep),
       {"deep.yaml", "nested deeper than the limit of 64 levels"}},
      {"an alias inside the node it names",
       "compile --accel " + d.write("self.yaml", "name: x\ntile: &t {tile_b: *t}\n"),
       {"self.yaml:2:", "alias refers to a node that contains it"}},
      {"alias bomb in a --set value",
       "compile --set 'tile=[&a [1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a], &c "
       "[*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d], "
       "&f [*e,*e,*e,*e,*e,*e,*e,*e], &g [*f,*f,*f,*f,*f,*f,*f,*f], [*g,*g,*g,*g,*g,*g,*g,*g]]'",
       {"option --set tile=", "expands to more than 1000000 nodes"}},
      {"alias bomb in a sweep spec",
       "sweep " + d.write("spec.yaml", spec) + " --out " + (d.path / "out").string(),
       {"spec.yaml", "expands to more than 1000000 nodes"}},
      {"a 500,000-character memory type",
       "compile --accel " + d.write("longtype.yaml", long_type),
       {"longtype.yaml", "main_memory.type", "'zzzz", "... (500000 bytes)' unknown"}},
      {"memory timing file (models/memory.yaml) expanding to 16 million nodes",
       "simulate --models-dir " + models_with_memory_yaml(d, bomb) + " --out " +
           (d.path / "run").string(),
       {"memory.yaml", "expands to more than 1000000 nodes"}},
      {"an accelerator file over the size limit",
       "compile --accel " + d.write("big.yaml", "name: x\n#" + std::string(2u << 20, ' ') + "\n"),
       {"big.yaml", "accelerator file of", "exceeds the limit of 1048576 bytes"}},
  });
}

TEST_CASE("safetensors: nested shape and data_offsets give one error naming the limit",
          "[safetensors][limits]") {
  testutil::TempDir d;
  const std::string data(8, '\0');
  auto error_for = [&](const char* name, const std::string& header) {
    const std::string path =
        golden::write_bytes(d.path / name, golden::safetensors_bytes(header, data));
    return golden::error_of([path] { SafetensorsFile f(path); });
  };
  for (const auto& [name, header] : std::vector<std::pair<const char*, std::string>>{
           {"shape.safetensors",
            R"({"w":{"dtype":"F32","shape":)" + nested_list(100000) + R"(,"data_offsets":[0,8]}})"},
           {"offsets.safetensors",
            R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)" + nested_list(100000) + "}}"}}) {
    INFO(name);
    const std::string message = error_for(name, header);
    INFO(message.substr(0, 2000));
    CHECK(message.find(name) != std::string::npos);
    CHECK(message.find("nested deeper than the limit of 64 levels") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
  // Shallow but long or binary values are quoted within bounds.
  const std::string flat =
      error_for("flat.safetensors", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[)" +
                                        repeat("1,", 999999) + "1]}}");
  CHECK(flat.find("data_offsets") != std::string::npos);
  CHECK(flat.find("... (2000001 bytes)") != std::string::npos);
  CHECK(flat.size() <= 400);
  const std::string binary =
      error_for("binary.safetensors", R"({"w\u0007\u001b[2J":{"dtype":"F32","shape":[2]}})");
  CHECK(binary.find("tensor 'w\\x07\\x1b[2J'") != std::string::npos);
  CHECK(printable(binary));
}
