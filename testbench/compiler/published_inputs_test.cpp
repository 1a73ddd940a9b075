// Inputs of the published AccelTran simulator (jha-lab/acceltran, simulator/): its BERT-Nano
// dictionary, whose lists are longer than its `l` layers, and its --first_layer_only option
// (docs/fidelity.md, "Model dictionaries" and "First layer only").
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "test_util.hpp"

using namespace acceltran;

namespace {

Program compile(const ModelDesc& model, Profile profile, bool first_layer_only) {
  testutil::Setup s;
  CompileOptions o;
  o.profile = profile;
  o.first_layer_only = first_layer_only;
  return compile_program(model, s.accel("edge"), s.tech, o);
}

int last_layer(const Program& p) {
  int layer = -1;
  for (const auto& op : p.ops) layer = std::max(layer, op.layer);
  return layer;
}

bool has_op(const Program& p, const std::string& name) {
  for (const auto& op : p.ops)
    if (op.name == name) return true;
  return false;
}

}  // namespace

TEST_CASE("bert-nano: the published dictionary loads, its entries past l are ignored with a note",
          "[compiler][fidelity]") {
  const ModelDesc m = load_model("bert-nano");
  REQUIRE(m.layers.size() == 1);  // l = 1; "o", "h" and "f" hold two entries each
  CHECK(m.layers[0].hidden == 32);
  CHECK(m.layers[0].heads.size() == 2);
  CHECK(m.layers[0].heads[0].dim == 16);
  CHECK(m.layers[0].ffn == std::vector<int64_t>{64});
  REQUIRE(m.notes.size() == 1);
  CHECK(m.notes[0].find("l = 1: the entries of 'o' (2), 'h' (2), 'f' (2) past the first 1 are "
                        "ignored") != std::string::npos);
  for (Profile profile : {Profile::hardware, Profile::reference}) {
    const Program p = compile(m, profile, false);
    CHECK(last_layer(p) == 0);
    CHECK(!p.instrs.empty());
  }
  // Exactly l entries: no note. Fewer than l: still an error.
  CHECK(parse_model_json(R"({"l": 1, "o": [["sa_sdp_16"]], "h": [32], "f": [[64]]})", "x.json")
            .notes.empty());
  CHECK_THROWS_WITH(
      parse_model_json(R"({"l": 2, "o": [["sa_sdp_16"]], "h": [32, 32], "f": [[64], [64]]})",
                       "x.json"),
      Catch::Contains("key 'o': expected a list of 2 entries"));
}

TEST_CASE("bert-nano: the CLI prints the note on stderr and simulates",
          "[compiler][cli][fidelity]") {
  testutil::TempDir d;
  const auto r = testutil::run_cli("simulate --model bert-nano --profile reference --out " +
                                   (d.path / "out").string());
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("note: ") != std::string::npos);
  CHECK(r.err.find("past the first 1 are ignored") != std::string::npos);
}

TEST_CASE("first layer only: lowers the embeddings and layer 0 only", "[compiler][fidelity]") {
  const ModelDesc tiny = load_model("bert-tiny");
  for (Profile profile : {Profile::hardware, Profile::reference}) {
    const Program all = compile(tiny, profile, false);
    const Program first = compile(tiny, profile, true);
    INFO(to_string(profile));
    CHECK(last_layer(all) == 1);
    CHECK(last_layer(first) == 0);
    CHECK(first.instrs.size() < all.instrs.size());
    // The embeddings stay (published: the `emb` load is the first memory op either way).
    CHECK(first.instrs.front().opcode == all.instrs.front().opcode);
    CHECK(first.tensors.front().name == all.tensors.front().name);
  }
  // Reference profile: layer 0 ends with the projection to layer 1's width when it differs
  // (published dict2ops.get_ops appends ff_1_proj after ln_0_2 even with first_layer_only).
  const ModelDesc two_widths =
      parse_model_json(R"({"l": 2, "o": [["sa_sdp_16"], ["sa_sdp_16"]], "h": [32, 64],
                           "f": [[64], [64]]})",
                       "two-widths.json");
  const Program ref = compile(two_widths, Profile::reference, true);
  CHECK(has_op(ref, "L1.proj_in"));
  CHECK(has_op(ref, "L1.proj_in.act"));
  CHECK(!has_op(ref, "L1.ffn.ln"));
  CHECK(!has_op(compile(two_widths, Profile::hardware, true), "L1.proj_in"));
}

TEST_CASE("first layer only: --first-layer-only is listed in --help and runs",
          "[compiler][cli][fidelity]") {
  for (const char* command : {"compile", "simulate"}) {
    const auto help = testutil::run_cli(fmt::format("{} --help", command));
    CHECK(help.out.find("--first-layer-only") != std::string::npos);
  }
  testutil::TempDir d;
  const auto r = testutil::run_cli("simulate --profile reference --first-layer-only --out " +
                                   (d.path / "out").string());
  INFO(r.err);
  CHECK(r.exit_code == 0);
}
