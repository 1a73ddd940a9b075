#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "compute_common.hpp"

using namespace acceltran;
using compute_test::accel;
using compute_test::job_for;
using compute_test::make_op;
using compute_test::tech;

TEST_CASE("compute: per-tile MAC-lane latency for tile 8/16/32 and M = 1/16 in both profiles",
          "[compute][pe]") {
  struct Case {
    int tile, macs;
    uint64_t bert, ref_held;
  };
  // bert: 5 + ceil(t^3 * 0.25 / M); reference: ceil(t^3 / M * 0.5) + 1 (held N + 1).
  const Case cases[] = {{8, 1, 133, 257},  {8, 16, 13, 17},      {16, 1, 1029, 2049},
                        {16, 16, 69, 129}, {32, 1, 8197, 16385}, {32, 16, 517, 1025}};
  for (const auto& c : cases) {
    auto cfg = accel("edge");
    cfg.tile = TileShape{1, c.tile, c.tile};
    cfg.mac_per_lane = c.macs;
    SimOptions bert, ref;
    ref.profile = Profile::reference;
    const std::string tag = "t" + std::to_string(c.tile) + "m" + std::to_string(c.macs);
    PeArray pb(("pe_bert_" + tag).c_str(), cfg, tech(), bert);
    PeArray pr(("pe_ref_" + tag).c_str(), cfg, tech(), ref);
    const Op op = make_op(OpKind::matmul, 1, c.tile, c.tile, c.tile, cfg.tile);
    auto j = job_for(op, Opcode::MATMUL, 0, 1, 0, cfg.loop_order);
    INFO("tile " << c.tile << " M " << c.macs);
    CHECK(pb.dispatch(j, 10).completion_cycle == 10 + c.bert);
    CHECK(pr.dispatch(j, 10).completion_cycle == 10 + c.ref_held);
    CHECK(pb.stats().lanes.busy_cycles == c.bert);
    CHECK(pr.stats().lanes.busy_cycles == c.ref_held - 1);  // charged N
    const auto& lf = tech().lane(c.macs, "gelu");
    CHECK(pb.stats().lanes.dynamic_nj == Approx(c.bert * lf.dynamic_mw / 700));
    // bert charges the sparsity units for their mask walk (ceil(t^2 / M) cycles each).
    const uint64_t walk = (uint64_t(c.tile) * c.tile + c.macs - 1) / c.macs;
    CHECK(pb.stats().pre_sparsity.busy_cycles == walk);
    CHECK(pb.stats().post_sparsity.busy_cycles == walk);
    CHECK(pr.stats().pre_sparsity.busy_cycles == 0);
    // Element-wise and activation tiles: bert 5 + ceil(t^2 / M); reference 1 cycle, held 2.
    const Op add = make_op(OpKind::add, 1, c.tile, 1, c.tile, cfg.tile);
    CHECK(pb.tile_timing(job_kind(Opcode::EWISE), 0.5, 0.5).held == 5 + walk);
    CHECK(pb.tile_timing(job_kind(Opcode::ACT), 0.5, 0.5).held == 5 + walk);
    CHECK(pr.tile_timing(job_kind(Opcode::ACT), 0.5, 0.5).held == 2);
    CHECK(pr.tile_timing(job_kind(Opcode::ACT), 0.5, 0.5).charged == 1);
  }
}

TEST_CASE("compute: effectual MACs from masks replace the sparsity estimate", "[compute][pe]") {
  auto cfg = accel("edge");
  PeArray pe("pe_masks", cfg, tech(), SimOptions{});
  const Op op = make_op(OpKind::matmul, 1, 16, 32, 16, cfg.tile);  // 2 tiles (k = 0, 1)
  auto j = job_for(op, Opcode::MATMUL, 0, 2, 0, cfg.loop_order);
  const uint64_t eff[2] = {4096, 100};  // dense tile; sparse tile limited by the mask walk (16)
  const auto r = pe.dispatch(j, 0, eff);
  CHECK(pe.lane_free_cycle(0, 0) == 5 + 256);
  CHECK(pe.lane_free_cycle(0, 1) == 5 + 16);
  CHECK(r.completion_cycle == 261);
  CHECK(pe.stats().effectual_macs == 4196);
}

