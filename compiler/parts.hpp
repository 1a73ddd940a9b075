// Buffer-level blocks of an op and residency parts of a tensor (docs/memory.md, "Block-level
// tiling").
//
// Two levels of tiling, as in real accelerator compilers:
//  * tiles (tiling.hpp): the unit of work of one MAC lane / softmax / layer-norm module;
//  * blocks: a box of tiles (along b, i, j, k) whose working set (input parts, output parts)
//    fits the on-chip buffers. An op is one block when everything fits.
// Tensors are cut into parts (Tensor::part_*): a part is what a buffer holds, evicts, spills and
// reloads as one unit. A block reads and writes whole parts.
#pragma once
#include <cstdint>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/compiler/isa.hpp"

namespace acceltran {

// A box of tiles [b0, b1) x [i0, i1) x [j0, j1) x [k0, k1) of an op's tile grid.
struct BlockBox {
  int64_t b0 = 0, b1 = 1, i0 = 0, i1 = 1, j0 = 0, j1 = 1, k0 = 0, k1 = 1;
  int64_t eb() const { return b1 - b0; }
  int64_t ei() const { return i1 - i0; }
  int64_t ej() const { return j1 - j0; }
  int64_t ek() const { return k1 - k0; }
  uint64_t tiles() const { return static_cast<uint64_t>(eb() * ei() * ej() * ek()); }
};

// Block extents of an op (tiles per block along b, i, j, k; Op::blk_* with 0 = whole grid) and
// the number of blocks along each dimension.
struct BlockGrid {
  int64_t size[4] = {1, 1, 1, 1};   // tiles per block: b, i, j, k
  int64_t count[4] = {1, 1, 1, 1};  // blocks along b, i, j, k
  uint64_t blocks() const {
    return static_cast<uint64_t>(count[0] * count[1] * count[2] * count[3]);
  }
};
BlockGrid block_grid(const Op& op);
// Block `index` (enumerated b, i, j, k with k fastest); edge blocks are clipped to the grid.
BlockBox block_box(const Op& op, uint64_t index);
BlockBox block_box(const Op& op, const BlockGrid& g, uint64_t index);

// Bounding box of the tiles [first, first + count) of `blk` in the loop-order enumeration of
// the block's tiles (tiling.hpp's order, applied to the block's extents). One tile: its own box.
BlockBox tile_range_box(const BlockBox& blk, const LoopOrder& order, uint64_t first,
                        uint64_t count);

// A box of tensor elements: batches [b0, b1), rows [r0, r1), columns [c0, c1).
struct ElemBox {
  int64_t b0 = 0, b1 = 0, r0 = 0, r1 = 0, c0 = 0, c1 = 0;
};
// Elements of input `input` (index into op.inputs) that the tiles of `blk` read, and the output
// elements they write. Tiles are padded: ranges are clipped to the tensor.
ElemBox input_box(const Program& p, const Op& op, size_t input, const BlockBox& blk);
ElemBox output_box(const Program& p, const Op& op, const BlockBox& blk);
char input_mode(const Op& op, size_t input);

// Parts of a tensor.
struct PartGrid {
  int64_t size[3] = {1, 1, 1};   // elements per part: batch, rows, cols
  int64_t count[3] = {1, 1, 1};  // parts along batch, rows, cols
  uint32_t parts() const { return static_cast<uint32_t>(count[0] * count[1] * count[2]); }
};
PartGrid part_grid(const Tensor& t);
uint64_t part_elements(const Tensor& t, const PartGrid& g, uint32_t part);
// Zero-free data bytes and mask bytes of one part (the same formulas as the whole tensor's).
uint64_t part_data_bytes(const Tensor& t, const PartGrid& g, uint32_t part, int word_bits);
inline uint64_t part_mask_bytes(const Tensor& t, const PartGrid& g, uint32_t part) {
  return mask_bytes_for(part_elements(t, g, part));
}

// Calls f(part) for every part of `t` that overlaps `box` (in batch, row, column order).
template <typename F>
void for_each_part(const PartGrid& g, const ElemBox& box, F&& f) {
  if (box.b1 <= box.b0 || box.r1 <= box.r0 || box.c1 <= box.c0) return;
  const int64_t pb0 = box.b0 / g.size[0], pb1 = (box.b1 - 1) / g.size[0] + 1;
  const int64_t pr0 = box.r0 / g.size[1], pr1 = (box.r1 - 1) / g.size[1] + 1;
  const int64_t pc0 = box.c0 / g.size[2], pc1 = (box.c1 - 1) / g.size[2] + 1;
  for (int64_t b = pb0; b < pb1 && b < g.count[0]; ++b)
    for (int64_t r = pr0; r < pr1 && r < g.count[1]; ++r)
      for (int64_t c = pc0; c < pc1 && c < g.count[2]; ++c)
        f(static_cast<uint32_t>((b * g.count[1] + r) * g.count[2] + c));
}

// Bytes a block needs on chip at once, per buffer (parts of its inputs and output; each part
// once even if two inputs share a tensor).
struct WorkingSet {
  uint64_t activation_bytes = 0, weight_bytes = 0, mask_bytes = 0;
};
WorkingSet block_working_set(const Program& p, const Op& op, const BlockBox& blk);

}  // namespace acceltran
