// The functional data path (hw/compute/datapath.hpp) and the DynaTran module: hand-built tiles
// with known masks, sparsity and effectual MACs; every tile's effectual-MAC count of a whole
// BERT-Tiny program against a brute-force count; the Q4.16 GELU's error bound.
#include <tlm_utils/simple_initiator_socket.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "acceltran/compiler/parts.hpp"
#include "acceltran/hw/compute/datapath.hpp"
#include "acceltran/hw/compute/dynatran.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/workload/weights.hpp"
#include "functional_util.hpp"

using namespace acceltran;

namespace {
struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket_optional<Initiator> socket{"socket"};
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n) {}
};
}  // namespace

TEST_CASE(
    "compute: DynaTran module prunes a hand-built tile over TLM and leaves a write's data as sent",
    "[compute][dynatran]") {
  PruneMode mode;
  mode.tau = 0.25;  // Q4.16 16384
  DynaTranUnit unit("dynatran", mode);
  Initiator ini("pe");
  ini.socket.bind(unit.target);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);
  DynaTranPort<tlm_utils::simple_initiator_socket_optional<Initiator>> port(ini.socket);
  // A 2 x 4 tile inside rows of 6 words (row stride 6): |x| <= 0.25 -> 0.
  auto q = [](double x) { return fx::from_double(x); };
  std::vector<int32_t> rows = {q(0.5), q(-0.25), q(0.2501), 0,       7, 7,
                               q(-1),  q(0.1),   q(-0.3),   q(0.25), 7, 7};
  {
    // An initiator's WRITE through the unit's target (TLM-2.0: a target leaves the data array
    // of a write as it is): the words are unchanged, the answer is the mask and the zeros.
    const std::vector<int32_t> sent = rows;
    PruneTileExt ext;
    ext.rows = 2, ext.cols = 4, ext.ld = 6;
    tlm::tlm_generic_payload gp;
    gp.set_command(tlm::TLM_WRITE_COMMAND);
    gp.set_data_ptr(reinterpret_cast<unsigned char*>(rows.data()));
    gp.set_data_length(static_cast<unsigned>(rows.size() * 4));
    gp.set_streaming_width(static_cast<unsigned>(rows.size() * 4));
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    gp.set_extension(&ext);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    ini.socket->b_transport(gp, delay);
    gp.clear_extension(&ext);
    REQUIRE(gp.get_response_status() == tlm::TLM_OK_RESPONSE);
    CHECK(rows == sent);
    CHECK(ext.mask == std::vector<uint8_t>{1, 0, 1, 0, 1, 0, 1, 0});
    CHECK(ext.zeros == 4);
    // Through nb_transport_fw (early completion): unchanged too.
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    gp.set_extension(&ext);
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    CHECK(ini.socket->nb_transport_fw(gp, phase, delay) == tlm::TLM_COMPLETED);
    gp.clear_extension(&ext);
    CHECK(gp.get_response_status() == tlm::TLM_OK_RESPONSE);
    CHECK(rows == sent);
  }
  // The engines' port applies the unit's mask to its own tile: the pruned words.
  const uint64_t zeros = port.prune_block(rows.data(), 2, 4, 6, 0);
  CHECK(zeros == 4);
  CHECK(rows == std::vector<int32_t>{q(0.5), 0, q(0.2501), 0, 7, 7, q(-1), 0, q(-0.3), 0, 7, 7});
  CHECK(unit.stats().blocks == 3);  // the two writes above and the port's
  CHECK(unit.stats().elements == 24);
  CHECK(unit.stats().zeros == 12);
  CHECK(unit.stats().pruned == 9);  // -0.25, 0.1 and 0.25 were non-zero, each time
  CHECK(unit.stats().sparsity() == 0.5);
  // The mask the module wrote, and the effectual MACs of this tile (as A, 2 x 4) against a
  // 4 x 3 B with known zeros: sum over k of nnz(A column k) x nnz(B row k).
  PruneTileExt e;
  e.rows = 2, e.cols = 4, e.ld = 6;
  std::vector<int32_t> again = rows;
  unit.prune(again.data(), e);
  CHECK(e.mask == std::vector<uint8_t>{1, 0, 1, 0, 1, 0, 1, 0});
  const std::vector<uint8_t> b_mask = {1, 1, 0,   // k = 0: 2 non-zeros
                                       1, 1, 1,   // k = 1: A column 1 is all zero
                                       0, 0, 1,   // k = 2: 1
                                       1, 0, 1};  // k = 3: A column 3 all zero
  // A columns: k0 2, k1 0, k2 2, k3 0 -> 2 x 2 + 0 + 2 x 1 + 0 = 6.
  CHECK(dynatran::effectual_macs(e.mask.data(), 2, 4, b_mask.data(), 3) == 6);
}

