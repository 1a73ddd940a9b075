#include "acceltran/compiler/parts.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace acceltran {

namespace {
int64_t clip(int64_t v, int64_t hi) {
  return std::max<int64_t>(0, std::min(v, hi));
}
}  // namespace

BlockGrid block_grid(const Op& op) {
  BlockGrid g;
  const int64_t grid[4] = {op.grid_b, op.grid_i, op.grid_j, op.grid_k};
  const int64_t blk[4] = {op.blk_b, op.blk_i, op.blk_j, op.blk_k};
  for (int d = 0; d < 4; ++d) {
    g.size[d] = blk[d] > 0 ? std::min(blk[d], grid[d]) : grid[d];
    g.count[d] = (grid[d] + g.size[d] - 1) / g.size[d];
  }
  return g;
}

BlockBox block_box(const Op& op, const BlockGrid& g, uint64_t index) {
  const int64_t grid[4] = {op.grid_b, op.grid_i, op.grid_j, op.grid_k};
  int64_t at[4];
  auto rest = static_cast<int64_t>(index);
  for (int d = 3; d >= 0; --d) {
    at[d] = rest % g.count[d];
    rest /= g.count[d];
  }
  int64_t lo[4], hi[4];
  for (int d = 0; d < 4; ++d) {
    lo[d] = at[d] * g.size[d];
    hi[d] = std::min(grid[d], lo[d] + g.size[d]);
  }
  return BlockBox{lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], lo[3], hi[3]};
}

BlockBox block_box(const Op& op, uint64_t index) {
  return block_box(op, block_grid(op), index);
}

BlockBox tile_range_box(const BlockBox& blk, const LoopOrder& order, uint64_t first,
                        uint64_t count) {
  if (count == 0 || (first == 0 && count >= blk.tiles())) return blk;
  const int64_t lo[4] = {blk.b0, blk.i0, blk.j0, blk.k0};
  const int64_t ext[4] = {blk.eb(), blk.ei(), blk.ej(), blk.ek()};
  int dim[4];
  int64_t stride[4];
  for (int p = 0; p < 4; ++p) {
    const char c = order.dims[p];
    dim[p] = c == 'b' ? 0 : c == 'i' ? 1 : c == 'j' ? 2 : 3;
  }
  int64_t acc = 1;
  for (int p = 3; p >= 0; --p) {
    stride[p] = acc;
    acc *= ext[dim[p]];
  }
  const int64_t a = static_cast<int64_t>(first), z = static_cast<int64_t>(first + count - 1);
  int64_t out_lo[4], out_hi[4];
  bool spread = false;  // an outer digit differs: every inner digit takes all its values
  for (int p = 0; p < 4; ++p) {
    const int d = dim[p];
    const int64_t da = (a / stride[p]) % ext[d], dz = (z / stride[p]) % ext[d];
    if (spread) {
      out_lo[d] = 0;
      out_hi[d] = ext[d];
    } else {
      out_lo[d] = std::min(da, dz);
      out_hi[d] = std::max(da, dz) + 1;
      spread = da != dz;
    }
  }
  return BlockBox{lo[0] + out_lo[0], lo[0] + out_hi[0], lo[1] + out_lo[1], lo[1] + out_hi[1],
                  lo[2] + out_lo[2], lo[2] + out_hi[2], lo[3] + out_lo[3], lo[3] + out_hi[3]};
}

char input_mode(const Op& op, size_t input) {
  if (input < op.in_rows.size()) return op.in_rows[input];
  if (op.kind == OpKind::matmul) return input == 0 ? 'm' : input == 1 ? 'k' : 'a';
  return 'm';
}

