// Per-tile cycles of the reference profile against the published formulas (jha-lab/acceltran,
// simulator/src/modules.py: MACLane, Softmax, LayerNorm assign_op; Module.process_cycle),
// docs/fidelity.md rules B1-B4, over tile sizes, tile_b, MACs per lane and sparsities:
//   MAC lane, matmul tile: N = ceil(tb*tx*ty*ty / M * (1 - s_a)); activation tile: N = 1;
//   softmax tile (input tx x ty): N = ceil(tx*ty*(1 - s_a));
//   layer-norm tile: N = ceil(tb*(tx + ty)*(1 - s_a));
//   every module is held N + 1 cycles and charged N.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "compute_common.hpp"

using namespace acceltran;
using compute_test::accel;
using compute_test::tech;

namespace {

uint64_t published(double work, double s) {
  return static_cast<uint64_t>(std::ceil(work * (1.0 - s) - 1e-9));
}

}  // namespace

TEST_CASE("reference timing: published per-tile cycles of every module", "[compute][fidelity]") {
  struct Tile {
    int b, x;
  };
  const Tile tiles[] = {{1, 8}, {1, 16}, {1, 32}, {2, 16}, {4, 8}};
  const double sparsities[] = {0.0, 0.3, 0.5, 0.9};
  int n = 0;
  for (const Tile& t : tiles)
    for (int macs : {1, 16}) {
      auto cfg = accel("edge");
      cfg.tile = TileShape{t.b, t.x, t.x};
      cfg.mac_per_lane = macs;
      SimOptions ref;
      ref.profile = Profile::reference;
      const std::string tag = std::to_string(n++);
      PeArray pe(("pe_" + tag).c_str(), cfg, tech(), ref);
      SoftmaxEngine sm(("sm_" + tag).c_str(), cfg, tech(), ref);
      LayerNormEngine ln(("ln_" + tag).c_str(), cfg, tech(), ref);
      const Op mm = compute_test::make_op(OpKind::matmul, t.b, t.x, t.x, t.x, cfg.tile);
      const Op act = compute_test::make_op(OpKind::activation, t.b, t.x, 1, t.x, cfg.tile);
      for (double s : sparsities) {
        INFO("tile " << t.b << "x" << t.x << "x" << t.x << ", M " << macs << ", s_a " << s);
        const double muls = double(t.b) * t.x * t.x * t.x;
        const auto lane = pe.tile_timing(job_kind(Opcode::MATMUL), s, 0.5);
        CHECK(lane.charged == published(muls / macs, s));
        CHECK(lane.held == lane.charged + 1);
        const auto a = pe.tile_timing(job_kind(Opcode::ACT), s, 0.5);
        CHECK(a.charged == 1);
        CHECK(a.held == 2);
        // The published softmax tile has no batch dimension: tx x ty whatever tile_b is.
        const auto st = sm.tile_timing(s);
        CHECK(st.charged == published(double(t.x) * t.x, s));
        CHECK(st.held == st.charged + 1);
        const auto lt = ln.tile_timing(s);
        CHECK(lt.charged == published(double(t.b) * (t.x + t.x), s));
        CHECK(lt.held == lt.charged + 1);
      }
    }
  // The Edge design point (tile 1x16x16, M = 16, s_a = 0.5): 128, 128 and 16 cycles.
  CHECK(published(16.0 * 16 * 16 / 16, 0.5) == 128);
  CHECK(published(16.0 * 16, 0.5) == 128);
  CHECK(published(32.0, 0.5) == 16);
}
