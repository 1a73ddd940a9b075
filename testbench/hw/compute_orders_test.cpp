// BERT-Tiny on AccelTran-Edge under the 24 loop orders, compute engines only (ideal memory:
// LOAD/STORE instructions complete at once; dependencies respected; one transaction per
// tile-job instruction). Two mappings: "spread" = one transaction per instruction with pe = -1
// (chunks of lanes_per_pe tiles to the least-loaded PE); "blocked" = the instruction's tiles cut
// into P contiguous ranges, range p sent with pe = p (so each lane's consecutive tiles are
// lanes_per_pe apart in the loop order). Prints the tables of docs/compute.md.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "acceltran/workload/model.hpp"
#include "compute_common.hpp"

using namespace acceltran;
using compute_test::accel;
using compute_test::models;
using compute_test::tech;

TEST_CASE("compute: BERT-Tiny on Edge under the 24 loop orders (compute only)",
          "[compute][orders]") {
  const ModelDesc model = load_model(models() + "/transformers/bert-tiny.json");
  struct Row {
    std::string order;
    uint64_t cycles, tiles, macs, reads, saved;
    double act_mb, wgt_mb, compute_nj, read_nj;
  };
  std::deque<PeArray> pes;
  std::deque<SoftmaxEngine> sms;
  std::deque<LayerNormEngine> lns;
  for (const bool blocked : {false, true}) {
    std::vector<Row> rows;
    for (const auto& order : LoopOrder::all()) {
      auto cfg = accel("edge");
      cfg.loop_order = order;
      CompileOptions co;
      const Program prog = compile_program(model, cfg, tech(), co);
      const SimOptions so;
      const std::string tag = (blocked ? "blk_" : "spr_") + order.str();
      pes.emplace_back(("o_pe_" + tag).c_str(), cfg, tech(), so);
      sms.emplace_back(("o_sm_" + tag).c_str(), cfg, tech(), so);
      lns.emplace_back(("o_ln_" + tag).c_str(), cfg, tech(), so);
      std::vector<uint64_t> done(prog.instrs.size(), 0);
      uint64_t end = 0;
      for (const auto& in : prog.instrs) {
        uint64_t ready = 0;
        for (auto d = prog.deps_begin(in); d != prog.deps_end(in); ++d)
          ready = std::max(ready, done[*d]);
        uint64_t c = ready;
        if (is_compute(in.opcode)) {
          proto::TileJobExt j;
          describe_op(prog.ops[in.op], in.opcode, prog.info.loop_order, j);
          j.activation_sparsity = prog.info.activation_sparsity;
          j.weight_sparsity = prog.info.weight_sparsity;
          const uint64_t parts = blocked ? static_cast<uint64_t>(cfg.pe) : 1;
          for (uint64_t p = 0; p < parts; ++p) {
            const uint64_t lo = in.tile_count * p / parts, hi = in.tile_count * (p + 1) / parts;
            if (hi == lo) continue;
            j.first_tile = in.first_tile + lo;
            j.tile_count = hi - lo;
            j.pe = blocked ? static_cast<int>(p) : -1;
            uint64_t cp = 0;
            if (in.opcode == Opcode::SOFTMAX)
              cp = sms.back().dispatch(j, ready).completion_cycle;
            else if (in.opcode == Opcode::LAYERNORM)
              cp = lns.back().dispatch(j, ready).completion_cycle;
            else
              cp = pes.back().dispatch(j, ready).completion_cycle;
            c = std::max(c, cp);
          }
        }
        done[in.id] = c;
        end = std::max(end, c);
      }
      const auto s = pes.back().stats();
      rows.push_back(
          {order.str(), end, s.tiles + sms.back().stats().tiles + lns.back().stats().tiles,
           s.dense_macs, s.operand_reads, s.operand_reads_saved(),
           s.activation_read_bytes / 1048576.0, s.weight_read_bytes / 1048576.0,
           s.compute_nj() + sms.back().stats().total_nj() + lns.back().stats().total_nj(),
           s.buffer_read_nj()});
    }
    std::printf("\n%s mapping\n",
                blocked ? "blocked (pe = p, contiguous ranges)" : "spread (pe = -1)");
    std::printf(
        "| order | cycles | tile jobs | operand reads | reads saved | act. read MB | "
        "weight read MB | compute uJ | operand-read uJ | total uJ |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : rows)
      std::printf("| %s | %llu | %llu | %llu | %llu | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                  r.order.c_str(), (unsigned long long)r.cycles, (unsigned long long)r.tiles,
                  (unsigned long long)r.reads, (unsigned long long)r.saved, r.act_mb, r.wgt_mb,
                  r.compute_nj / 1000, r.read_nj / 1000, (r.compute_nj + r.read_nj) / 1000);
    for (const auto& r : rows) {
      INFO(r.order);
      CHECK(r.tiles == rows.front().tiles);  // order-independent
      CHECK(r.macs == rows.front().macs);
      CHECK(r.reads + r.saved == rows.front().reads + rows.front().saved);
    }
    // Orders that keep an operand across consecutive tiles read less than ones that do not.
    auto find = [&](const std::string& o) {
      return *std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.order == o; });
    };
    CHECK(find("b_i_j_k").saved > 0);
    if (blocked) CHECK(find("k_i_j_b").saved > find("k_j_i_b").saved);
  }
}