TEST_CASE("compute: data path effectual MACs equal a brute-force count on every tile",
          "[compute][datapath]") {
  const testbench::TinyFunctional tf(7, 0.02);
  const Program& prog = tf.prog;
  Datapath dp(prog, tf.in);
  struct Null : PostSparsity {
    uint64_t prune_block(int32_t* d, int rows, int cols, int ld, int) override {
      uint64_t z = 0;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
          int32_t& x = d[static_cast<size_t>(r) * ld + c];
          if (fx::abs_wide(x) <= fx::from_double(0.02)) x = 0;
          z += x == 0;
        }
      return z;
    }
  } post;
  const int64_t tx = prog.info.tile.x, ty = prog.info.tile.y;
  uint64_t checked = 0;
  for (const Op& op : prog.ops) {
    const BlockGrid g = block_grid(op);
    for (uint32_t blk = 0; blk < g.blocks(); ++blk) {
      const BlockBox box = block_box(op, g, blk);
      const uint64_t n = box.tiles();
      if (op.kind == OpKind::softmax || op.kind == OpKind::layer_norm) {
        dp.run_row_job(op, blk, prog.info.loop_order, 0, n, &post);
        continue;
      }
      if (op.kind != OpKind::matmul) {
        dp.run_lane_job(op, blk, prog.info.loop_order, 0, n, nullptr, &post);
        continue;
      }
      // Brute force before the job (its inputs are final now): per tile, pairs of non-zeros.
      const Tensor& A = prog.tensors[op.inputs[0]];
      const Tensor& B = prog.tensors[op.inputs[1]];
      const std::vector<int32_t> va = dp.values(A.id), vb = dp.values(B.id);
      const char mb = op.in_rows.size() > 1 ? op.in_rows[1] : 'k';
      const int64_t ca = op.in_col.size() > 0 ? op.in_col[0] : 0;
      const int64_t cb = op.in_col.size() > 1 ? op.in_col[1] : 0;
      std::vector<uint64_t> eff(n);
      dp.run_lane_job(op, blk, prog.info.loop_order, 0, n, eff.data(), &post);
      // Re-enumerate the block's tiles the way the data path does (loop order, extent > 1).
      const int64_t ext[4] = {box.eb(), box.ei(), box.ej(), box.ek()};
      const int64_t org[4] = {box.b0, box.i0, box.j0, box.k0};
      int dims[4], nd = 0;
      for (char c : prog.info.loop_order.dims) {
        const int d = c == 'b' ? 0 : c == 'i' ? 1 : c == 'j' ? 2 : 3;
        if (ext[d] > 1) dims[nd++] = d;
      }
      for (uint64_t u = 0; u < n; ++u) {
        int64_t t[4] = {org[0], org[1], org[2], org[3]};
        uint64_t rest = u;
        for (int p = nd - 1; p >= 0; --p) {
          t[dims[p]] += static_cast<int64_t>(rest % static_cast<uint64_t>(ext[dims[p]]));
          rest /= static_cast<uint64_t>(ext[dims[p]]);
        }
        uint64_t bf = 0;
        const int64_t b = t[0];
        const int64_t bA = A.batch > 1 ? b : 0, bB = B.batch > 1 ? b : 0;
        for (int64_t r = t[1] * tx; r < std::min((t[1] + 1) * tx, op.m); ++r)
          for (int64_t c = t[2] * ty; c < std::min((t[2] + 1) * ty, op.n); ++c)
            for (int64_t k = t[3] * tx; k < std::min((t[3] + 1) * tx, op.k); ++k) {
              const int32_t a = va[static_cast<size_t>((bA * A.rows + r) * A.cols + ca + k)];
              const int32_t x = mb == 'n'
                                    ? vb[static_cast<size_t>((bB * B.rows + c) * B.cols + cb + k)]
                                    : vb[static_cast<size_t>((bB * B.rows + k) * B.cols + cb + c)];
              bf += a != 0 && x != 0;
            }
        INFO(op.name << " block " << blk << " tile " << u);
        REQUIRE(eff[u] == bf);
        ++checked;
      }
    }
  }
  CHECK(checked > 1000);
  // Pruned ops measured a real zero fraction; layer norms stay dense.
  for (const Op& op : prog.ops) {
    const OpValues& v = dp.op_values()[op.id];
    CHECK(v.elements == static_cast<uint64_t>(op.b * op.m * op.n));
    if (op.kind == OpKind::layer_norm) CHECK(v.sparsity() < 0.01);
  }
}

TEST_CASE("compute: Q4.16 GELU (tanh form) error bound", "[compute][datapath]") {
  double worst = 0;
  for (int32_t x = fx::kMin; x <= fx::kMax; x += 64) {
    const double v = fx::to_double(x);
    const double exact = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    worst = std::max(worst, std::fabs(fx::to_double(fx::gelu(x)) - exact));
  }
  std::printf("[compute] GELU (Q4.16, tanh form): max abs error %.3g vs erf GELU on [-8, 8)\n",
              worst);
  CHECK(worst <= 1e-3);
  CHECK(fx::gelu(0) == 0);
  CHECK(fx::gelu(fx::from_double(3)) > fx::from_double(2.99));
}
