#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>

#include <map>
#include <set>
#include <sstream>

#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/compiler/issue_groups.hpp"
#include "acceltran/compiler/parts.hpp"
#include "acceltran/compiler/stats.hpp"
#include "acceltran/compiler/tiling.hpp"
#include "test_util.hpp"

using namespace acceltran;
using testutil::compile;

namespace {

const Op& op_named(const Program& p, const std::string& name) {
  for (const auto& op : p.ops)
    if (op.name == name) return op;
  FAIL("no op named " << name);
  return p.ops.front();
}

uint64_t tiles_of(const Program& p, const std::string& name) {
  const Op& op = op_named(p, name);
  uint64_t n = 0;
  for (const auto& in : p.instrs)
    if (is_compute(in.opcode) && in.op == op.id) n += in.tile_count;
  return n;
}

}  // namespace

TEST_CASE("BERT-Tiny reference profile: published tile counts", "[compiler]") {
  Program p = compile("bert-tiny", "reference");
  REQUIRE(p.info.batch == 4);
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 2; ++h) {
      for (const char* proj : {"q", "k", "v", "o"})
        CHECK(tiles_of(p, fmt::format("L{}.H{}.{}", l, h, proj)) == 1024);
      CHECK(tiles_of(p, fmt::format("L{}.H{}.qk", l, h)) == 1024);
      CHECK(tiles_of(p, fmt::format("L{}.H{}.pv", l, h)) == 1024);
      CHECK(tiles_of(p, fmt::format("L{}.H{}.softmax", l, h)) == 256);
    }
  CHECK(tiles_of(p, "L0.ffn0.up") == 8192);
  CHECK(tiles_of(p, "L0.ffn.down") == 8192);
  CHECK(tiles_of(p, "L1.ffn0.up") == 8192);
  CHECK(tiles_of(p, "L1.ffn.down") == 8192);
  // Reference conventions: weights carry the batch, the whole embedding table is loaded,
  // no residual adds, an activation after every FFN product sized from its input.
  CHECK(p.tensors[op_named(p, "L0.H0.q").inputs[1]].batch == 4);
  // The word table and the 128 position rows, read by the first projections directly.
  CHECK(p.tensors[op_named(p, "L0.H0.q").inputs[0]].name == "emb.table");
  CHECK(p.tensors[op_named(p, "L0.H0.q").inputs[0]].rows == 30522 + 128);
  CHECK(op_named(p, "L0.ffn0.up.act").n == 128);
  CHECK(op_named(p, "L0.ffn.down.act").n == 512);
  for (const auto& op : p.ops) CHECK(op.name.find("ffn.add") == std::string::npos);
}

TEST_CASE("BERT-Tiny bert profile: real encoder structure", "[compiler]") {
  Program p = compile("bert-tiny", "hardware");
  // One fused Q/K/V projection per layer, weights shared by the batch, with a bias.
  const Op& qkv = op_named(p, "L0.attn.qkv");
  CHECK(qkv.k == 128);
  CHECK(qkv.n == 3 * 128);
  CHECK(p.tensors[qkv.inputs[1]].batch == 1);
  REQUIRE(qkv.inputs.size() == 3);
  CHECK(p.tensors[qkv.inputs[2]].elements() == 3u * 128);  // bias
  // The B*S gathered rows instead of the table.
  const Op& emb = op_named(p, "emb.add");
  CHECK(emb.inputs.size() == 3);
  CHECK(p.tensors[emb.inputs[0]].elements() == 4u * 128 * 128);
  // Heads read the fused tensor and write their slice of one context tensor; one h x h output
  // projection; residual adds; LayerNorm reads gamma/beta; GELU only after the up-projection.
  const Op& qk = op_named(p, "L0.H1.qk");
  CHECK(qk.inputs[0] == qkv.output);
  CHECK(qk.inputs[1] == qkv.output);
  const Op& pv1 = op_named(p, "L0.H1.pv");
  CHECK(pv1.out_col == 64);
  CHECK(pv1.output == op_named(p, "L0.H0.pv").output);
  const Op& o = op_named(p, "L0.attn.o");
  CHECK(o.inputs[0] == pv1.output);
  CHECK(o.k == 128);
  CHECK(o.n == 128);
  const Op& add = op_named(p, "L0.attn.add");
  CHECK(add.inputs.size() == 2);
  CHECK(add.inputs[1] == o.output);
  CHECK(op_named(p, "L0.attn.ln").inputs.size() == 2);
  CHECK(p.tensors[op_named(p, "L0.attn.ln").inputs[1]].elements() == 2u * 128);
  CHECK(op_named(p, "L0.ffn.add").inputs.size() == 2);
  CHECK(op_named(p, "L0.ffn0.up.act").n == 512);
  for (const auto& op : p.ops) CHECK(op.name != "L0.ffn.down.act");
  // Zero-free sizes: 128x384 weight at 50 % sparsity, 20-bit words.
  const Tensor& w = p.tensors[qkv.inputs[1]];
  CHECK(w.data_bytes == 128 * 384 * 20 / 2 / 8);
  CHECK(w.mask_bytes == 128 * 384 / 8);
  // Per-tensor sparsity: LayerNorm outputs and residual sums are dense, pruned products are not.
  CHECK(p.tensors[op_named(p, "L0.attn.ln").output].sparsity == 0.0);
  CHECK(p.tensors[qkv.output].sparsity == 0.5);
  // DynaTran prunes Q/K/V, scores, probabilities, context and dense outputs, not LN/residual/GELU.
  CHECK(qkv.prune);
  CHECK(op_named(p, "L0.H0.softmax").prune);
  CHECK(o.prune);
  CHECK_FALSE(op_named(p, "L0.attn.ln").prune);
  CHECK_FALSE(op_named(p, "L0.ffn.add").prune);
  CHECK_FALSE(op_named(p, "L0.ffn0.up.act").prune);
  // Outputs stay on chip tile by tile: no STORE_A; the final output is stored part by part.
  for (const auto& in : p.instrs) CHECK(in.opcode != Opcode::STORE_A);
}

