#include "acceltran/compiler/tiling.hpp"

namespace acceltran {

void set_tile_grid(Op& op, const TileShape& tile) {
  op.grid_b = ceil_div(op.b, tile.b);
  op.grid_i = ceil_div(op.m, tile.x);
  op.grid_j = ceil_div(op.n, tile.y);
  op.grid_k = op.kind == OpKind::matmul ? ceil_div(op.k, tile.x) : 1;
}

namespace {
int dim_index(char d) {
  switch (d) {
    case 'b':
      return 0;
    case 'i':
      return 1;
    case 'j':
      return 2;
    default:
      return 3;
  }
}
}  // namespace

TileWalker::TileWalker(const Op& op, const LoopOrder& order) {
  const int64_t grid[4] = {op.grid_b, op.grid_i, op.grid_j, op.grid_k};
  for (int p = 0; p < 4; ++p) {
    dim_of_[p] = dim_index(order.dims[p]);
    extent_[p] = grid[dim_of_[p]];
  }
  int64_t s = 1;
  for (int p = 3; p >= 0; --p) {
    stride_[p] = s;
    s *= extent_[p];
  }
  count_ = static_cast<uint64_t>(s);
}

TileIndex TileWalker::at(uint64_t linear) const {
  int64_t v[4];
  auto rest = static_cast<int64_t>(linear);
  for (int p = 0; p < 4; ++p) {
    v[dim_of_[p]] = rest / stride_[p];
    rest %= stride_[p];
  }
  return TileIndex{v[0], v[1], v[2], v[3]};
}

uint64_t TileWalker::linear(const TileIndex& t) const {
  const int64_t v[4] = {t.b, t.i, t.j, t.k};
  int64_t l = 0;
  for (int p = 0; p < 4; ++p) l += v[dim_of_[p]] * stride_[p];
  return static_cast<uint64_t>(l);
}

}  // namespace acceltran
