// Per-op tiling of the reference profile against the published AccelTran simulator
// (jha-lab/acceltran, simulator/src/dict2ops.py, ops.py; config/config_tiny.yaml: batch 4,
// tile 1x16x16, sequence 128). docs/fidelity.md derives every expected figure below.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "acceltran/compiler/stats.hpp"
#include "test_util.hpp"

using namespace acceltran;
using testutil::compile;

namespace {

struct Expected {
  std::string published_name;
  OpKind kind;
  uint64_t tiles;
  uint64_t macs;  // unpadded; 0 for non-matmul ops
};

// The published compute-op sequence of BERT-Tiny (dict2ops.get_ops / get_tiled_ops, heads
// flattened head by head) with the tile counts of ops.py tile_op():
//   matmul (b,m,k) x (b,k,n): ceil(b/tb) ceil(m/tx) ceil(n/ty) ceil(k/tx) tiles;
//   softmax, layer norm, non-linearity over (b,r,c): ceil(b/tb) ceil(r/tx) ceil(c/ty) tiles.
std::vector<Expected> published_bert_tiny() {
  const uint64_t proj_macs = 4ull * 128 * 128 * 64;  // (4,128,128) x (4,128,64)
  const uint64_t ffn_macs = 4ull * 128 * 128 * 512;  // (4,128,128) x (4,128,512) and back
  std::vector<Expected> v;
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < 2; ++h) {
      const std::string p = fmt::format("sa_sdp_64_{}_{}_", l + 1, h + 1);
      v.push_back({p + "q", OpKind::matmul, 4 * 8 * 4 * 8, proj_macs});  // 1,024
      v.push_back({p + "k", OpKind::matmul, 4 * 8 * 4 * 8, proj_macs});  // 1,024
      v.push_back({p + "v", OpKind::matmul, 4 * 8 * 4 * 8, proj_macs});  // 1,024
      v.push_back(
          {p + "sdp-qk", OpKind::matmul, 4 * 8 * 8 * 4, proj_macs});  // (4,128,64)x(4,64,128)
      v.push_back({p + "sftm", OpKind::softmax, 4 * 8 * 8, 0});       // 256
      v.push_back(
          {p + "sdp-v", OpKind::matmul, 4 * 8 * 4 * 8, proj_macs});      // (4,128,128)x(4,128,64)
      v.push_back({p + "o", OpKind::matmul, 4 * 8 * 8 * 4, proj_macs});  // (4,128,64)x(4,64,128)
    }
    v.push_back({fmt::format("ln_{}_1", l), OpKind::layer_norm, 4 * 8 * 8, 0});
    v.push_back({fmt::format("ff_{}_1_f", l + 1), OpKind::matmul, 4 * 8 * 32 * 8, ffn_macs});
    // The published activation is sized from the product's input: (4,128,128), 256 tiles.
    v.push_back({fmt::format("nl_{}_1", l), OpKind::activation, 4 * 8 * 8, 0});
    v.push_back({fmt::format("ff_{}_2_f", l + 1), OpKind::matmul, 4 * 8 * 8 * 32, ffn_macs});
    // ... and after the down projection from its input (4,128,512): 1,024 tiles.
    v.push_back({fmt::format("nl_{}_2", l), OpKind::activation, 4 * 8 * 32, 0});
    v.push_back({fmt::format("ln_{}_2", l), OpKind::layer_norm, 4 * 8 * 8, 0});
  }
  return v;
}

}  // namespace

TEST_CASE("per-op: BERT-Tiny on Edge, reference profile, matches the published op sequence",
          "[compiler][fidelity]") {
  Program p = compile("bert-tiny", "reference", "edge");
  const auto rows = per_op_stats(p);
  std::vector<const OpRow*> published;
  for (const auto& r : rows)
    if (!r.published_name.empty()) published.push_back(&r);
  const auto expected = published_bert_tiny();
  REQUIRE(published.size() == expected.size());
  uint64_t tiles = 0;
  for (size_t n = 0; n < expected.size(); ++n) {
    INFO("published op " << n << ": " << expected[n].published_name);
    CHECK(published[n]->published_name == expected[n].published_name);
    CHECK(published[n]->kind == expected[n].kind);
    CHECK(published[n]->tiles == expected[n].tiles);
    CHECK(published[n]->macs == expected[n].macs);
    // Every BERT-Tiny dimension is a multiple of 16: no padding, the published num_muls sum
    // (tiles x tb*tx*ty*ty) equals the unpadded MACs.
    CHECK(published[n]->padded_macs == expected[n].macs);
    tiles += published[n]->tiles;
  }
  // 2 layers x (2 heads x 6,400 + 256 + 8,192 + 256 + 8,192 + 1,024 + 256) = 61,952 tiled
  // compute ops; with the 53 untiled memory ops (emb; 11 per head; f-l, f-s per FFN product)
  // the published count is 62,005 ("about 62 k tiled ops").
  CHECK(tiles == 61952);
}