TEST_CASE("padding: edge tiles of a non-multiple shape", "[compiler]") {
  Program p = compile("bert-tiny", "hardware", "edge", 0, 100);
  const Op& q = op_named(p, "L0.attn.qkv");  // (4,100,128) x (128,384)
  CHECK(q.grid_i == 7);                      // ceil(100/16)
  CHECK(q.tile_count() == 4u * 7 * 24 * 8);
  CHECK(q.macs() == 4u * 100 * 128 * 384);
  const Op& sm = op_named(p, "L0.H0.softmax");  // (4,100,100)
  CHECK(sm.tile_count() == 4u * 7 * 7);
  Op manual;
  manual.kind = OpKind::matmul;
  manual.b = 3;
  manual.m = 17;
  manual.k = 33;
  manual.n = 15;
  set_tile_grid(manual, TileShape{2, 16, 16});
  CHECK(manual.grid_b == 2);
  CHECK(manual.grid_i == 2);
  CHECK(manual.grid_j == 1);
  CHECK(manual.grid_k == 3);
}

TEST_CASE("loop orders: same tiles, specified order, reuse differs", "[compiler]") {
  Op op;
  op.kind = OpKind::matmul;
  op.b = 2;
  op.m = 48;
  op.k = 64;
  op.n = 32;
  set_tile_grid(op, TileShape{1, 16, 16});
  REQUIRE(op.tile_count() == 2u * 3 * 2 * 4);
  std::multiset<std::tuple<int64_t, int64_t, int64_t, int64_t>> reference;
  std::map<std::string, std::pair<int, int>> reuse;
  for (const auto& order : LoopOrder::all()) {
    TileWalker w(op, order);
    std::multiset<std::tuple<int64_t, int64_t, int64_t, int64_t>> tiles;
    int r1 = 0, r2 = 0;
    TileIndex prev{-1, -1, -1, -1};
    for (uint64_t n = 0; n < w.count(); ++n) {
      TileIndex t = w.at(n);
      CHECK(w.linear(t) == n);
      tiles.insert({t.b, t.i, t.j, t.k});
      if (n > 0) {
        r1 += reuses_first(prev, t);
        r2 += reuses_second(prev, t);
      }
      prev = t;
    }
    if (reference.empty()) reference = tiles;
    CHECK(tiles == reference);
    CHECK(tiles.size() == op.tile_count());
    reuse[order.str()] = {r1, r2};
  }
  CHECK(std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>>(reference.begin(), reference.end())
            .size() == op.tile_count());
  // Order as specified: b_i_j_k walks k fastest, then j; k_j_i_b walks b fastest.
  TileWalker bijk(op, LoopOrder::parse("b_i_j_k"));
  CHECK(bijk.at(1) == TileIndex{0, 0, 0, 1});
  CHECK(bijk.at(4) == TileIndex{0, 0, 1, 0});
  TileWalker kjib(op, LoopOrder::parse("k_j_i_b"));
  CHECK(kjib.at(1) == TileIndex{1, 0, 0, 0});
  CHECK(kjib.at(2) == TileIndex{0, 1, 0, 0});
  // Reuse rule on one tile stream: b_i_j_k keeps no operand from tile to tile (k changes every
  // step), b_i_k_j keeps the first operand (b,i,k) across the j loop.
  CHECK(reuse["b_i_j_k"] == std::make_pair(0, 0));
  CHECK(reuse["b_i_k_j"].first == 2 * 3 * 4 * (2 - 1));
  CHECK(reuse["b_i_k_j"].second == 0);
  // b_k_j_i keeps the second operand (b,k,j) across the i loop.
  CHECK(reuse["b_k_j_i"].second == 2 * 4 * 2 * (3 - 1));
}

