// Softmax engine: softmax_per_pe softmax modules per PE as a pool inside one sc_module
// (UnitPoolEngine); one SOFTMAX tile job (a tb x tx x ty block) takes exactly one module.
//
// Timing per tile:
//  * reference profile (docs/compute.md, "Softmax and layer-norm engines"):
//    N = ceil(tx * ty * (1 - s_a)), held N + 1, charged N.
//  * hardware profile (default), row-pipelined module: each row of ty elements goes through a
//    max tree (log2 ty), exp (1), sum tree (log2 ty), reciprocal (1) and scale (1); one row
//    enters per cycle, so N = tb * tx + 2 * ceil(log2 ty) + 3, held = charged = N.
// Energy: (dynamic + leakage) of softmax(tile_x) from technology.yaml per charged cycle.
//
// Functional model (Q4.16): per row, subtract the max, e^x = 2^(x log2 e) with the integer part
// as a shift and 2^f (f in [0,1)) as a cubic polynomial in Q30, then out = round(e * 2^16 / sum).
// Padding mask: the key's mask bit forces the max tree's input to the minimum and the exp
// unit's output to 0 (one gate per element in the pipeline: no cycle added; docs/compute.md).
#pragma once
#include <cstdint>
#include <vector>

#include "acceltran/hw/compute/unit_pool_engine.hpp"

namespace acceltran {

class SoftmaxEngine : public UnitPoolEngine {
 public:
  SoftmaxEngine(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const Technology& tech,
                const SimOptions& opts);
  UnitTileTiming tile_timing(double activation_sparsity) const override;
};

namespace fx {
// e^x for x <= 0 (Q4.16 in, Q4.16 out, x clamped to 0 above). Error measured in tests.
int32_t exp_neg(int32_t x);
// Row-wise softmax of a rows x cols block (row-major) into out. With a key mask (cols values,
// 0 = a padding key): padding keys are left out of the max and the sum and get exactly 0; a mask
// without any real key attends every key (as Hugging Face's additive mask, a uniform shift).
void softmax(const int32_t* in, int32_t* out, int rows, int cols,
             const uint8_t* key_mask = nullptr);
inline std::vector<int32_t> softmax(const std::vector<int32_t>& in, int rows, int cols) {
  std::vector<int32_t> out(in.size());
  softmax(in.data(), out.data(), rows, cols);
  return out;
}
}  // namespace fx

// ceil(log2(n)) for n >= 1.
int ceil_log2(uint64_t n);

}  // namespace acceltran
