#include "acceltran/config/zero_free_format.hpp"

#include <cmath>

namespace acceltran {

uint64_t zero_free_bytes(uint64_t elements, int word_bits, double sparsity) {
  // ceil(elements * word_bits * (1 - s) / 8), computed in bits to keep it exact for s = 0.
  long double bits = static_cast<long double>(elements) * word_bits * (1.0L - sparsity);
  return static_cast<uint64_t>(std::ceil(bits / 8.0L - 1e-9L));
}

}  // namespace acceltran
