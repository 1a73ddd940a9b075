// OpenBLAS for the functional runs' matrix products: the data path's exact Q4.16 products
// (dgemm, hw/compute/exact_gemm.hpp) and the float reference's (sgemm, float_reference.cpp).
//
// Built for OpenBLAS when CMake finds it (cmake/AccelTranBlas.cmake), the library is loaded
// (dlopen) at the first product of a run, not linked: loading it starts its thread pool, which
// would cost every process (a sweep point, a performance run) several ms of CPU although only
// functional runs multiply matrices. One BLAS thread: a functional run already keeps both cores
// busy (the data path on the main thread, the float reference on its own).
#pragma once
#include <cstdint>
#include <string>

namespace acceltran::blas {

// True when OpenBLAS is in use (built with it and found at run time); the first call loads it.
bool available();
// What the products run on: "OpenBLAS, 1 thread (<its configuration>)", or why not.
std::string description();

// Row-major C (m x n, ldc) = alpha A (m x k, lda) op(B) + beta C, op(B) = B (k x n, ldb) or,
// with transpose_b, B^T for B stored n x k (ldb). Only when available().
void dgemm(bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
           int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);
void sgemm(bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace acceltran::blas