TEST_CASE("per-op: every op has a published counterpart, --reference-fixes adds the others",
          "[compiler][fidelity]") {
  auto extra_ops = [](const Program& p, uint64_t* extra_tiles) {
    std::vector<std::string> extra;
    *extra_tiles = 0;
    for (const auto& r : per_op_stats(p))
      if (r.published_name.empty()) {
        extra.push_back(r.name);
        *extra_tiles += r.tiles;
      }
    return extra;
  };
  Program p = compile("bert-tiny", "reference", "edge");
  uint64_t extra_tiles = 0;
  CHECK(extra_ops(p, &extra_tiles).empty());
  // With this project's op graph: the embedding layer norm and the sum of the two head outputs
  // of each layer (256 tiles each).
  testutil::Setup s;
  CompileOptions o;
  o.profile = Profile::reference;
  o.published.emb_ln = true;
  o.published.head_sum = true;
  Program f = compile_program(load_model(testutil::kModels + "/transformers/bert-tiny.json"),
                              s.accel("edge"), s.tech, o);
  CHECK(extra_ops(f, &extra_tiles) ==
        std::vector<std::string>{"emb.ln", "L0.attn.add", "L1.attn.add"});
  CHECK(extra_tiles == 3 * 256);
  // Rows are in program order, one per op, and their tiles add up to the instruction stream's.
  for (const Program* q : {&p, &f}) {
    const auto rows = per_op_stats(*q);
    uint64_t tiles = 0;
    for (size_t n = 0; n < rows.size(); ++n) {
      CHECK(rows[n].op == n);
      tiles += rows[n].tiles;
    }
    uint64_t stream_tiles = 0;
    for (const auto& in : q->instrs)
      if (is_compute(in.opcode)) stream_tiles += in.tile_count;
    CHECK(tiles == stream_tiles);
  }
}

TEST_CASE("per-op: published names of other head types and of FFN stacks", "[compiler][fidelity]") {
  testutil::TempDir d;
  const std::string model = d.write(
      "het.json",
      R"({"l": 2, "o": [["sa_wma_32", "c_5_32", "l_dft_32", "l_dct_32"], ["sa_sdp_64", "sa_sdp_64"]],
          "h": [128, 256], "f": [[512, 256], [512]]})");
  testutil::Setup s;
  CompileOptions o;
  o.profile = Profile::reference;
  Program p = compile_program(load_model(model), s.accel("edge"), s.tech, o);
  std::map<std::string, std::string> name;
  for (const auto& r : per_op_stats(p)) name[r.name] = r.published_name;
  CHECK(name["L0.H0.qwa"] == "sa_wma_32_1_1_wma");
  CHECK(name["L0.H0.qk"] == "sa_wma_32_1_1_sdp-qk");
  CHECK(name["L0.H1.conv"] == "c_5_32_1_2_c");
  CHECK(name["L0.H1.v"].empty());  // the published convolution head has no value projection
  CHECK(name["L0.H2.dft"] == "l_dft_32_1_3_l");
  CHECK(name["L0.H3.dct"] == "l_dct_32_1_4_l");
  // FFN stack 128 -> 512 -> 256 -> 128: ff_1_1_f, ff_1_2_f, ff_1_3_f, each followed by nl.
  CHECK(name["L0.ffn0.up"] == "ff_1_1_f");
  CHECK(name["L0.ffn1.up"] == "ff_1_2_f");
  CHECK(name["L0.ffn1.up.act"] == "nl_0_2");
  CHECK(name["L0.ffn.down"] == "ff_1_3_f");
  CHECK(name["L0.ffn.down.act"] == "nl_0_3");
  CHECK(name["L0.ffn.ln"] == "ln_0_2");
  // Width change 128 -> 256 between the layers: the published ff_1_proj.
  CHECK(name["L1.proj_in"] == "ff_1_proj");
  // ... followed by an activation sized from its input (4, 128, 128): 256 tiles.
  CHECK(name["L1.proj_in.act"] == "nl_0_2");
  for (const auto& r : per_op_stats(p))
    if (r.name == "L1.proj_in.act") {
      CHECK(r.kind == OpKind::activation);
      CHECK(r.tiles == 4 * 8 * 8);
    }
  CHECK(name["L1.H1.softmax"] == "sa_sdp_64_2_2_sftm");
}

TEST_CASE("compile --per-op prints the table", "[compiler][cli][fidelity]") {
  auto r = testutil::run_cli("compile --profile reference --per-op");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("published_name") != std::string::npos);
  CHECK(r.out.find("L0.H1.qk             sa_sdp_64_1_2_sdp-qk") != std::string::npos);
  CHECK(r.out.find("tiles: 61952 in all, 61952 in the 40 ops with a published counterpart "
                   "(profile reference)") != std::string::npos);
  CHECK(r.out.find("opcode") == std::string::npos);  // no --stats: the table only
  auto both = testutil::run_cli("compile --stats --per-op");
  REQUIRE(both.exit_code == 0);
  CHECK(both.out.find("opcode") != std::string::npos);
  CHECK(both.out.find("published_name") != std::string::npos);
}
