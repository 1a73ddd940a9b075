// The functional data path's matrix product (hw/compute/exact_gemm.hpp): the kernel the build
// uses (OpenBLAS dgemm when found), with B as is or transposed, gives the same bits as the portable
// kernel and as exact integer arithmetic, on random and saturating Q4.16 operands, at every
// reduction depth of the shipped models and at the exactness bound 2^15; deeper ops keep the
// portable kernel's order.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "acceltran/hw/compute/exact_gemm.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/workload/model.hpp"
#include "compute_common.hpp"

using namespace acceltran;

namespace {

struct Operands {
  int64_t R, K, N, ldo;
  std::vector<double> A, B, out;  // out: R rows of ldo, its first N columns accumulated
};

// Random Q4.16 words (the full 20-bit range), a fraction `zeros` of them 0.
Operands random_operands(int64_t R, int64_t K, int64_t N, double zeros, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> word(fx::kMin, fx::kMax);
  std::bernoulli_distribution zero(zeros);
  auto draw = [&] { return zero(rng) ? 0.0 : static_cast<double>(word(rng)); };
  Operands o{R, K, N, N + 3, {}, {}, {}};
  for (int64_t n = 0; n < R * K; ++n) o.A.push_back(draw());
  for (int64_t n = 0; n < K * N; ++n) o.B.push_back(draw());
  for (int64_t n = 0; n < R * o.ldo; ++n) o.out.push_back(draw());  // a running accumulation
  return o;
}

Operands filled(int64_t R, int64_t K, int64_t N, int32_t a, int32_t b) {
  return Operands{R,
                  K,
                  N,
                  N,
                  std::vector<double>(static_cast<size_t>(R * K), a),
                  std::vector<double>(static_cast<size_t>(K * N), b),
                  std::vector<double>(static_cast<size_t>(R * N), 0.0)};
}

// out + A B in int64 (every value here stays below 2^63).
std::vector<double> integer_reference(const Operands& o) {
  std::vector<double> ref = o.out;
  for (int64_t r = 0; r < o.R; ++r)
    for (int64_t c = 0; c < o.N; ++c) {
      int64_t sum = static_cast<int64_t>(o.out[static_cast<size_t>(r * o.ldo + c)]);
      for (int64_t k = 0; k < o.K; ++k)
        sum += static_cast<int64_t>(o.A[static_cast<size_t>(r * o.K + k)]) *
               static_cast<int64_t>(o.B[static_cast<size_t>(k * o.N + c)]);
      ref[static_cast<size_t>(r * o.ldo + c)] = static_cast<double>(sum);
    }
  return ref;
}

// The build's kernel, with B as is and given transposed (an output-major operand), against the
// portable one and the integer sums: the same bits.
void check_bit_identical(const Operands& o) {
  std::vector<double> built = o.out, portable = o.out, transposed = o.out;
  exact_gemm_accumulate(o.R, o.K, o.N, o.K, o.A.data(), o.B.data(), built.data(), o.ldo);
  exact_gemm_portable(o.R, o.K, o.N, o.A.data(), o.B.data(), portable.data(), o.ldo);
  std::vector<double> bt(o.B.size());
  for (int64_t k = 0; k < o.K; ++k)
    for (int64_t c = 0; c < o.N; ++c)
      bt[static_cast<size_t>(c * o.K + k)] = o.B[static_cast<size_t>(k * o.N + c)];
  exact_gemm_accumulate_transposed(o.R, o.K, o.N, o.K, o.A.data(), bt.data(), transposed.data(),
                                   o.ldo);
  const std::vector<double> ref = integer_reference(o);
  INFO("R " << o.R << " K " << o.K << " N " << o.N << ", kernel " << exact_gemm_kernel());
  REQUIRE(std::memcmp(built.data(), portable.data(), built.size() * sizeof(double)) == 0);
  REQUIRE(std::memcmp(built.data(), ref.data(), built.size() * sizeof(double)) == 0);
  REQUIRE(std::memcmp(transposed.data(), ref.data(), built.size() * sizeof(double)) == 0);
}

// The deepest reduction of the shipped models: hidden and feed-forward sizes, head dimensions,
// and the sequence length (attention's probabilities x values), at most max_position.
int64_t deepest_model_reduction() {
  int64_t deepest = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(compute_test::models() + "/transformers")) {
    const ModelDesc model = load_model(entry.path().string());
    deepest = std::max(deepest, model.max_position);
    for (const LayerDesc& layer : model.layers) {
      deepest = std::max(deepest, layer.hidden);
      for (int64_t f : layer.ffn) deepest = std::max(deepest, f);
      for (const HeadDesc& head : layer.heads) deepest = std::max(deepest, head.dim);
    }
  }
  return deepest;
}

}  // namespace

