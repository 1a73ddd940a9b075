#include "acceltran/hw/compute/dynatran.hpp"

#include <algorithm>
#include <stdexcept>

#include "acceltran/hw/compute/fixed_point.hpp"

namespace acceltran::dynatran {

PruneResult prune(const int32_t* x, size_t n, int32_t tau) {
  PruneResult r;
  r.pruned.resize(n);
  r.mask.resize(n);
  r.compact.reserve(n);
  for (size_t e = 0; e < n; ++e) {
    const bool keep = fx::abs_wide(x[e]) > tau && x[e] != 0;
    r.pruned[e] = keep ? x[e] : 0;
    r.mask[e] = keep ? 1 : 0;
    if (keep)
      r.compact.push_back(x[e]);
    else
      ++r.zeros;
  }
  return r;
}

uint64_t count_kept(const int32_t* x, size_t n, int32_t tau) {
  uint64_t kept = 0;
  for (size_t e = 0; e < n; ++e) kept += (fx::abs_wide(x[e]) > tau && x[e] != 0) ? 1 : 0;
  return kept;
}

std::vector<int32_t> expand(const std::vector<int32_t>& compact, const std::vector<uint8_t>& mask) {
  std::vector<int32_t> out(mask.size(), 0);
  size_t next = 0;
  for (size_t e = 0; e < mask.size(); ++e)
    if (mask[e]) {
      if (next >= compact.size()) throw std::invalid_argument("expand: mask has too many ones");
      out[e] = compact[next++];
    }
  if (next != compact.size()) throw std::invalid_argument("expand: mask has too few ones");
  return out;
}

std::vector<uint8_t> and_masks(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("and_masks: size mismatch");
  std::vector<uint8_t> out(a.size());
  for (size_t e = 0; e < a.size(); ++e) out[e] = (a[e] & b[e]) & 1;
  return out;
}

uint64_t effectual_pairs(const uint8_t* a, const uint8_t* b, size_t n) {
  uint64_t c = 0;
  for (size_t e = 0; e < n; ++e) c += (a[e] & b[e]) & 1;
  return c;
}

uint64_t effectual_macs(const uint8_t* a_mask, int rows, int inner, const uint8_t* w_mask,
                        int cols) {
  uint64_t total = 0;
  for (int k = 0; k < inner; ++k) {
    uint64_t a_nz = 0, w_nz = 0;
    for (int r = 0; r < rows; ++r) a_nz += a_mask[static_cast<size_t>(r) * inner + k] & 1;
    for (int c = 0; c < cols; ++c) w_nz += w_mask[static_cast<size_t>(k) * cols + c] & 1;
    total += a_nz * w_nz;
  }
  return total;
}

PruneResult topk_prune(const int32_t* x, int rows, int cols, int k) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("topk_prune: negative shape");
  const size_t n = static_cast<size_t>(rows) * cols;
  PruneResult r;
  r.pruned.assign(n, 0);
  r.mask.assign(n, 0);
  std::vector<int> idx(static_cast<size_t>(cols));
  for (int row = 0; row < rows; ++row) {
    const int32_t* v = x + static_cast<size_t>(row) * cols;
    for (int c = 0; c < cols; ++c) idx[static_cast<size_t>(c)] = c;
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int a, int b) { return fx::abs_wide(v[a]) > fx::abs_wide(v[b]); });
    const int keep = std::clamp(k, 0, cols);
    for (int t = 0; t < keep; ++t) {
      const size_t e = static_cast<size_t>(row) * cols + idx[static_cast<size_t>(t)];
      if (x[e] == 0) continue;  // a zero among the k largest stays a zero
      r.pruned[e] = x[e];
      r.mask[e] = 1;
    }
  }
  for (size_t e = 0; e < n; ++e)
    if (r.mask[e])
      r.compact.push_back(r.pruned[e]);
    else
      ++r.zeros;
  return r;
}

uint64_t bitonic_stages(int cols) {
  uint64_t lg = 0;
  while ((int64_t{1} << lg) < cols) ++lg;
  return lg * (lg + 1) / 2;
}

uint64_t topk_latency_cycles(int rows, int cols) {
  if (rows <= 0) return 0;
  return bitonic_stages(cols) + static_cast<uint64_t>(rows) - 1;
}

}  // namespace acceltran::dynatran