TEST_CASE("dependencies: producers first, tensors available, no tile twice", "[compiler]") {
  for (uint64_t tpi : {0ull, 1ull, 100ull}) {
    for (const char* profile : {"hardware", "reference"}) {
      CAPTURE(tpi, profile);
      Program p = compile("bert-tiny", profile, "edge", tpi);
      const bool ref = std::string(profile) == "reference";
      // Per (tensor, part): the LOAD_W that brought it, the tile jobs that wrote it so far.
      std::map<std::pair<TensorId, uint32_t>, InstrId> loaded;
      std::map<std::pair<TensorId, uint32_t>, std::vector<InstrId>> writers;
      std::vector<InstrId> stored(p.tensors.size(), kNone);  // reference: its STORE_A
      std::vector<uint64_t> covered(p.ops.size(), 0);
      std::map<std::pair<OpId, uint32_t>, std::vector<std::pair<uint64_t, uint64_t>>> ranges;
      // Profile hardware: the pieces of a block are one issue group, and a dependency on the
      // block names its last piece (docs/isa.md, "Issue groups").
      Program grouped;
      std::vector<InstrId> group_first;
      coalesce_issue_groups(p, grouped, group_first);
      auto writer_id = [&](InstrId id) {
        if (ref || group_first.empty()) return id;
        return *std::upper_bound(group_first.begin(), group_first.end(), id) - 1;
      };
      for (const auto& in : p.instrs) {
        std::vector<InstrId> dv(p.deps_begin(in), p.deps_end(in));
        std::sort(dv.begin(), dv.end());
        for (InstrId d : dv) REQUIRE(d < in.id);
        struct {
          const std::vector<InstrId>& v;
          bool count(InstrId x) const { return std::binary_search(v.begin(), v.end(), x); }
        } deps{dv};
        if (is_compute(in.opcode)) {
          const Op& op = p.ops[in.op];
          const BlockBox box = tile_range_box(block_box(op, in.block), p.info.loop_order,
                                              in.first_tile, in.tile_count);
          for (size_t n = 0; n < op.inputs.size(); ++n) {
            const TensorId t = op.inputs[n];
            const Tensor& ten = p.tensors[t];
            for_each_part(part_grid(ten), input_box(p, op, n, box), [&](uint32_t part) {
              // Every input's producing instruction is among the dependencies.
              if (ten.cls != TensorClass::activation) {
                REQUIRE(loaded.count({t, part}));
                CHECK(deps.count(loaded[{t, part}]));
              } else if (ref) {
                REQUIRE(stored[t] != kNone);
                CHECK(deps.count(stored[t]));
              } else {
                const auto& w = writers[{t, part}];
                REQUIRE_FALSE(w.empty());
                bool all = true;
                for (InstrId x : w) all = all && deps.count(x);
                CHECK(all);
              }
            });
          }
          for_each_part(part_grid(p.tensors[op.output]), output_box(p, op, box),
                        [&](uint32_t part) {
                          writers[{op.output, part}].push_back(writer_id(in.id));
                        });
          covered[in.op] += in.tile_count;
          ranges[{in.op, in.block}].push_back({in.first_tile, in.first_tile + in.tile_count});
        } else if (in.opcode == Opcode::LOAD_W) {
          REQUIRE_FALSE(loaded.count({in.tensor, in.part}));  // loaded once
          loaded[{in.tensor, in.part}] = in.id;
        } else if (in.opcode == Opcode::STORE_A) {
          REQUIRE(ref);
          REQUIRE(stored[in.tensor] == kNone);  // written once
          stored[in.tensor] = in.id;
        } else if (in.opcode == Opcode::STORE_M) {
          if (ref) {
            REQUIRE(stored[in.tensor] != kNone);
            CHECK(deps.count(stored[in.tensor]));
          } else {
            REQUIRE_FALSE(writers[{in.tensor, in.part}].empty());
            for (InstrId x : writers[{in.tensor, in.part}]) CHECK(deps.count(x));
          }
        }
      }
      for (const auto& op : p.ops) {
        CHECK(covered[op.id] == op.tile_count());
        const BlockGrid g = block_grid(op);
        for (uint32_t b = 0; b < g.blocks(); ++b) {
          auto r = ranges[{op.id, b}];
          std::sort(r.begin(), r.end());
          REQUIRE_FALSE(r.empty());
          CHECK(r.front().first == 0);
          CHECK(r.back().second == block_box(op, g, b).tiles());
          for (size_t n = 1; n < r.size(); ++n) CHECK(r[n].first == r[n - 1].second);
        }
      }
      if (tpi == 1) {
        uint64_t tiles = 0;
        for (const auto& op : p.ops) tiles += op.tile_count();
        uint64_t compute = 0;
        for (const auto& in : p.instrs) compute += is_compute(in.opcode);
        CHECK(compute == tiles);
      }
    }
  }
}

