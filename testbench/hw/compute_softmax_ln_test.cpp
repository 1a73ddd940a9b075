#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "compute_common.hpp"

using namespace acceltran;
using compute_test::accel;
using compute_test::tech;

namespace {
std::vector<int32_t> random_block(int rows, int cols, double lo, double hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<int32_t> v(static_cast<size_t>(rows) * cols);
  for (auto& x : v) x = fx::from_double(d(rng));
  return v;
}
}  // namespace

TEST_CASE("compute: Q4.16 exp approximation error vs double", "[compute][softmax]") {
  double max_abs = 0, max_rel = 0;
  for (int32_t x = 0; x >= fx::kMin; x -= 7) {
    const double ref = std::exp(fx::to_double(x));
    const double got = fx::to_double(fx::exp_neg(x));
    max_abs = std::max(max_abs, std::abs(got - ref));
    if (ref > 0.1) max_rel = std::max(max_rel, std::abs(got - ref) / ref);
  }
  std::printf("[compute] exp_neg: max abs error %.3g, max rel error (e^x > 0.1) %.3g\n", max_abs,
              max_rel);
  CHECK(fx::exp_neg(0) == fx::kOne);
  CHECK(max_abs < 1.6e-4);  // measured 1.4e-4 (cubic 2^f fit) + rounding
  CHECK(max_rel < 3e-4);
}

TEST_CASE("compute: softmax rows sum to 1 within 2^-10", "[compute][softmax]") {
  double worst_sum = 0, worst_err = 0;
  for (int cols : {16, 64, 128}) {
    for (unsigned seed = 1; seed <= 4; ++seed) {
      const int rows = 16;
      const auto in = random_block(rows, cols, -8.0, 7.99, seed * 31 + cols);
      const auto out = fx::softmax(in, rows, cols);
      for (int r = 0; r < rows; ++r) {
        double mx = -1e9, den = 0, sum = 0;
        for (int c = 0; c < cols; ++c) mx = std::max(mx, fx::to_double(in[r * cols + c]));
        for (int c = 0; c < cols; ++c) den += std::exp(fx::to_double(in[r * cols + c]) - mx);
        for (int c = 0; c < cols; ++c) {
          const double ref = std::exp(fx::to_double(in[r * cols + c]) - mx) / den;
          const double got = fx::to_double(out[r * cols + c]);
          worst_err = std::max(worst_err, std::abs(got - ref));
          sum += got;
        }
        worst_sum = std::max(worst_sum, std::abs(sum - 1.0));
      }
    }
  }
  std::printf("[compute] softmax: max |row sum - 1| %.3g, max abs error %.3g\n", worst_sum,
              worst_err);
  CHECK(worst_sum <= std::ldexp(1.0, -10));
  CHECK(worst_err <= std::ldexp(1.0, -12));
  // Equal inputs: uniform distribution, exactly representable 1/16.
  const std::vector<int32_t> flat(16, fx::from_double(3.0));
  const auto u = fx::softmax(flat, 1, 16);
  for (int32_t v : u) CHECK(v == fx::kOne / 16);
}

TEST_CASE("compute: layer norm output has mean 0 and variance 1", "[compute][layernorm]") {
  double worst_mean = 0, worst_var = 0, worst_err = 0;
  for (int cols : {16, 64, 128}) {
    for (unsigned seed = 1; seed <= 4; ++seed) {
      const int rows = 16;
      const double scale = 0.05 * seed * seed;  // small and large spreads
      auto in = random_block(rows, cols, -scale, 2 * scale, seed * 17 + cols);
      const auto out = fx::layer_norm(in, rows, cols);
      for (int r = 0; r < rows; ++r) {
        double m = 0, v = 0, om = 0, ov = 0;
        for (int c = 0; c < cols; ++c) m += fx::to_double(in[r * cols + c]);
        m /= cols;
        for (int c = 0; c < cols; ++c) v += std::pow(fx::to_double(in[r * cols + c]) - m, 2);
        v /= cols;
        for (int c = 0; c < cols; ++c) {
          const double ref = (fx::to_double(in[r * cols + c]) - m) / std::sqrt(v + 1.0 / 65536);
          const double got = fx::to_double(out[r * cols + c]);
          worst_err = std::max(worst_err, std::abs(got - ref));
          om += got;
        }
        om /= cols;
        for (int c = 0; c < cols; ++c) ov += std::pow(fx::to_double(out[r * cols + c]) - om, 2);
        ov /= cols;
        worst_mean = std::max(worst_mean, std::abs(om));
        // eps = 2^-16 lowers the variance to v / (v + eps).
        worst_var = std::max(worst_var, std::abs(ov - v / (v + 1.0 / 65536)));
      }
    }
  }
  std::printf(
      "[compute] layer norm: max |mean| %.3g, max |var - v/(v+eps)| %.3g, max abs error "
      "%.3g\n",
      worst_mean, worst_var, worst_err);
  CHECK(worst_mean <= std::ldexp(1.0, -14));
  CHECK(worst_var <= std::ldexp(1.0, -12));
  CHECK(worst_err <= std::ldexp(1.0, -14));
  // A constant row normalizes to zeros.
  const std::vector<int32_t> flat(16, fx::from_double(-1.5));
  for (int32_t v : fx::layer_norm(flat, 1, 16)) CHECK(v == 0);
}

