// Layer-norm engine: layer_norm_per_pe (1) layer-norm modules per PE as a pool inside one
// sc_module (UnitPoolEngine); one LAYERNORM tile job (tb x tx x ty block) takes one module.
//
// Timing per tile:
//  * reference profile (docs/compute.md, "Softmax and layer-norm engines"):
//    N = ceil(tb * (tx + ty) * (1 - s_a)), held N + 1, charged N.
//  * hardware profile (default), row-pipelined module: each row of ty elements goes through a sum /
//    sum-of-squares tree (log2 ty), mean and variance (2), rsqrt (4) and scale (1); one row
//    enters per cycle: N = tb * tx + ceil(log2 ty) + 7, held = charged = N.
// Energy: (dynamic + leakage) of layer_norm(tile_x) from technology.yaml per charged cycle.
//
// Functional model (Q4.16): per row, mean and variance in wide fixed point (Q24 deviations,
// Q48 variance in 128-bit sums), eps = 1 LSB (2^-16), rsqrt by range reduction to [1, 4) and
// five Newton steps in Q30, out = (x - mean) * rsqrt(var + eps), rounded and saturated.
// gamma / beta are not applied here (an element-wise op on the lanes if the model needs them).
#pragma once
#include <cstdint>
#include <vector>

#include "acceltran/hw/compute/unit_pool_engine.hpp"

namespace acceltran {

class LayerNormEngine : public UnitPoolEngine {
 public:
  LayerNormEngine(sc_core::sc_module_name name, const AcceleratorConfig& cfg,
                  const Technology& tech, const SimOptions& opts);
  UnitTileTiming tile_timing(double activation_sparsity) const override;
};

namespace fx {
// 1 / sqrt(v) for v > 0 given in Q48 (v / 2^48), result in Q30 scaled by 2^-e: returns y30 and
// e such that 1/sqrt(v) ~= y30 / 2^30 / 2^e.
int32_t rsqrt_q30(uint64_t v_q48, int* e);
// eps_q48: the variance epsilon in Q48 (default 2^-16; functional runs pass the model's
// layer_norm_eps, at least one LSB).
void layer_norm(const int32_t* in, int32_t* out, int rows, int cols,
                uint64_t eps_q48 = uint64_t{1} << 32);
inline std::vector<int32_t> layer_norm(const std::vector<int32_t>& in, int rows, int cols) {
  std::vector<int32_t> out(in.size());
  layer_norm(in.data(), out.data(), rows, cols);
  return out;
}
}  // namespace fx

}  // namespace acceltran
