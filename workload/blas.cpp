#include "acceltran/workload/blas.hpp"

#include <stdexcept>

#ifdef ACCELTRAN_HAVE_OPENBLAS
#include <cblas.h>
#include <dlfcn.h>
#endif

namespace acceltran::blas {

#ifdef ACCELTRAN_HAVE_OPENBLAS

namespace {

struct Library {
  decltype(&cblas_dgemm) dgemm = nullptr;
  decltype(&cblas_sgemm) sgemm = nullptr;
  std::string description = "portable";
};

Library load() {
  Library l;
  void* library = nullptr;
  for (const char* name : {"libopenblas.so.0", ACCELTRAN_OPENBLAS_LIBRARY}) {
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library) break;
  }
  if (!library) {
    l.description = "portable (OpenBLAS not found at run time)";
    return l;
  }
  auto dgemm = reinterpret_cast<decltype(&cblas_dgemm)>(dlsym(library, "cblas_dgemm"));
  auto sgemm = reinterpret_cast<decltype(&cblas_sgemm)>(dlsym(library, "cblas_sgemm"));
  auto set_threads = reinterpret_cast<decltype(&openblas_set_num_threads)>(
      dlsym(library, "openblas_set_num_threads"));
  auto config =
      reinterpret_cast<decltype(&openblas_get_config)>(dlsym(library, "openblas_get_config"));
  if (!dgemm || !sgemm || !set_threads) {
    l.description =
        "portable (the OpenBLAS library lacks cblas_dgemm, cblas_sgemm or "
        "openblas_set_num_threads)";
    return l;
  }
  set_threads(1);
  l.dgemm = dgemm;
  l.sgemm = sgemm;
  l.description =
      std::string("OpenBLAS, 1 thread") + (config ? std::string(" (") + config() + ")" : "");
  return l;
}

const Library& library() {
  static const Library loaded = load();
  return loaded;
}

blasint as_blasint(int64_t v) {
  return static_cast<blasint>(v);
}

}  // namespace

bool available() {
  return library().dgemm != nullptr;
}
std::string description() {
  return library().description;
}

// cblas_?gemm, row-major, A not transposed.
template <typename Real, typename Gemm>
void row_major_gemm(Gemm gemm, bool transpose_b, int64_t m, int64_t n, int64_t k, Real alpha,
                    const Real* a, int64_t lda, const Real* b, int64_t ldb, Real beta, Real* c,
                    int64_t ldc) {
  if (!available()) throw std::logic_error("blas: a product without OpenBLAS");
  gemm(CblasRowMajor, CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, as_blasint(m),
       as_blasint(n), as_blasint(k), alpha, a, as_blasint(lda), b, as_blasint(ldb), beta, c,
       as_blasint(ldc));
}

void dgemm(bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
           int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  row_major_gemm(library().dgemm, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemm(bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  row_major_gemm(library().sgemm, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#else

bool available() {
  return false;
}
std::string description() {
  return "portable (built without OpenBLAS)";
}
void dgemm(bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*, int64_t,
           double, double*, int64_t) {
  throw std::logic_error("blas::dgemm without OpenBLAS");
}
void sgemm(bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
           float, float*, int64_t) {
  throw std::logic_error("blas::sgemm without OpenBLAS");
}

#endif

}  // namespace acceltran::blas
