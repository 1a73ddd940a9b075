// Functional runs keep the buffers' contents at the parts' placements (docs/memory.md "Address
// map"): the DMA writes a loaded part's data into its data buffer and its mask into the mask
// buffer at their placements (SramBuffer::address_of); transport_dbg on a buffer reads them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/compiler/parts.hpp"
#include "acceltran/hw/accelerator_top.hpp"
#include "functional_util.hpp"

using namespace acceltran;

namespace {
std::vector<unsigned char> debug_read(tlm::tlm_base_initiator_socket<>& socket, uint64_t address,
                                      uint64_t bytes) {
  std::vector<unsigned char> got(bytes, 0xee);
  tlm::tlm_generic_payload gp;
  gp.set_command(tlm::TLM_READ_COMMAND);
  gp.set_address(address);
  gp.set_data_ptr(got.data());
  gp.set_data_length(static_cast<unsigned>(got.size()));
  const unsigned moved = socket->transport_dbg(gp);
  got.resize(moved);
  return got;
}
}  // namespace

TEST_CASE("functional: transport_dbg on the buffers reads the loaded parts at their placements",
          "[functional][memory]") {
  testutil::Setup s;
  const AcceleratorConfig cfg = s.accel("edge");
  // The buffers place parts at the compiler's estimated sizes; with 0 % sparsity estimated every
  // part's own zero-free bytes fit its placement (a denser part than estimated keeps only its
  // first placement bytes in the buffer, dma.hpp).
  CompileOptions compile;
  compile.seq_len = 32;
  compile.weight_sparsity = 0;
  compile.activation_sparsity = 0;
  const std::string model = testutil::kModels + "/transformers/bert-tiny.json";
  const Program prog = compile_program(load_model(model), cfg, s.tech, compile);
  const BertWeights weights = synthetic_bert_weights(load_bert_config(model), 3);
  FunctionalInput input;
  input.weights = &weights;
  input.tokens = random_tokens(prog.info.batch, prog.info.seq_len, weights.config, 3).sequences;
  input.tokens_source = "random";
  input.prune.tau = 0.02;
  RunOptions ro;
  ro.functional = &input;
  Accelerator top("accelerator", prog, cfg, s.tech, ro);
  // Weight parts leave the buffer when their last reader is done, so the check runs while the
  // run goes on: at every control-block event, each weight or embedding part resident in the
  // weight buffer (the first time it is seen there) must hold, at its placement in the weight
  // buffer, its data and, at its placement in the mask buffer, its mask: its bytes in main memory.
  std::set<ResidentKey> checked;
  uint64_t placed_above_zero = 0, mismatches = 0;
  auto previous = std::move(top.control_block->on_event);
  top.control_block->on_event = [&](uint64_t now) {
    if (previous) previous(now);
    for (const ResidentKey& key : top.weight_buffer->resident_keys()) {
      if (!checked.insert(key).second) continue;
      std::vector<unsigned char> image;
      uint64_t data = 0, mask = 0;
      top.datapath->pack_part(key.tensor, key.part, image, data, mask);
      const uint64_t home = top.control_block->part_address(key.tensor, key.part);
      const uint64_t data_at = top.weight_buffer->address_of(key);
      const uint64_t mask_at = top.mask_buffer->address_of(key);
      INFO("tensor " << key.tensor << " part " << key.part << ": weight buffer 0x" << std::hex
                     << data_at << ", mask buffer 0x" << mask_at);
      REQUIRE(debug_read(top.dma->memory_socket, home, data + mask) == image);
      REQUIRE(data_at + data <= top.weight_buffer->capacity_bytes());
      REQUIRE(mask_at + mask <= top.mask_buffer->capacity_bytes());
      const bool same = debug_read(top.dma->weight_socket, data_at, data) ==
                            std::vector<unsigned char>(image.begin(), image.begin() + data) &&
                        debug_read(top.dma->mask_socket, mask_at, mask) ==
                            std::vector<unsigned char>(image.begin() + data, image.end());
      CHECK(same);
      mismatches += !same;
      placed_above_zero += data_at > 0;
    }
  };
  sc_core::sc_start();
  REQUIRE(top.control_block->stats().finished);
  const uint64_t parts_checked = checked.size();
  CHECK(mismatches == 0);
  CHECK(parts_checked >= 10);
  CHECK(placed_above_zero >= 9);  // distinct placements, not all at address 0
}
