#include "acceltran/hw/compute/exact_gemm.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "acceltran/workload/blas.hpp"

namespace acceltran {

// Compiled for AVX-512, AVX2 and baseline x86-64, chosen at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void exact_gemm_portable(int64_t R, int64_t K, int64_t N, const double* A, const double* B,
                         double* out, int64_t ldo) {
  constexpr int64_t kNb = 256, kKb = 64;
  for (int64_t n0 = 0; n0 < N; n0 += kNb) {
    const int64_t n1 = std::min(N, n0 + kNb);
    for (int64_t k0 = 0; k0 < K; k0 += kKb) {
      const int64_t k1 = std::min(K, k0 + kKb);
      for (int64_t r = 0; r < R; ++r) {
        double* __restrict o = out + r * ldo;
        const double* ar = A + r * K;
        for (int64_t kk = k0; kk < k1; ++kk) {
          const double x = ar[kk];
          if (x == 0) continue;
          const double* __restrict br = B + kk * N;
          for (int64_t c = n0; c < n1; ++c) o[c] += x * br[c];
        }
      }
    }
  }
}

void exact_gemm_accumulate(int64_t R, int64_t K, int64_t N, int64_t depth, const double* A,
                           const double* B, double* out, int64_t ldo) {
  if (R <= 0 || N <= 0 || K <= 0) return;
  if (!blas::available() || depth > kExactGemmDepth) {
    exact_gemm_portable(R, K, N, A, B, out, ldo);
    return;
  }
  blas::dgemm(false, R, N, K, 1.0, A, K, B, N, 1.0, out, ldo);
}

void exact_gemm_accumulate_transposed(int64_t R, int64_t K, int64_t N, int64_t depth,
                                      const double* A, const double* Bt, double* out, int64_t ldo) {
  if (R <= 0 || N <= 0 || K <= 0) return;
  if (blas::available() && depth <= kExactGemmDepth) {
    blas::dgemm(true, R, N, K, 1.0, A, K, Bt, K, 1.0, out, ldo);
    return;
  }
  std::vector<double> b(static_cast<size_t>(K * N));  // the portable kernel's layout
  for (int64_t c = 0; c < N; ++c)
    for (int64_t k = 0; k < K; ++k) b[static_cast<size_t>(k * N + c)] = Bt[c * K + k];
  exact_gemm_portable(R, K, N, A, b.data(), out, ldo);
}

std::string exact_gemm_kernel() {
  return blas::available() ? "dgemm of " + blas::description() : blas::description();
}
bool exact_gemm_has_blas() {
  return blas::available();
}

}  // namespace acceltran
