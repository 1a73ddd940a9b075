// The loop nest over a box of tiles (b, i, j, k) in a loop order: linear position <-> tile, the
// stride of each dimension, and the runs of the innermost loop (docs/compute.md, "Mapping and
// data movement (default profile)"). Plain C++; allocation-free, built once per job.
#pragma once
#include <cstdint>

#include "acceltran/tlm/tile_job.hpp"

namespace acceltran {

class LoopNest {
 public:
  LoopNest() = default;  // an empty nest (no tiles)
  // extents[d]: tiles along dimension d (proto::kLoopB .. kLoopK).
  LoopNest(const int64_t extents[4], const proto::LoopNestOrder& order) {
    for (int position = 0; position < 4; ++position) {
      dim_at_[position] = proto::LoopNestOrder::dim_of(order.dims[position]);
      extent_[position] = extents[dim_at_[position]];
    }
    // Innermost first: each dimension's stride is the product of the extents inside it.
    int64_t stride = 1;
    for (int position = 3; position >= 0; --position) {
      stride_of_dim_[dim_at_[position]] = stride;
      extent_of_dim_[dim_at_[position]] = extent_[position];
      stride *= extent_[position];
    }
    tiles_ = static_cast<uint64_t>(stride);
    // The run loop is the innermost dimension that actually loops (extent > 1); neighbouring
    // runs differ in the next one out.
    for (int position = 3; position >= 0; --position) {
      if (extent_[position] <= 1) continue;
      if (inner_dim_ < 0)
        inner_dim_ = dim_at_[position];
      else if (outer_dim_ < 0)
        outer_dim_ = dim_at_[position];
    }
  }
  static LoopNest of_box(const proto::TileBox& box, const proto::LoopNestOrder& order) {
    const int64_t extents[4] = {box.b1 - box.b0, box.i1 - box.i0, box.j1 - box.j0, box.k1 - box.k0};
    return LoopNest(extents, order);
  }
  static LoopNest of_grid(const proto::TileGrid& grid, const proto::LoopNestOrder& order) {
    const int64_t extents[4] = {grid.b, grid.i, grid.j, grid.k};
    return LoopNest(extents, order);
  }

  uint64_t tiles() const { return tiles_; }
  int64_t extent(int dim) const { return extent_of_dim_[dim]; }
  int64_t stride(int dim) const { return stride_of_dim_[dim]; }
  // Index along `dim` of the tile at linear position `linear`.
  int64_t index_at(int dim, uint64_t linear) const {
    return static_cast<int64_t>(linear) / stride_of_dim_[dim] % extent_of_dim_[dim];
  }
  // The tile at linear position `linear` (< tiles()).
  proto::TileCoord at(uint64_t linear) const {
    int64_t index[4];
    auto rest = static_cast<int64_t>(linear);
    for (int position = 0; position < 4; ++position) {
      const int64_t stride = stride_of_dim_[dim_at_[position]];
      index[dim_at_[position]] = rest / stride;
      rest %= stride;
    }
    return proto::TileCoord{index[0], index[1], index[2], index[3]};
  }
  // Innermost looping dimension (varies along a run) and the next one out (differs between
  // neighbouring runs); -1 when there is none.
  int inner_dim() const { return inner_dim_; }
  int outer_dim() const { return outer_dim_; }
  uint64_t run_length_tiles() const {
    return inner_dim_ >= 0 ? static_cast<uint64_t>(extent_of_dim_[inner_dim_]) : 1;
  }
  uint64_t runs() const { return tiles_ / run_length_tiles(); }

 private:
  int dim_at_[4] = {0, 1, 2, 3};             // loop position (0 = outermost) -> dimension
  int64_t extent_[4] = {1, 1, 1, 1};         // by loop position
  int64_t extent_of_dim_[4] = {1, 1, 1, 1};  // by dimension
  int64_t stride_of_dim_[4] = {1, 1, 1, 1};  // by dimension
  int inner_dim_ = -1, outer_dim_ = -1;
  uint64_t tiles_ = 0;
};

}  // namespace acceltran