TEST_CASE("compute: 24 loop orders on 4 lanes of one PE follow the published reuse rule",
          "[compute][pe]") {
  // Reference profile: tiles dealt round-robin to lanes, the published FIFO rule.
  SimOptions ref;
  ref.profile = Profile::reference;
  auto cfg = accel("edge");
  cfg.pe = 1;
  cfg.lanes_per_pe = 4;
  // (4,64,64) x (4,64,64), tile 1x16x16: 4 * 4 * 4 * 4 = 256 tiles.
  const Op op = make_op(OpKind::matmul, 4, 64, 64, 64, cfg.tile, /*batched=*/true);
  REQUIRE(op.tile_count() == 256);
  const double e_act = tech().buffers.at("activation").access_energy_nj * std::sqrt(4.0);
  const double e_mask = tech().buffers.at("mask").access_energy_nj * std::sqrt(1.0);
  const double e_read = 5 * e_act + 1 * e_mask;  // 320 data bytes (5 blocks) + 32 mask bytes

  std::printf("[compute] order     fifo1 fifo2 bcast1 bcast2 reads read_nj\n");
  std::deque<PeArray> arrays;
  for (const auto& order : LoopOrder::all()) {
    arrays.emplace_back(("pe_" + order.str()).c_str(), cfg, tech(), ref);
    PeArray& pe = arrays.back();
    auto j = job_for(op, Opcode::MATMUL, 0, 256, 0, order);
    const auto r = pe.dispatch(j, 0);
    const auto s = pe.stats();
    // Order-independent quantities.
    CHECK(s.tiles == 256);
    CHECK(s.dense_macs == 256ull * 4096);
    CHECK(s.effectual_macs == 256ull * 2048);  // published: (1 - s_a) only
    CHECK(r.completion_cycle == 64 * 129);  // 64 rounds of 129-cycle tiles (N + 1 held) on 4 lanes
    CHECK(s.lanes.busy_cycles == 256 * 128);  // charged N = 4096 / 16 x (1 - 0.5)

    // Independent model of the rule: tile n runs on lane n % 4; tiles 4q..4q+3 start together.
    TileWalker w(op, order);
    uint64_t f1 = 0, f2 = 0, b1 = 0, b2 = 0;
    TileIndex prev[4];
    for (uint64_t n = 0; n < 256; ++n) {
      const TileIndex t = w.at(n);
      const bool has_prev = n >= 4;
      const bool r1 = has_prev && reuses_first(prev[n % 4], t);
      const bool r2 = has_prev && reuses_second(prev[n % 4], t);
      f1 += r1;
      f2 += r2;
      bool s1 = false, s2 = false;
      for (uint64_t m = n - n % 4; m < n; ++m) {  // an earlier tile of the same round
        const TileIndex o = w.at(m);
        const bool o_r1 = m >= 4 && reuses_first(w.at(m - 4), o);
        const bool o_r2 = m >= 4 && reuses_second(w.at(m - 4), o);
        s1 |= !o_r1 && reuses_first(o, t);
        s2 |= !o_r2 && reuses_second(o, t);
      }
      b1 += !r1 && s1;
      b2 += !r2 && s2;
      prev[n % 4] = t;
    }
    INFO(order.str());
    CHECK(s.fifo_reuse_first == f1);
    CHECK(s.fifo_reuse_second == f2);
    CHECK(s.broadcast_first == b1);
    CHECK(s.broadcast_second == b2);
    CHECK(s.operand_reads == 512 - f1 - f2 - b1 - b2);
    CHECK(s.activation_read_nj + s.mask_read_nj == Approx(s.operand_reads * e_read));
    CHECK(s.weight_read_bytes == 0);  // batched second operand comes from the activation buffer
    std::printf("[compute] %s %5llu %5llu %6llu %6llu %5llu %.3f\n", order.str().c_str(),
                (unsigned long long)s.fifo_reuse_first, (unsigned long long)s.fifo_reuse_second,
                (unsigned long long)s.broadcast_first, (unsigned long long)s.broadcast_second,
                (unsigned long long)s.operand_reads, s.buffer_read_nj());
    // The named claims.
    if (order.str() == "b_i_j_k" || order.str() == "k_i_j_b") {
      CHECK(s.fifo_reuse_first == 192);  // every tile with j > 0 keeps its first operand
      CHECK(s.fifo_reuse_second == 0);
    }
    if (order.str() == "b_i_k_j") {
      CHECK(s.fifo_reuse_first + s.fifo_reuse_second == 0);  // nothing through the FIFO ...
      CHECK(s.broadcast_first == 192);  // ... but the 4 j-tiles of a round share operand 1
    }
  }
}

