// The on-chip storage format of a tensor (docs/memory.md): its non-zero values as packed words of
// word_bits bits (zero-free data) plus a mask of one bit per element. Shared by the compiler
// (transfer sizes, buffer reservations) and the hardware blocks (what a buffer stores).
#pragma once
#include <cstdint>

namespace acceltran {

// Bytes of `elements` words of `word_bits` bits in zero-free format at the given sparsity:
// ceil(elements * word_bits * (1 - sparsity) / 8).
uint64_t zero_free_bytes(uint64_t elements, int word_bits, double sparsity);
// Bytes of the mask of `elements` elements (one bit each).
inline uint64_t mask_bytes_for(uint64_t elements) {
  return (elements + 7) / 8;
}

}  // namespace acceltran
