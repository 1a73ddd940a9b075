#include "acceltran/hw/compute/exact_gemm.hpp"

#include <algorithm>
#include <string>

#ifdef ACCELTRAN_HAVE_OPENBLAS
#include <cblas.h>
#include <dlfcn.h>
#endif

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

#ifdef ACCELTRAN_HAVE_OPENBLAS

namespace {

// OpenBLAS, loaded at the first product of a run (dlopen): loading it starts its thread pool,
// whose workers spin for a while, which would cost every process (a sweep point, a performance
// run) several ms of CPU although only functional runs multiply matrices.
struct Blas {
  decltype(&cblas_dgemm) dgemm = nullptr;
  std::string kernel = "portable";
};

const Blas& blas() {
  static const Blas loaded = [] {
    Blas b;
    void* library = nullptr;
    for (const char* name : {"libopenblas.so.0", ACCELTRAN_OPENBLAS_LIBRARY}) {
      library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (library) break;
    }
    if (!library) {
      b.kernel = "portable (OpenBLAS not found at run time)";
      return b;
    }
    auto dgemm = reinterpret_cast<decltype(&cblas_dgemm)>(dlsym(library, "cblas_dgemm"));
    auto set_threads = reinterpret_cast<decltype(&openblas_set_num_threads)>(
        dlsym(library, "openblas_set_num_threads"));
    auto config =
        reinterpret_cast<decltype(&openblas_get_config)>(dlsym(library, "openblas_get_config"));
    if (!dgemm || !set_threads) {
      b.kernel = "portable (the OpenBLAS library lacks cblas_dgemm or openblas_set_num_threads)";
      return b;
    }
    // One BLAS thread: a functional run already keeps both cores busy (the data path on the
    // main thread, the float reference on its own), and a sweep runs one process per core; BLAS
    // threads on top would only contend for them (docs/compute.md, "Exact matrix products").
    set_threads(1);
    b.dgemm = dgemm;
    b.kernel = std::string("OpenBLAS dgemm, 1 thread") +
               (config ? std::string(" (") + config() + ")" : "");
    return b;
  }();
  return loaded;
}

}  // namespace

void exact_gemm_accumulate(int64_t R, int64_t K, int64_t N, int64_t depth, const double* A,
                           const double* B, double* out, int64_t ldo) {
  if (R <= 0 || N <= 0 || K <= 0) return;
  const Blas& b = blas();
  if (!b.dgemm || depth > kExactGemmDepth) {
    exact_gemm_portable(R, K, N, A, B, out, ldo);
    return;
  }
  b.dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(R),
          static_cast<blasint>(N), static_cast<blasint>(K), 1.0, A, static_cast<blasint>(K), B,
          static_cast<blasint>(N), 1.0, out, static_cast<blasint>(ldo));
}

std::string exact_gemm_kernel() {
  return blas().kernel;
}
bool exact_gemm_has_blas() {
  return blas().dgemm != nullptr;
}

#else

void exact_gemm_accumulate(int64_t R, int64_t K, int64_t N, int64_t, const double* A,
                           const double* B, double* out, int64_t ldo) {
  exact_gemm_portable(R, K, N, A, B, out, ldo);
}

std::string exact_gemm_kernel() {
  return "portable";
}
bool exact_gemm_has_blas() {
  return false;
}

#endif

}  // namespace acceltran