TEST_CASE("compute: partial sums and FIFO traffic of a k-inner and a k-outer order",
          "[compute][pe]") {
  // (1,32,64) x (64,32), tile 1x16x16: grid i = 2, j = 2, k = 4, 16 tiles, on 4 lanes of one PE.
  auto cfg = accel("edge");
  cfg.pe = 1;
  cfg.lanes_per_pe = 4;
  Op op = make_op(OpKind::matmul, 1, 32, 64, 32, cfg.tile);
  REQUIRE(op.tile_count() == 16);
  const uint64_t psum_tile = 256 * 20 / 8;  // 640 bytes: dense 20-bit partial sums
  const uint64_t out_tile = 256 * 20 / 16;  // 320 bytes at 50 % output sparsity
  auto run = [&](const char* order, int fifo_words) {
    cfg.fifo_depth_words = fifo_words;
    static int n = 0;
    PeArray pe(("pe_psum_" + std::to_string(n++)).c_str(), cfg, tech(), SimOptions{});
    auto j = job_for(op, Opcode::MATMUL, 0, 16, -1, LoopOrder::parse(order));
    j.output_sparsity = 0.5;
    j.b_buffer = proto::Buffer::weight;
    const auto r = pe.dispatch(j, 0);
    return std::make_pair(r, pe.stats());
  };
  // Tile: 4096 MACs, (1 - 0.5)(1 - 0.5) effectual -> 64 cycles on 16 MACs; + 5 pipeline = 69.
  {
    // b_i_j_k: runs over k (4 tiles) keep the partial sum in the lane; 4 runs on 4 lanes. The
    // neighbouring lanes' runs differ in j: they share A (b, i, k), which the dataflow module
    // broadcasts to the 2 lanes of each j pair.
    const auto [r, s] = run("b_i_j_k", 32);
    CHECK(r.completion_cycle == 4 * 69);
    CHECK(s.psum_read_bytes == 0);
    CHECK(s.psum_write_bytes == 0);
    CHECK(s.psum_in_lane_tiles == 12);
    CHECK(s.output_write_bytes == 4 * (out_tile + 32));
    CHECK(s.fifo_reuse_first == 0);
    CHECK(s.fifo_reuse_second == 0);
    CHECK(s.broadcast_first == 8);
    CHECK(s.broadcast_second == 0);
    CHECK(s.operand_reads == 16 + 8);
  }
  {
    // k_b_i_j: runs over j (2 tiles), k outermost: every tile but k = 0 reads its partial sum
    // back (12) and every tile but k = 3 writes one (12); 4 final outputs. Neighbouring lanes
    // differ in i: they share B (k, j). A 256-word A tile does not fit a 32-word FIFO.
    const auto [r, s] = run("k_b_i_j", 32);
    CHECK(r.completion_cycle == 4 * 69);
    CHECK(s.psum_read_bytes == 12 * psum_tile);
    CHECK(s.psum_write_bytes == 12 * psum_tile);
    CHECK(s.psum_in_lane_tiles == 0);
    CHECK(s.output_write_bytes == 4 * (out_tile + 32));
    CHECK(s.fifo_reuse_first == 0);
    CHECK(s.broadcast_second == 8);
    CHECK(s.operand_reads == 16 + 8);
  }
  {
    // The same order with a 256-word FIFO: a run over j keeps its A tile (8 runs, 8 reads).
    const auto [r, s] = run("k_b_i_j", 256);
    CHECK(s.fifo_reuse_first == 8);
    CHECK(s.operand_reads == 8 + 8);
    CHECK(s.psum_read_bytes == 12 * psum_tile);
  }
}