TEST_CASE("compute: exact GEMM, a build configured with OpenBLAS runs it", "[compute][gemm]") {
  INFO("kernel: " << exact_gemm_kernel());
  CHECK(exact_gemm_has_blas() == static_cast<bool>(ACCELTRAN_EXPECT_OPENBLAS));
}

TEST_CASE("compute: exact GEMM, random operands give the portable kernel's bits",
          "[compute][gemm]") {
  std::mt19937_64 rng(20);
  for (int64_t R : {1, 5, 64, 130})
    for (int64_t N : {1, 7, 64, 257})
      for (int64_t K : {1, 3, 64, 100, 768})
        for (double zeros : {0.0, 0.5, 0.95})
          check_bit_identical(random_operands(R, K, N, zeros, rng));
}

TEST_CASE("compute: exact GEMM, saturating operands up to the largest model's depth",
          "[compute][gemm]") {
  const int64_t deepest = deepest_model_reduction();
  CHECK(deepest >= 4096);  // BERT-Large's feed-forward size
  std::mt19937_64 rng(4096);
  for (int64_t K : {deepest / 2, deepest}) {
    check_bit_identical(filled(3, K, 5, fx::kMin, fx::kMin));  // every product +2^38
    check_bit_identical(filled(3, K, 5, fx::kMin, fx::kMax));  // every product negative
    Operands mixed = random_operands(9, K, 33, 0.3, rng);
    for (double& x : mixed.A) x = x < 0 ? fx::kMin : fx::kMax;
    for (double& x : mixed.B) x = x < 0 ? fx::kMin : fx::kMax;
    check_bit_identical(mixed);
  }
}

TEST_CASE("compute: exact GEMM at the exactness bound, depth 2^15", "[compute][gemm]") {
  // 2^15 products of (-2^19)^2: the sum is 2^53, the largest the bound allows, still exact.
  Operands o = filled(2, kExactGemmDepth, 3, fx::kMin, fx::kMin);
  check_bit_identical(o);
  std::vector<double> out = o.out;
  exact_gemm_accumulate(o.R, o.K, o.N, o.K, o.A.data(), o.B.data(), out.data(), o.ldo);
  for (double x : out) REQUIRE(x == 9007199254740992.0);  // 2^53
  std::mt19937_64 rng(15);
  Operands mixed = random_operands(2, kExactGemmDepth, 3, 0.0, rng);
  check_bit_identical(mixed);
}

TEST_CASE("compute: exact GEMM, an op deeper than 2^15 keeps the portable kernel's order",
          "[compute][gemm]") {
  // Past 2^53 the order of the sums matters: 2^53 + 1 rounds back to 2^53 (ties to even), so
  // adding 1 sixteen times one by one gives 2^53, and adding their sum 16 gives 2^53 + 16.
  Operands o = filled(1, 16, 1, 1, 1);
  o.out[0] = 9007199254740992.0;
  exact_gemm_accumulate(o.R, o.K, o.N, kExactGemmDepth + 1, o.A.data(), o.B.data(), o.out.data(),
                        o.ldo);
  REQUIRE(o.out[0] == 9007199254740992.0);
}
