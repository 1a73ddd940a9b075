#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "acceltran/hw/compute/dynatran.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"

using namespace acceltran;

TEST_CASE("compute: DynaTran prune boundary vectors are bit-exact", "[compute][dynatran]") {
  const int32_t tau = 256;  // 2^-8 in Q4.16
  const std::vector<int32_t> x = {256, 257, 255, -256, -257, -255, fx::kMin, fx::kMax, 0, 1, -1};
  const auto r = dynatran::prune(x, tau);
  const std::vector<int32_t> pruned = {0, 257, 0, 0, -257, 0, fx::kMin, fx::kMax, 0, 0, 0};
  const std::vector<uint8_t> mask = {0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0};
  const std::vector<int32_t> compact = {257, -257, fx::kMin, fx::kMax};
  CHECK(r.pruned == pruned);
  CHECK(r.mask == mask);
  CHECK(r.compact == compact);
  CHECK(r.zeros == 7);
  CHECK(dynatran::count_kept(x.data(), x.size(), tau) == 4);
  CHECK(dynatran::expand(r.compact, r.mask) == r.pruned);

  // tau = 0: every non-zero value is kept, zeros are masked.
  const auto z = dynatran::prune(x, 0);
  CHECK(z.zeros == 1);
  CHECK(z.mask[8] == 0);
  CHECK(z.pruned ==
        std::vector<int32_t>({256, 257, 255, -256, -257, -255, fx::kMin, fx::kMax, 0, 1, -1}));
  // tau = the largest value: only the most negative value survives (|-2^19| = 2^19 > 2^19 - 1).
  const auto m = dynatran::prune(x, fx::kMax);
  CHECK(m.compact == std::vector<int32_t>({fx::kMin}));
  CHECK(m.zeros == x.size() - 1);
  CHECK(fx::abs_wide(fx::kMin) == (1 << 19));
}

TEST_CASE("compute: pre-sparsity AND of masks and effectual MACs", "[compute][dynatran]") {
  const std::vector<uint8_t> a = {1, 0, 1, 1, 0, 1};
  const std::vector<uint8_t> b = {1, 1, 0, 1, 0, 0};
  CHECK(dynatran::and_masks(a, b) == std::vector<uint8_t>({1, 0, 0, 1, 0, 0}));
  CHECK(dynatran::effectual_pairs(a.data(), b.data(), a.size()) == 2);

  // Random 16x16 x 16x16 tile pair: closed form equals brute force.
  std::mt19937 rng(7);
  std::bernoulli_distribution keep(0.4);
  const int n = 16;
  std::vector<uint8_t> am(n * n), wm(n * n);
  for (auto& v : am) v = keep(rng);
  for (auto& v : wm) v = keep(rng);
  uint64_t brute = 0;
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c)
      for (int k = 0; k < n; ++k) brute += am[r * n + k] & wm[k * n + c];
  CHECK(dynatran::effectual_macs(am.data(), n, n, wm.data(), n) == brute);
  CHECK(dynatran::mask_walk_cycles(256, 16) == 16);
  CHECK(dynatran::mask_walk_cycles(256, 1) == 256);
  CHECK(dynatran::mask_walk_cycles(17, 16) == 2);
}

TEST_CASE("compute: top-k keeps the k largest magnitudes per row", "[compute][dynatran]") {
  const std::vector<int32_t> x = {5, -9, 3, 9, 0, /* row 2 */ 1, 2, 3, 4, 5};
  const auto r2 = dynatran::topk_prune(x.data(), 2, 5, 2);
  CHECK(r2.pruned == std::vector<int32_t>({0, -9, 0, 9, 0, 0, 0, 0, 4, 5}));
  CHECK(r2.zeros == 6);
  const auto r3 = dynatran::topk_prune(x.data(), 2, 5, 3);
  CHECK(r3.pruned == std::vector<int32_t>({5, -9, 0, 9, 0, 0, 0, 3, 4, 5}));
  // Bitonic network over 16 elements: 4 * 5 / 2 = 10 stages; 16 rows pipelined: 25 cycles.
  CHECK(dynatran::bitonic_stages(16) == 10);
  CHECK(dynatran::topk_latency_cycles(16, 16) == 25);
  CHECK(dynatran::bitonic_stages(128) == 28);
  CHECK(dynatran::dynatran_latency_cycles(16, 16, 16) == 16);
}