namespace {
// BERT-Tiny layer 0 (B = 4, S = 128, h = 128, 2 heads of 64, FFN 512), ops built by hand.
struct TinyLayer {
  std::deque<Op> ops;
  std::vector<Opcode> opcodes;
  void add(const Op& op, Opcode oc) {
    ops.push_back(op);
    ops.back().id = static_cast<OpId>(ops.size() - 1);
    opcodes.push_back(oc);
  }
  explicit TinyLayer(const TileShape& t) {
    for (int h = 0; h < 2; ++h) {
      for (int q = 0; q < 3; ++q) add(make_op(OpKind::matmul, 4, 128, 128, 64, t), Opcode::MATMUL);
      add(make_op(OpKind::matmul, 4, 128, 64, 128, t, true), Opcode::MATMUL);  // Q.K^T
      add(make_op(OpKind::softmax, 4, 128, 1, 128, t), Opcode::SOFTMAX);
      add(make_op(OpKind::matmul, 4, 128, 128, 64, t, true), Opcode::MATMUL);  // P.V
    }
    add(make_op(OpKind::matmul, 4, 128, 128, 128, t), Opcode::MATMUL);  // output projection
    add(make_op(OpKind::add, 4, 128, 1, 128, t), Opcode::EWISE);
    add(make_op(OpKind::layer_norm, 4, 128, 1, 128, t), Opcode::LAYERNORM);
    add(make_op(OpKind::matmul, 4, 128, 128, 512, t), Opcode::MATMUL);  // FFN up
    add(make_op(OpKind::activation, 4, 128, 1, 512, t), Opcode::ACT);   // GELU
    add(make_op(OpKind::matmul, 4, 128, 512, 128, t), Opcode::MATMUL);  // FFN down
    add(make_op(OpKind::add, 4, 128, 1, 128, t), Opcode::EWISE);
    add(make_op(OpKind::layer_norm, 4, 128, 1, 128, t), Opcode::LAYERNORM);
  }
};

struct Engines {
  PeArray pe;
  SoftmaxEngine sm;
  LayerNormEngine ln;
  Engines(const std::string& n, const AcceleratorConfig& c, const SimOptions& o)
      : pe((n + "_pe").c_str(), c, tech(), o),
        sm((n + "_sm").c_str(), c, tech(), o),
        ln((n + "_ln").c_str(), c, tech(), o) {}
  // Runs the layer op after op (each op starts when the previous one completes), dispatching
  // `chunk` tiles per transaction (0 = the whole op). Returns the completion cycle of each op.
  std::vector<uint64_t> run(const TinyLayer& L, const LoopOrder& order, uint64_t chunk) {
    std::vector<uint64_t> done;
    uint64_t now = 0;
    for (size_t o = 0; o < L.ops.size(); ++o) {
      const Op& op = L.ops[o];
      const uint64_t n = op.tile_count(), step = chunk ? chunk : n;
      uint64_t end = now;
      for (uint64_t first = 0; first < n; first += step) {
        auto j = job_for(op, L.opcodes[o], first, std::min(step, n - first), -1, order);
        uint64_t c = 0;
        if (j.kind == proto::JobKind::softmax)
          c = sm.dispatch(j, now).completion_cycle;
        else if (j.kind == proto::JobKind::layer_norm)
          c = ln.dispatch(j, now).completion_cycle;
        else
          c = pe.dispatch(j, now).completion_cycle;
        end = std::max(end, c);
      }
      done.push_back(end);
      now = end;
    }
    return done;
  }
};

void check_equal(const PeArrayStats& a, const PeArrayStats& b) {
  CHECK(a.tiles == b.tiles);
  CHECK(a.dense_macs == b.dense_macs);
  CHECK(a.operand_reads == b.operand_reads);
  CHECK(a.operand_reads_saved() == b.operand_reads_saved());
  CHECK(a.activation_read_bytes == b.activation_read_bytes);
  CHECK(a.weight_read_bytes == b.weight_read_bytes);
  CHECK(a.mask_read_bytes == b.mask_read_bytes);
  CHECK(a.lanes.busy_cycles == b.lanes.busy_cycles);
  CHECK(a.dataflow.busy_cycles == b.dataflow.busy_cycles);
  CHECK(a.compute_nj() == b.compute_nj());  // bit-exact: energies derive from integer counts
  CHECK(a.total_nj() == b.total_nj());
  CHECK(a.last_completion_cycle == b.last_completion_cycle);
}
}  // namespace

