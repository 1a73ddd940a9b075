#include "acceltran/hw/compute/layer_norm_engine.hpp"

#include <cmath>

#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"  // ceil_log2

namespace acceltran {

LayerNormEngine::LayerNormEngine(sc_core::sc_module_name name, const AcceleratorConfig& cfg,
                                 const Technology& tech, const SimOptions& opts)
    : UnitPoolEngine(name, cfg, tech, opts, cfg.layer_norm_per_pe, tech.layer_norm_for(cfg.tile.x),
                     proto::JobKind::layer_norm) {}

UnitTileTiming LayerNormEngine::tile_timing(double sa) const {
  const uint64_t tb = cfg_.tile.b, tx = cfg_.tile.x, ty = cfg_.tile.y;
  UnitTileTiming t;
  if (conventions_.published_tile_cycles) {
    const double n = static_cast<double>(tb * (tx + ty)) * (1.0 - sa);
    t.charged = n <= 0 ? 0 : static_cast<uint64_t>(std::ceil(n - 1e-9));
    t.held = t.charged + 1;
  } else {
    t.held = t.charged = tb * tx + static_cast<uint64_t>(ceil_log2(ty)) + 7;
  }
  return t;
}

namespace fx {

int32_t rsqrt_q30(uint64_t v, int* e_out) {
  // Find e with u = v / 2^48 / 4^e in [1, 4): u30 = v * 2^(-18 - 2e) has bit length 31 or 32.
  int bl = 0;
  while (bl < 64 && (v >> bl) != 0) ++bl;
  int two_e = bl - 49;
  if (two_e % 2 != 0) two_e -= 1;
  const int e = two_e / 2;
  const int sh = 18 + two_e;
  const int64_t u30 = sh >= 0 ? static_cast<int64_t>(v >> sh) : static_cast<int64_t>(v << -sh);
  // Newton on y = 1/sqrt(u), u in [1, 4): y0 = 1 - (u - 1) / 6, y <- y (3 - u y^2) / 2.
  int64_t y = (int64_t{1} << 30) - (u30 - (int64_t{1} << 30)) / 6;
  for (int it = 0; it < 5; ++it) {
    const int64_t y2 = (y * y) >> 30;            // Q30
    const int64_t uy2 = (u30 * y2) >> 30;        // Q30
    y = (y * ((int64_t{3} << 30) - uy2)) >> 31;  // Q30
  }
  *e_out = e;
  return static_cast<int32_t>(y);
}

void layer_norm(const int32_t* in, int32_t* out, int rows, int cols, uint64_t eps_q48) {
  for (int r = 0; r < rows; ++r) {
    const int32_t* x = in + static_cast<size_t>(r) * cols;
    int32_t* y = out + static_cast<size_t>(r) * cols;
    int64_t sum = 0;
    for (int c = 0; c < cols; ++c) sum += x[c];
    // mean in Q24, deviations in Q24.
    const int64_t mean24 = ((sum * 256) + (sum >= 0 ? cols / 2 : -cols / 2)) / cols;
    __int128 ss = 0;
    for (int c = 0; c < cols; ++c) {
      const int64_t d = int64_t{x[c]} * 256 - mean24;  // * 256, not << 8: x may be negative
      ss += static_cast<__int128>(d) * d;              // Q48
    }
    const uint64_t var48 = static_cast<uint64_t>(ss / cols) + eps_q48;
    int e = 0;
    const int64_t r30 = rsqrt_q30(var48, &e);
    // out(Q16) = d(Q24) * r30(Q30) * 2^-e -> shift by 24 + 30 - 16 + e = 38 + e.
    const int sh = 38 + e;
    for (int c = 0; c < cols; ++c) {
      const __int128 d = static_cast<__int128>(x[c]) * 256 - mean24;
      __int128 p = d * r30;
      if (sh > 0)
        p = (p + (static_cast<__int128>(1) << (sh - 1))) >> sh;
      else
        p = p * (static_cast<__int128>(1) << -sh);
      y[c] = saturate(p > INT64_MAX ? INT64_MAX
                                    : (p < INT64_MIN ? INT64_MIN : static_cast<int64_t>(p)));
    }
  }
}

}  // namespace fx
}  // namespace acceltran
