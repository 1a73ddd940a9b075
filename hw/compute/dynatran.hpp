// DynaTran: the per-lane sparsity units (functional model and timing/energy formulas).
//
// Post-sparsity unit (DynaTran proper): compares every output element with the threshold tau
// (Q4.16) and keeps x iff |x| > tau; writes the pruned tile, its 1-bit mask, and the zero-free
// compacted form (the non-zero values in row-major order). Pre-sparsity unit: ANDs the masks of
// the two operands so only effectual pairs (both non-zero) reach the multipliers.
//
// These units live inside every MAC lane; the PeArray charges their time and energy on every lane
// job (see docs/compute.md). This header is plain C++ (no SystemC).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace acceltran::dynatran {

struct PruneResult {
  std::vector<int32_t> pruned;   // same shape as the input, pruned values set to 0
  std::vector<uint8_t> mask;     // 1 = kept (non-zero after pruning), 0 = pruned / zero
  std::vector<int32_t> compact;  // zero-free form: the kept values in order
  uint64_t zeros = 0;            // number of zero elements in `pruned`
};

// keep x iff |x| > tau. |x| is computed in 32 bits, so the most negative Q4.16 value
// (-2^19) has |x| = 2^19 and no overflow. A kept value that is exactly 0 cannot exist
// (|0| > tau needs tau < 0); with tau < 0 everything non-zero is kept and zeros stay masked 0.
PruneResult prune(const int32_t* x, size_t n, int32_t tau);
inline PruneResult prune(const std::vector<int32_t>& x, int32_t tau) {
  return prune(x.data(), x.size(), tau);
}
// Allocation-free count of the elements that survive pruning.
uint64_t count_kept(const int32_t* x, size_t n, int32_t tau);
// Rebuilds the dense tile from the zero-free form and the mask.
std::vector<int32_t> expand(const std::vector<int32_t>& compact, const std::vector<uint8_t>& mask);

// Pre-sparsity: element-wise AND of two masks and the number of effectual pairs (both 1).
std::vector<uint8_t> and_masks(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);
uint64_t effectual_pairs(const uint8_t* a, const uint8_t* b, size_t n);
// Effectual multiplications of a tile product (rows x inner) x (inner x cols), row-major masks:
// sum over r, c, k of a[r][k] & w[k][c] = sum over k of nnz(a column k) x nnz(w row k).
uint64_t effectual_macs(const uint8_t* a_mask, int rows, int inner, const uint8_t* w_mask,
                        int cols);

// Timing. A sparsity unit has one comparator (post) / AND gate (pre) per multiplier of its lane
// (`units` = M), each walking one mask element per cycle: ceil(elements / units) cycles.
inline uint64_t mask_walk_cycles(uint64_t elements, int units) {
  const uint64_t u = units > 0 ? static_cast<uint64_t>(units) : 1;
  return (elements + u - 1) / u;
}

// Top-k pruning (for comparison with DynaTran): keep the k largest-magnitude values of every
// row (ties: lower column index first), zero the rest.
PruneResult topk_prune(const int32_t* x, int rows, int cols, int k);
// Latency assumption: a bitonic sorting network over n = next power of two >= cols, with
// n/2 compare-exchange units per stage and one stage per cycle, pipelined one row per cycle:
// stages = log2(n) (log2(n) + 1) / 2, cycles = stages + rows - 1.
uint64_t bitonic_stages(int cols);
uint64_t topk_latency_cycles(int rows, int cols);
// DynaTran over the same block with `units` comparators: ceil(rows x cols / units) cycles.
inline uint64_t dynatran_latency_cycles(int rows, int cols, int units) {
  return mask_walk_cycles(static_cast<uint64_t>(rows) * cols, units);
}

}  // namespace acceltran::dynatran