TEST_CASE("instruction stream text form round-trips", "[compiler]") {
  for (uint64_t tpi : {0ull, 7ull}) {
    Program p = compile("bert-tiny", "hardware", "edge", tpi);
    std::stringstream a;
    write_program(a, p);
    std::stringstream in(a.str());
    Program q = read_program(in, "roundtrip");
    std::stringstream b;
    write_program(b, q);
    CHECK(a.str() == b.str());
    REQUIRE(q.instrs.size() == p.instrs.size());
    CHECK(q.deps == p.deps);
    CHECK(q.info.loop_order == p.info.loop_order);
    CHECK(q.tensors.back().data_bytes == p.tensors.back().data_bytes);
  }
}

TEST_CASE("instruction stream: names with spaces, '#', '%', '=' or ',' round-trip", "[compiler]") {
  Program p = compile("bert-tiny");
  p.info.model = "my model #2, 50% = x";
  p.info.accelerator = "edge\tboard";
  p.tensors[0].name = "emb word rows";
  std::stringstream a;
  write_program(a, p);
  CHECK(a.str().find("model=my%20model%20%232%2C%2050%25%20%3D%20x ") != std::string::npos);
  std::stringstream in(a.str());
  Program q = read_program(in, "names");
  CHECK(q.info.model == p.info.model);
  CHECK(q.info.accelerator == p.info.accelerator);
  CHECK(q.tensors[0].name == p.tensors[0].name);
  // The checksum covers the whole file: any change after writing is caught.
  std::string text = a.str();
  const auto at = text.find("L0.attn.qkv.w");
  REQUIRE(at != std::string::npos);
  text[at] = 'X';
  std::stringstream changed(text);
  CHECK_THROWS_WITH(read_program(changed, "changed"), Catch::Contains("checksum"));
}

TEST_CASE("readers: BERT-Base from FlexiBERT dict and from config.json agree", "[compiler]") {
  testutil::TempDir d;
  auto cfg = d.write("config.json", R"({
    "architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 768,
    "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
    "vocab_size": 30522, "max_position_embeddings": 512, "hidden_act": "gelu",
    "type_vocab_size": 2, "hidden_dropout_prob": 0.1})");
  testutil::Setup s;
  CompileOptions o;
  auto accel = s.accel("server");
  Program a = compile_program(load_model(testutil::kModels + "/transformers/bert-base.json"), accel,
                              s.tech, o);
  Program b = compile_program(load_model(cfg), accel, s.tech, o);
  a.info.model = b.info.model = "x";
  std::stringstream sa, sb;
  write_program(sa, a);
  write_program(sb, b);
  CHECK(sa.str() == sb.str());
  // Per layer: fused QKV, 12 x (QK^T, softmax, PV), output projection, add, LN, FFN (up, GELU,
  // down), add, LN; plus the embedding add and LN.
  CHECK(a.ops.size() == 2 + 12 * (1 + 12 * 3 + 8));
}

