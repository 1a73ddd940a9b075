#include "acceltran/hw/compute/operand_traffic.hpp"

#include "acceltran/config/zero_free_format.hpp"

namespace acceltran {

OperandTileWords operand_tile_words(int tile_b, int tile_x, int tile_y, bool matmul,
                                    bool b_operand_batched) {
  const uint64_t tb = static_cast<uint64_t>(tile_b), tx = static_cast<uint64_t>(tile_x),
                 ty = static_cast<uint64_t>(tile_y);
  OperandTileWords words;
  words.output = tb * tx * ty;
  words.a = matmul ? tb * tx * tx : words.output;
  words.b = matmul ? (b_operand_batched ? tb * tx * ty : tx * ty) : words.output;
  return words;
}

OperandTileBytes operand_tile_bytes(const OperandTileWords& words, int word_bits, double a_sparsity,
                                    double b_sparsity, double output_sparsity) {
  OperandTileBytes bytes;
  bytes.a_data = zero_free_bytes(words.a, word_bits, a_sparsity);
  bytes.a_mask = mask_bytes_for(words.a);
  bytes.b_data = zero_free_bytes(words.b, word_bits, b_sparsity);
  bytes.b_mask = mask_bytes_for(words.b);
  bytes.output_data = zero_free_bytes(words.output, word_bits, output_sparsity);
  bytes.output_mask = mask_bytes_for(words.output);
  bytes.psum = zero_free_bytes(words.output, word_bits, 0.0);  // dense words
  return bytes;
}

RunReuse run_reuse(bool matmul, int inner_dim, bool b_depends_on_batch, bool a_fits_fifo,
                   bool b_fits_fifo) {
  RunReuse reuse;
  reuse.keep_a = matmul && inner_dim == proto::kLoopJ && a_fits_fifo;
  reuse.keep_b =
      matmul &&
      (inner_dim == proto::kLoopI || (inner_dim == proto::kLoopB && !b_depends_on_batch)) &&
      b_fits_fifo;
  reuse.psum_in_lane = matmul && inner_dim == proto::kLoopK;
  return reuse;
}

BlockTrafficTiles block_traffic_tiles(const RunReuse& reuse, bool matmul, int reads_per_tile,
                                      uint64_t block_tiles, uint64_t runs, uint64_t pieces_per_run,
                                      const BlockReduction& reduction) {
  BlockTrafficTiles traffic;
  const uint64_t pieces = runs * pieces_per_run;
  if (!matmul) {  // every tile reads its operands and writes its output
    traffic.reads_a = block_tiles;
    traffic.reads_b = reads_per_tile == 2 ? block_tiles : 0;
    traffic.final_outputs = block_tiles;
    return traffic;
  }
  // A kept operand is read once per piece; otherwise once per tile.
  traffic.reads_a = reuse.keep_a ? pieces : block_tiles;
  traffic.reads_b = reuse.keep_b ? pieces : block_tiles;
  if (reuse.psum_in_lane) {  // a piece boundary inside a run costs a partial-sum round trip
    traffic.psum_reads = runs * (pieces_per_run - 1) + (reduction.first_k() ? 0 : runs);
    traffic.final_outputs = reduction.last_k() ? runs : 0;
    traffic.psum_writes = pieces - traffic.final_outputs;
  } else {  // every tile but the first k reads a partial sum, every one but the last writes one
    const uint64_t k_tiles = static_cast<uint64_t>(reduction.k1 - reduction.k0);
    traffic.psum_reads = block_tiles - (reduction.first_k() ? block_tiles / k_tiles : 0);
    traffic.final_outputs = reduction.last_k() ? block_tiles / k_tiles : 0;
    traffic.psum_writes = block_tiles - traffic.final_outputs;
  }
  return traffic;
}

}  // namespace acceltran