ElemBox input_box(const Program& p, const Op& op, size_t input, const BlockBox& blk) {
  const Tensor& t = p.tensors[op.inputs[input]];
  const TileShape& ts = p.info.tile;
  const bool mm = op.kind == OpKind::matmul;
  const int64_t c = input < op.in_col.size() ? op.in_col[input] : 0;
  ElemBox e;
  if (t.batch > 1) {
    e.b0 = clip(blk.b0 * ts.b, t.batch);
    e.b1 = clip(blk.b1 * ts.b, t.batch);
  } else {
    e.b0 = 0;
    e.b1 = 1;
  }
  e.r0 = 0;
  e.r1 = t.rows;
  e.c0 = 0;
  e.c1 = t.cols;
  // The columns an activation operand contributes follow the op's reduction (k) for a
  // matmul's A and a transposed B, its output columns (j) for a matmul's B and element-wise
  // inputs; offset by the input's first column.
  auto cols_k = [&] {
    e.c0 = clip(c + blk.k0 * ts.x, t.cols);
    e.c1 = clip(c + blk.k1 * ts.x, t.cols);
  };
  auto cols_j = [&] {
    e.c0 = clip(c + blk.j0 * ts.y, t.cols);
    e.c1 = clip(c + blk.j1 * ts.y, t.cols);
  };
  switch (input_mode(op, input)) {
    case 'm':
      e.r0 = clip(blk.i0 * ts.x, t.rows);
      e.r1 = clip(blk.i1 * ts.x, t.rows);
      mm ? cols_k() : cols_j();
      break;
    case 'k':
      e.r0 = clip(blk.k0 * ts.x, t.rows);
      e.r1 = clip(blk.k1 * ts.x, t.rows);
      if (mm) cols_j();
      break;
    case 'n':
      e.r0 = clip(blk.j0 * ts.y, t.rows);
      e.r1 = clip(blk.j1 * ts.y, t.rows);
      cols_k();
      break;
    default:  // 'a': the whole tensor
      e.b0 = 0;
      e.b1 = t.batch;
      break;
  }
  return e;
}

ElemBox output_box(const Program& p, const Op& op, const BlockBox& blk) {
  const Tensor& t = p.tensors[op.output];
  const TileShape& ts = p.info.tile;
  ElemBox e{0, t.batch, 0, t.rows, 0, t.cols};
  if (op.out_rows == 'a') return e;
  if (t.batch > 1) {
    e.b0 = clip(blk.b0 * ts.b, t.batch);
    e.b1 = clip(blk.b1 * ts.b, t.batch);
  }
  e.r0 = clip(blk.i0 * ts.x, t.rows);
  e.r1 = clip(blk.i1 * ts.x, t.rows);
  const int64_t col_end = std::min(t.cols, op.out_col + op.n);
  e.c0 = clip(op.out_col + blk.j0 * ts.y, col_end);
  e.c1 = clip(op.out_col + blk.j1 * ts.y, col_end);
  return e;
}

PartGrid part_grid(const Tensor& t) {
  PartGrid g;
  const int64_t ext[3] = {t.batch, t.rows, t.cols};
  const int64_t part[3] = {t.part_b, t.part_rows, t.part_cols};
  for (int d = 0; d < 3; ++d) {
    g.size[d] = part[d] > 0 ? std::min(part[d], std::max<int64_t>(1, ext[d]))
                            : std::max<int64_t>(1, ext[d]);
    g.count[d] = (std::max<int64_t>(1, ext[d]) + g.size[d] - 1) / g.size[d];
  }
  return g;
}

uint64_t part_elements(const Tensor& t, const PartGrid& g, uint32_t part) {
  const int64_t ext[3] = {t.batch, t.rows, t.cols};
  int64_t at[3];
  int64_t rest = part;
  for (int d = 2; d >= 0; --d) {
    at[d] = rest % g.count[d];
    rest /= g.count[d];
  }
  uint64_t n = 1;
  for (int d = 0; d < 3; ++d)
    n *= static_cast<uint64_t>(std::min(g.size[d], ext[d] - at[d] * g.size[d]));
  return n;
}

uint64_t part_data_bytes(const Tensor& t, const PartGrid& g, uint32_t part, int word_bits) {
  if (g.parts() == 1) return t.data_bytes;
  return zero_free_bytes(part_elements(t, g, part), word_bits, t.sparsity);
}

WorkingSet block_working_set(const Program& p, const Op& op, const BlockBox& blk) {
  std::vector<std::pair<TensorId, uint32_t>> parts;
  auto collect = [&](TensorId id, const ElemBox& box) {
    for_each_part(part_grid(p.tensors[id]), box,
                  [&](uint32_t part) { parts.emplace_back(id, part); });
  };
  for (size_t n = 0; n < op.inputs.size(); ++n) collect(op.inputs[n], input_box(p, op, n, blk));
  collect(op.output, output_box(p, op, blk));
  std::sort(parts.begin(), parts.end());
  parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
  WorkingSet ws;
  for (const auto& [id, part] : parts) {
    const Tensor& t = p.tensors[id];
    const PartGrid g = part_grid(t);
    const uint64_t data = part_data_bytes(t, g, part, p.info.word_bits);
    (t.cls == TensorClass::activation ? ws.activation_bytes : ws.weight_bytes) += data;
    ws.mask_bytes += part_mask_bytes(t, g, part);
  }
  return ws;
}

}  // namespace acceltran