TEST_CASE("heterogeneous heads, per-layer hidden sizes, stacked FFNs compile", "[compiler]") {
  auto m = parse_model_json(
      R"({"l": 2, "o": [["sa_sdp_64", "sa_wma_32", "c_5_64", "l_dft_32"], ["l_dct_16", "sa_sdp_128"]],
          "h": [256, 128], "f": [[512, 256], [1024]]})",
      "hetero.json");
  REQUIRE(m.layers[0].heads[2].type == HeadType::conv);
  REQUIRE(m.layers[0].heads[2].kernel == 5);
  testutil::Setup s;
  Program p = compile_program(m, s.accel("edge"), s.tech, CompileOptions{});
  CHECK(op_named(p, "L0.H1.qwa").k == 32);
  CHECK(op_named(p, "L0.H2.conv").k == 5 * 64);
  CHECK(op_named(p, "L0.H3.dft").m == 32);
  CHECK(op_named(p, "L0.H3.dft").n == 128);
  CHECK(op_named(p, "L1.proj_in").k == 256);
  CHECK(op_named(p, "L1.proj_in").n == 128);
  CHECK(op_named(p, "L0.ffn1.up").k == 512);
  CHECK(op_named(p, "L0.ffn1.up").n == 256);
  CHECK(op_named(p, "L0.ffn.down").k == 256);
  // Fused projection: Q, K, V of the two attention heads, V of the conv and DFT heads.
  CHECK(op_named(p, "L0.attn.qkv").n == 3 * 64 + 3 * 32 + 64 + 32);
  CHECK(op_named(p, "L0.attn.o").k == 64 + 32 + 64 + 32);  // concatenated heads
  CHECK(op_named(p, "L0.attn.add").inputs[1] == op_named(p, "L0.attn.o").output);
  CHECK(op_named(p, "L0.H3.dft").output == op_named(p, "L0.attn.o").inputs[0]);
}

TEST_CASE("BERT-Large batch 32 seq 512 compiles to a compact stream", "[compiler]") {
  testutil::Setup s;
  auto accel = s.accel("server");
  CompileOptions o;
  o.seq_len = 512;
  o.batch = 32;
  accel.batch_size = 32;
  Program p = compile_program(load_model(testutil::kModels + "/transformers/bert-large.json"),
                              accel, s.tech, o);
  auto st = compute_stats(p);
  uint64_t tiles = 0;
  for (auto t : st.tiles) tiles += t;
  CHECK(tiles > 1'000'000'000ull);  // over a billion tile jobs ...
  CHECK(p.instrs.size() < 20'000);  // ... in a few thousand instructions
  const uint64_t B = 32, S = 512, h = 1024, f = 4096;
  const uint64_t per_layer = 4 * B * S * h * h + 2 * B * S * S * h + 2 * B * S * h * f;
  CHECK(st.macs == 24 * per_layer);
}

TEST_CASE("pipeline blocks: rows split only, keeps every tile and >= 2 tiles per unit",
          "[compiler]") {
  testutil::Setup s;
  auto accel = s.accel("edge");
  accel.batch_size = 32;
  const ModelDesc model = load_model(testutil::kModels + "/transformers/bert-tiny.json");
  CompileOptions o;
  o.batch = 32;
  const Program whole = compile_program(model, accel, s.tech, o);
  o.pipeline_blocks = 4;
  const Program split = compile_program(model, accel, s.tech, o);
  REQUIRE(whole.ops.size() == split.ops.size());
  CHECK(compute_stats(whole).tiles == compute_stats(split).tiles);
  int more_rows = 0;
  for (size_t n = 0; n < whole.ops.size(); ++n) {
    const BlockGrid a = block_grid(whole.ops[n]), b = block_grid(split.ops[n]);
    INFO(whole.ops[n].name);
    CHECK(b.count[2] == a.count[2]);  // weights and columns as the buffers chose
    CHECK(b.count[3] == a.count[3]);
    const int64_t rows_a = a.count[0] * a.count[1], rows_b = b.count[0] * b.count[1];
    CHECK(rows_b >= rows_a);
    if (rows_b == rows_a) continue;
    ++more_rows;
    CHECK(rows_b <= 2 * std::max<int64_t>(4, rows_a));  // halved until the target, no further
    CHECK(a.count[2] * a.count[3] == 1);                // an op with weight blocks keeps its rows
    const OpKind kind = split.ops[n].kind;
    const uint64_t units =
        kind == OpKind::softmax      ? static_cast<uint64_t>(accel.pe * accel.softmax_per_pe)
        : kind == OpKind::layer_norm ? static_cast<uint64_t>(accel.pe * accel.layer_norm_per_pe)
                                     : static_cast<uint64_t>(accel.total_lanes());
    CHECK(block_box(split.ops[n], b, 0).tiles() >= 2 * units);
  }
  CHECK(more_rows > 0);
}
