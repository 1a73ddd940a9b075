// What the compute engines see of the functional data path (hw/compute/datapath.hpp): tile
// jobs by their descriptor (tlm/tile_job.hpp), the post-sparsity unit that prunes finalised
// outputs, and what a job did to the data. No compiler type: the data path resolves the
// descriptor's ids against its program.
#pragma once
#include <cstdint>

#include "acceltran/tlm/tile_job.hpp"

namespace acceltran {

// How the post-sparsity units prune: DynaTran (|x| <= tau -> 0, per output tile) or top-k (the k
// largest |x| of every row segment stay; needs whole rows).
struct PruneMode {
  enum class Kind { dynatran, topk };
  Kind kind = Kind::dynatran;
  double tau = 0;    // dynatran: threshold (value, converted to Q4.16)
  int64_t topk = 0;  // topk: values kept per row segment
};

// What the comparators do to one block of a pruning policy's tensor class
// (hw/compute/prune_policy.hpp): nothing, DynaTran's threshold, or top-k per row segment.
struct BlockPrune {
  enum class Kind { none, threshold, topk };
  Kind kind = Kind::threshold;
  int32_t tau_q = 0;  // threshold: keep |x| > tau_q (Q4.16 words)
  int64_t k = 0;      // topk: values kept per row segment
  int segment = 0;    // topk: row segment width
  // topk: keep only the values above the k-th largest |x| (the published code's rule: k - 1
  // values without ties) and leave a segment of at most k values alone.
  bool above_kth = false;
};

// The post-sparsity unit as the data path sees it: prunes a rows x cols block (row stride ld) in
// place and returns its zeros after pruning; `segment` is the width of a top-k row segment.
// Implemented by the engines, which send the block to the DynaTran module over TLM.
class PostSparsity {
 public:
  virtual ~PostSparsity() = default;
  // The module's own mode (--prune / --threshold / --topk).
  virtual uint64_t prune_block(int32_t* data, int rows, int cols, int ld, int segment) = 0;
  // A policy's rule for the block (the module applies it instead of its mode). The default
  // forwards to the mode (for ports that do not carry rules).
  virtual uint64_t prune_block(int32_t* data, int rows, int cols, int ld, const BlockPrune& rule) {
    return prune_block(data, rows, cols, ld, rule.segment);
  }
};

// What a tile job did to the data: the measured zero fractions of the operands it read (for the
// zero-free byte counts) and of the outputs it finalised.
struct JobData {
  double a_sparsity = 0, b_sparsity = 0;  // operands read (A; B or the second addend)
  uint64_t out_elements = 0, out_zeros = 0;
  double out_sparsity() const {
    return out_elements ? static_cast<double>(out_zeros) / static_cast<double>(out_elements) : 0;
  }
};

// The data path as the engines drive it: one call per tile job.
class TileJobDatapath {
 public:
  virtual ~TileJobDatapath() = default;
  // MAC lanes (matmul, elementwise, activation): the job's tiles; for matmuls
  // effectual_macs[t] receives the effectual MACs of tile first_tile + t. Finalised outputs of a
  // pruned op go through `post`.
  virtual JobData run_lane_job(const proto::TileJob& job, uint64_t* effectual_macs,
                               PostSparsity* post) = 0;
  // Softmax / layer-norm modules: the row panels touched by the job's tiles.
  virtual JobData run_row_job(const proto::TileJob& job, PostSparsity* post) = 0;
};

}  // namespace acceltran
