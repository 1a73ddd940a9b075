// The MAC lanes' matrix product in the functional data path: out += A B on Q4.16 words held in
// double. Every operand is an integer in [-2^19, 2^19 - 1] (a saturated 20-bit word), so every
// product is an integer of magnitude at most 2^38 and, while the op's whole reduction depth K is
// at most 2^15, every partial sum is an integer of magnitude at most 2^53: each addition is
// exact, and the result does not depend on the order of the sums, the blocking or fused
// multiply-adds. A BLAS dgemm therefore gives the same bits as the plain loop
// (docs/compute.md, "Exact matrix products").
//
// OpenBLAS's dgemm when the build found it and a run can load it (workload/blas.hpp); otherwise,
// and for an op deeper than kExactGemmDepth, the portable kernel below.
#pragma once
#include <cstdint>
#include <string>

namespace acceltran {

// The deepest reduction for which K x 2^38 <= 2^53: every partial sum exact in double.
constexpr int64_t kExactGemmDepth = int64_t{1} << 15;

// out (R x N, row stride ldo) += A (R x K) B (K x N), all row-major. `depth` is the reduction
// length of the whole op (the sum `out` accumulates over every call), at least K. Uses BLAS
// when built with it and depth <= kExactGemmDepth, else exact_gemm_portable.
void exact_gemm_accumulate(int64_t R, int64_t K, int64_t N, int64_t depth, const double* A,
                           const double* B, double* out, int64_t ldo);

// The same with B given transposed: Bt (N x K, row-major) holds B's columns as rows (an operand
// stored output-major, as a linear layer's [out, in] weight). Same bits as exact_gemm_accumulate
// on B = Bt^T.
void exact_gemm_accumulate_transposed(int64_t R, int64_t K, int64_t N, int64_t depth,
                                      const double* A, const double* Bt, double* out, int64_t ldo);

// The portable kernel (the data path's kernel before BLAS): blocked so a panel of B stays in
// cache, zeros of A skipped; the sums in a fixed order.
void exact_gemm_portable(int64_t R, int64_t K, int64_t N, const double* A, const double* B,
                         double* out, int64_t ldo);

// What exact_gemm_accumulate runs: "dgemm of OpenBLAS, 1 thread (<its configuration>)", or
// "portable" and why. The first call loads OpenBLAS.
std::string exact_gemm_kernel();
// True when OpenBLAS is in use (built with it and found at run time).
bool exact_gemm_has_blas();

}  // namespace acceltran
