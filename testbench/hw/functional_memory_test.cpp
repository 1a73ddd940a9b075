// Functional runs keep main memory's contents: every transfer carries its part's bytes (zero-free
// 20-bit words, then the mask), weights are in memory from the start, stores write the outputs;
// transport_dbg reads back what the run wrote.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "acceltran/compiler/parts.hpp"
#include "acceltran/hw/accelerator_top.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/workload/weights.hpp"
#include "functional_util.hpp"

using namespace acceltran;

namespace {
// Unpacks a part image: n elements, the zero-free 20-bit words, then the mask.
std::vector<int32_t> unpack(const std::vector<unsigned char>& img, uint64_t n, uint64_t data) {
  std::vector<int32_t> v(n, 0);
  uint64_t bit = 0;
  for (uint64_t e = 0; e < n; ++e) {
    if (!(img[data + e / 8] >> (e % 8) & 1)) continue;
    uint32_t w = 0;
    for (int k = 0; k < fx::kWordBits; ++k, ++bit)
      w |= uint32_t{img[bit / 8] >> (bit % 8) & 1u} << k;
    v[e] = static_cast<int32_t>(w << 12) >> 12;  // sign-extend 20 bits
  }
  return v;
}
}  // namespace

TEST_CASE("functional: transport_dbg reads back the outputs and weights a run wrote to memory",
          "[functional][memory]") {
  testutil::Setup s;
  const AcceleratorConfig cfg = s.accel("edge");
  const testbench::TinyFunctional tf(3, 0.02);
  const Program& prog = tf.prog;
  RunOptions ro;
  ro.functional = &tf.in;
  Accelerator top("accelerator", prog, cfg, s.tech, ro);
  sc_core::sc_start();
  REQUIRE(top.control_block->stats().finished);
  const Tensor* out = nullptr;
  const Tensor* wq = nullptr;
  for (const Tensor& t : prog.tensors) {
    if (t.name == "L1.ffn.ln") out = &t;
    if (t.name == "L0.attn.qkv.w") wq = &t;
  }
  REQUIRE(out);
  REQUIRE(wq);
  uint64_t parts_checked = 0, nonzero = 0;
  for (const Tensor* t : {out, wq}) {
    const PartGrid g = part_grid(*t);
    for (uint32_t p = 0; p < g.parts(); ++p) {
      std::vector<unsigned char> expect;
      uint64_t data = 0, mask = 0;
      top.datapath->pack_part(t->id, p, expect, data, mask);
      std::vector<unsigned char> got(expect.size(), 0xee);
      tlm::tlm_generic_payload gp;
      gp.set_command(tlm::TLM_READ_COMMAND);
      gp.set_address(top.control_block->part_address(t->id, p));
      gp.set_data_ptr(got.data());
      gp.set_data_length(static_cast<unsigned>(got.size()));
      REQUIRE(top.dma->memory_socket->transport_dbg(gp) == got.size());
      INFO(t->name << " part " << p);
      CHECK(got == expect);
      // The image decodes to the data path's values.
      const std::vector<int32_t> v = unpack(got, part_elements(*t, g, p), data);
      for (int32_t x : v) nonzero += x != 0;
      const std::vector<int32_t>& all = top.datapath->values(t->id);
      int64_t at[3], rest = p;
      for (int d = 2; d >= 0; --d) {
        at[d] = rest % g.count[d];
        rest /= g.count[d];
      }
      size_t e = 0;
      bool same = true;
      for (int64_t b = at[0] * g.size[0]; b < std::min(t->batch, (at[0] + 1) * g.size[0]); ++b)
        for (int64_t r = at[1] * g.size[1]; r < std::min(t->rows, (at[1] + 1) * g.size[1]); ++r)
          for (int64_t c = at[2] * g.size[2]; c < std::min(t->cols, (at[2] + 1) * g.size[2]); ++c)
            same = same && v[e++] == all[static_cast<size_t>((b * t->rows + r) * t->cols + c)];
      CHECK(same);
      CHECK(e == v.size());
      ++parts_checked;
    }
  }
  CHECK(parts_checked >= 2);
  CHECK(nonzero > 1000);
  // The model's output went to memory through STORE_M (bytes written = its images).
  CHECK(top.main_memory->stats().bytes_written > 0);
}
