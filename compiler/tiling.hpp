// Tiling: the tile grid of an op and the loop-order enumeration of its tiles.
#pragma once
#include <cstdint>

#include "acceltran/compiler/isa.hpp"

namespace acceltran {

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Fills op.grid_* from its problem dims and the tile shape: ceil(b/tb), ceil(m/tx),
// ceil(n/ty), ceil(k/tx) (k grid 1 for non-matmul ops). Edge tiles are padded.
void set_tile_grid(Op& op, const TileShape& tile);

// Maps a linear position in the loop-order enumeration of an op's tiles to its (b, i, j, k),
// and back. The first dim of the loop order is the outermost (slowest-varying).
// Allocation-free; construct once per op and reuse in hot loops.
class TileWalker {
 public:
  TileWalker(const Op& op, const LoopOrder& order);
  TileIndex at(uint64_t linear) const;
  uint64_t linear(const TileIndex& t) const;
  uint64_t count() const { return count_; }

 private:
  int64_t extent_[4];  // extents in loop order
  int64_t stride_[4];  // strides in loop order
  int dim_of_[4];      // loop position -> 0:b 1:i 2:j 3:k
  uint64_t count_;
};

// Operand reuse rule (docs/compute.md, "Operand reuse and buffer reads"): a lane need not
// re-read its first operand tile when (b, i, k) is unchanged from its previous tile, nor its
// second when (b, k, j) is unchanged.
inline bool reuses_first(const TileIndex& prev, const TileIndex& cur) {
  return prev.b == cur.b && prev.i == cur.i && prev.k == cur.k;
}
inline bool reuses_second(const TileIndex& prev, const TileIndex& cur) {
  return prev.b == cur.b && prev.k == cur.k && prev.j == cur.j;
}

}  // namespace acceltran
