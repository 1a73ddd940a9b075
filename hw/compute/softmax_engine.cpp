#include "acceltran/hw/compute/softmax_engine.hpp"

#include <algorithm>
#include <cmath>

#include "acceltran/hw/compute/fixed_point.hpp"

namespace acceltran {

int ceil_log2(uint64_t n) {
  int l = 0;
  while ((uint64_t{1} << l) < n) ++l;
  return l;
}

SoftmaxEngine::SoftmaxEngine(sc_core::sc_module_name name, const AcceleratorConfig& cfg,
                             const Technology& tech, const SimOptions& opts)
    : UnitPoolEngine(name, cfg, tech, opts, cfg.softmax_per_pe, tech.softmax_for(cfg.tile.x),
                     proto::JobKind::softmax) {}

UnitTileTiming SoftmaxEngine::tile_timing(double sa) const {
  const uint64_t tb = cfg_.tile.b, tx = cfg_.tile.x, ty = cfg_.tile.y;
  UnitTileTiming t;
  if (conventions_.published_tile_cycles) {
    const double n = static_cast<double>(tx * ty) * (1.0 - sa);
    t.charged = n <= 0 ? 0 : static_cast<uint64_t>(std::ceil(n - 1e-9));
    t.held = t.charged + 1;
  } else {
    t.held = t.charged = tb * tx + 2 * static_cast<uint64_t>(ceil_log2(ty)) + 3;
  }
  return t;
}

namespace fx {

namespace {
// 2^f on f in [0, 1), cubic fit, coefficients in Q30.
constexpr int64_t kQ30 = int64_t{1} << 30;
constexpr int64_t kC1 = 747247505;    // 0.695928 * 2^30 (least squares, c1 + c2 + c3 = 1)
constexpr int64_t kC2 = 241534262;    // 0.224946 * 2^30
constexpr int64_t kC3 = 84960057;     // 0.079125 * 2^30; max relative error 1.4e-4
constexpr int64_t kLog2eQ16 = 94548;  // log2(e) * 2^16
}  // namespace

int32_t exp_neg(int32_t x) {
  if (x >= 0) return kOne;
  const int64_t y = shift_round(int64_t{x} * kLog2eQ16, kFracBits);  // Q16, <= 0
  const int64_t n = y >> kFracBits;                                  // floor, <= 0
  const int64_t f30 = (y - n * kOne) << 14;                          // Q30, [0, 1)
  int64_t acc = kC3;
  acc = kC2 + ((acc * f30) >> 30);
  acc = kC1 + ((acc * f30) >> 30);
  acc = kQ30 + ((acc * f30) >> 30);  // 2^f in Q30, [1, 2)
  const int64_t shift = 14 - n;      // Q30 -> Q16, then divide by 2^-n
  if (shift >= 62) return 0;
  return static_cast<int32_t>(shift_round(acc, static_cast<int>(shift)));
}

void softmax(const int32_t* in, int32_t* out, int rows, int cols, const uint8_t* key_mask) {
  bool any_real = key_mask == nullptr;
  for (int c = 0; !any_real && c < cols; ++c) any_real = key_mask[c] != 0;
  if (!any_real) key_mask = nullptr;  // no real key: every key (a uniform shift in Hugging Face)
  for (int r = 0; r < rows; ++r) {
    const int32_t* x = in + static_cast<size_t>(r) * cols;
    int32_t* y = out + static_cast<size_t>(r) * cols;
    int32_t m = INT32_MIN;
    for (int c = 0; c < cols; ++c)
      if (!key_mask || key_mask[c]) m = std::max(m, x[c]);
    int64_t sum = 0;
    for (int c = 0; c < cols; ++c) {
      y[c] = key_mask && !key_mask[c]
                 ? 0
                 : exp_neg(static_cast<int32_t>(std::max<int64_t>(int64_t{x[c]} - m, INT32_MIN)));
      sum += y[c];
    }
    // sum >= 2^16 (the max element contributes e^0 = 1).
    for (int c = 0; c < cols; ++c) y[c] = saturate(((int64_t{y[c]} << kFracBits) + sum / 2) / sum);
  }
}

}  // namespace fx
}  // namespace acceltran