TEST_CASE("compute: softmax and layer-norm tile timing and module pools", "[compute][softmax]") {
  auto cfg = accel("edge");  // 64 PEs, 4 softmax modules and 1 layer-norm module per PE
  SimOptions bert, ref;
  ref.profile = Profile::reference;
  SoftmaxEngine sm("sm", cfg, tech(), bert), sm_ref("sm_ref", cfg, tech(), ref);
  LayerNormEngine ln("ln", cfg, tech(), bert), ln_ref("ln_ref", cfg, tech(), ref);
  // tile 16: bert softmax 16 + 2*4 + 3 = 27; reference ceil(256 * 0.5) = 128 (held 129).
  CHECK(sm.tile_timing(0.5).held == 27);
  CHECK(sm_ref.tile_timing(0.5).held == 129);
  CHECK(sm_ref.tile_timing(0.5).charged == 128);
  // layer norm: bert 16 + 4 + 7 = 27; reference ceil(1 * 32 * 0.5) = 16 (held 17).
  CHECK(ln.tile_timing(0.5).held == 27);
  CHECK(ln_ref.tile_timing(0.5).held == 17);
  CHECK(ln_ref.tile_timing(0.5).charged == 16);

  const Op sop = compute_test::make_op(OpKind::softmax, 4, 128, 1, 128, cfg.tile);
  REQUIRE(sop.tile_count() == 256);
  proto::TileJobExt job = compute_test::job_for(sop, Opcode::SOFTMAX, 0, 9, -1, LoopOrder{});
  job.pe = 3;  // 9 tiles on the 4 modules of PE 3: three rounds of 27 cycles
  const auto r = sm.dispatch(job, 100);
  CHECK(r.first_start_cycle == 100);
  CHECK(r.completion_cycle == 100 + 3 * 27);
  CHECK(sm.unit_free_cycle(3, 0) == 100 + 3 * 27);
  CHECK(sm.unit_free_cycle(3, 1) == 100 + 2 * 27);
  CHECK(sm.unit_free_cycle(2, 0) == 0);
  // pe = -1: 256 tiles over 256 modules, one round.
  proto::TileJobExt all = job;
  all.pe = -1;
  all.first_tile = 0;
  all.tile_count = 256;
  const auto ra = sm.dispatch(all, 200);
  CHECK(ra.completion_cycle == 200 + 27);
  const auto s = sm.stats();
  CHECK(s.tiles == 265);
  CHECK(s.units.busy_cycles == 265 * 27);
  const auto& f = tech().softmax_for(16);
  CHECK(s.units.dynamic_nj == Approx(265.0 * 27 * f.dynamic_mw / 700));
  CHECK(s.units.leakage_nj == Approx(265.0 * 27 * f.leakage_mw / 700));
  // Layer norm: one module per PE; two tiles on PE 0 are serialized.
  proto::TileJobExt lj = job;
  lj.kind = proto::JobKind::layer_norm;
  lj.pe = 0;
  lj.tile_count = 2;
  CHECK(ln.dispatch(lj, 0).completion_cycle == 54);
  CHECK(ln_ref.dispatch(lj, 0).completion_cycle == 34);
  CHECK(ln_ref.stats().units.busy_cycles == 32);  // charged N per tile, held N + 1
  // Wrong opcode is rejected.
  CHECK_THROWS_AS(ln.dispatch(job, 0), std::invalid_argument);
}