TEST_CASE("compute: tile-group dispatch equals per-tile dispatch on BERT-Tiny layer 0",
          "[compute][pe]") {
  const auto cfg = accel("edge");
  const TinyLayer L(cfg.tile);
  uint64_t tiles = 0;
  for (const auto& op : L.ops) tiles += op.tile_count();
  CHECK(tiles == 10 * 1024 + 2 * 256 + 2048 + 256 + 256 + 8192 + 1024 + 8192 + 256 + 256);
  for (Profile prof : {Profile::hardware, Profile::reference}) {
    SimOptions o;
    o.profile = prof;
    const std::string p = prof == Profile::hardware ? "b" : "r";
    Engines group("group_" + p, cfg, o), single("single_" + p, cfg, o), mixed("mixed_" + p, cfg, o);
    const auto dg = group.run(L, cfg.loop_order, 0);
    const auto ds = single.run(L, cfg.loop_order, 1);
    const auto dm = mixed.run(L, cfg.loop_order, 37);
    CHECK(dg == ds);
    CHECK(dg == dm);
    check_equal(group.pe.stats(), single.pe.stats());
    check_equal(group.pe.stats(), mixed.pe.stats());
    CHECK(group.sm.stats().total_nj() == single.sm.stats().total_nj());
    CHECK(group.ln.stats().total_nj() == single.ln.stats().total_nj());
    const auto s = group.pe.stats(dg.back());
    std::printf(
        "[compute] BERT-Tiny layer 0 (%s, edge, b_i_j_k): %llu cycles, %llu lane tiles, "
        "%.1f nJ compute, %.1f nJ operand reads, %llu reads saved\n",
        p.c_str(), (unsigned long long)dg.back(), (unsigned long long)s.tiles,
        s.compute_nj() + group.sm.stats().total_nj() + group.ln.stats().total_nj(),
        s.buffer_read_nj(), (unsigned long long)s.operand_reads_saved());
  }
}

TEST_CASE("compute: idle leakage is charged only when enabled", "[compute][pe]") {
  auto cfg = accel("edge");
  SimOptions gated, leaky;
  leaky.leakage_when_idle = true;
  PeArray a("pe_gated", cfg, tech(), gated), b("pe_leaky", cfg, tech(), leaky);
  const Op op = make_op(OpKind::matmul, 1, 16, 16, 16, cfg.tile);
  auto j = job_for(op, Opcode::MATMUL, 0, 1, 0, cfg.loop_order);
  a.dispatch(j, 0);
  b.dispatch(j, 0);
  const uint64_t elapsed = 1000;
  CHECK(a.stats(elapsed).lanes.idle_leakage_nj == 0);
  const auto s = b.stats(elapsed);
  const double leak = tech().lane(16, "gelu").leakage_mw / 700;
  CHECK(s.lanes.idle_leakage_nj == Approx((1024.0 * elapsed - 69) * leak));
  CHECK(s.lanes.leakage_nj == Approx(1024.0 * elapsed * leak));
  CHECK(s.dataflow.idle_leakage_nj > 0);
}
