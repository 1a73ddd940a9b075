// The functional data path (`acceltran simulate --functional`): the values of every tensor of a
// run, in the hardware's Q4.16 words, and the arithmetic of the engines that produce them.
//
// The store stands for the contents of main memory and the on-chip buffers (a value is the same
// wherever it resides; residency, spills and reloads are timed by the control block and the
// memory blocks). The engines call it when they run a tile job, so values are produced in the
// order the simulated hardware produces them, and a tile job reads only what its dependencies
// have written (checked: reading an element no job has written is an error).
//
//   MAC lanes (PeArray): matmul tiles multiply Q4.16 x Q4.16 into a wide accumulator (exact: the
//     products and their sums are integers below 2^53, accumulated in double); when an output
//     tile has all its k tiles, it is rounded (round half up, >> 16), the bias added, saturated
//     to 20 bits, and handed to the post-sparsity unit (DynaTran) if the op is pruned. The
//     pre-sparsity unit's count of effectual MACs per tile (both operands non-zero) comes from
//     the operands' masks: sum over k of nnz(A column k) x nnz(B row k).
//   EWISE (adds) and ACT (GELU, tanh form, hw/compute/fixed_point.hpp) tiles element-wise.
//   Softmax and layer-norm modules: whole row panels (a block never splits a row), with the
//     Q4.16 approximations of hw/compute/softmax_engine.cpp and layer_norm_engine.cpp.
//
// Weights come from BertWeights (a checkpoint or synthetic), converted to Q4.16 once; the
// 1/sqrt(head_dim) attention scale is folded into the query weights and bias.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/compiler/isa.hpp"
#include "acceltran/hw/compute/datapath_port.hpp"
#include "acceltran/hw/compute/prune_policy.hpp"
#include "acceltran/workload/float_reference.hpp"
#include "acceltran/workload/weights.hpp"

namespace acceltran {

struct FunctionalInput {
  const BertWeights* weights = nullptr;
  std::vector<std::vector<int32_t>> tokens;  // batch sequences of seq_len ids
  // Per sequence, 1 for a real token and 0 for padding (Hugging Face's attention_mask); empty
  // when every token is real.
  std::vector<std::vector<uint8_t>> attention_mask;
  AttentionKind attention = AttentionKind::bidirectional;  // causal: refused (not yet supported)
  std::string tokens_source;
  PruneMode prune;
  // Per tensor class pruning; empty name: uniform_policy(prune), as before policies.
  PrunePolicy policy;
};

// Zeros of one tensor class over the run, after pruning: over every element (the published
// count, padding included) and without padding (rows of padding tokens and, for scores and
// probabilities, padding keys left out).
struct ClassCount {
  uint64_t elements = 0, zeros = 0, unpadded_elements = 0, unpadded_zeros = 0;
  double sparsity() const {
    return elements ? static_cast<double>(zeros) / static_cast<double>(elements) : 0;
  }
  double unpadded_sparsity() const {
    return unpadded_elements
               ? static_cast<double>(unpadded_zeros) / static_cast<double>(unpadded_elements)
               : 0;
  }
};

// Measured per op: output elements and zeros (after pruning), saturations, effectual MACs.
struct OpValues {
  uint64_t elements = 0, zeros = 0, saturated = 0, effectual_macs = 0;
  double sparsity() const {
    return elements ? static_cast<double>(zeros) / static_cast<double>(elements) : 0;
  }
};

namespace fx {
// GELU in Q4.16, tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), tanh from the exp
// unit of the softmax modules; error bound in docs/dynatran.md (measured by a testbench).
int32_t gelu(int32_t x);
}  // namespace fx

class Datapath : public TileJobDatapath {
 public:
  // Throws InputError when the program is not a BERT encoder of the weights' shape (default
  // profile only), or the tokens disagree with its batch and sequence length.
  Datapath(const Program& prog, const FunctionalInput& in);

  // MAC lanes: tiles [first, first + count) of `block` of `op` (MATMUL, EWISE or ACT) in the
  // block's loop-order enumeration. For matmuls, eff[t] receives the effectual MACs of tile
  // first + t. Finalised outputs of a pruned op go through `post`.
  JobData run_lane_job(const Op& op, uint32_t block, const LoopOrder& order, uint64_t first,
                       uint64_t count, uint64_t* eff, PostSparsity* post);
  // Softmax / layer-norm modules: the row panels touched by the tiles of the job.
  JobData run_row_job(const Op& op, uint32_t block, const LoopOrder& order, uint64_t first,
                      uint64_t count, PostSparsity* post);
  // The same for an engine's job descriptor: its op id resolved against the program (the
  // engines never see the program's types).
  JobData run_lane_job(const proto::TileJob& job, uint64_t* effectual_macs,
                       PostSparsity* post) override;
  JobData run_row_job(const proto::TileJob& job, PostSparsity* post) override;

  const std::vector<int32_t>& values(TensorId t) const { return vals_[t]; }
  // The memory image of part `part` of tensor `t` (compiler/parts.hpp: elements in batch, row,
  // column order): its non-zero Q4.16 words packed as 20-bit little-endian fields, then its
  // 1-bit mask (LSB first). out is resized to data_bytes + mask_bytes. Throws std::logic_error
  // if the tensor's values are not (or no longer) held.
  void pack_part(TensorId t, uint32_t part, std::vector<unsigned char>& out, uint64_t& data_bytes,
                 uint64_t& mask_bytes) const;
  const Program& program() const { return prog_; }
  const std::vector<OpValues>& op_values() const { return opv_; }
  // The outputs of the embeddings and of every layer, in order (kept for the report).
  const std::vector<TensorId>& layer_outputs() const { return layer_outputs_; }
  // Measured zero fraction of every tensor: weights as loaded, activations as written (after
  // pruning); for `--sparsity-profile`.
  double tensor_sparsity(TensorId t) const {
    return tensor_n_[t] ? static_cast<double>(tensor_z_[t]) / static_cast<double>(tensor_n_[t]) : 0;
  }
  const FunctionalInput& input() const { return in_; }
  // The policy the post-sparsity units apply (the input's, or the uniform one of its mode).
  const PrunePolicy& policy() const { return policy_; }
  // Per tensor class (TensorKind order), measured on the pruned ops' outputs.
  const std::array<ClassCount, kTensorKinds>& class_counts() const { return class_counts_; }
  // The linear layers' weight matrices as loaded (Q4.16; after the policy's tau_w).
  const ClassCount& weight_count() const { return weight_count_; }
  // 1 when token `position` of sequence `sequence` is real (no mask: always).
  bool real_token(int64_t sequence, int64_t position) const {
    return in_.attention_mask.empty() ||
           in_.attention_mask[static_cast<size_t>(sequence)][static_cast<size_t>(position)] != 0;
  }

 private:
  const Op& op_of(const proto::TileJob& job) const;
  struct Acc {                    // per matmul op, while it runs
    std::vector<double> sum;      // b x m x n, exact integer sums of Q8.32 products
    std::vector<uint16_t> kdone;  // per output tile: k tiles accumulated
    std::vector<uint16_t> jdone;  // per row panel (b tile, i tile): output tiles final (top-k)
  };
  void check_attention_mask() const;
  void classify_pruned_ops();
  // Prunes (by the policy's rule of each column's class) and counts an output block of a pruned
  // op: batch b, rows [r0, r1), op columns [c0, c1); returns its zeros after pruning.
  uint64_t prune_output(const Op& op, int64_t b, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                        PostSparsity* post);
  void count_classes(const Op& op, int64_t b, int64_t r0, int64_t r1, int64_t c0, int64_t c1);
  TensorKind column_kind(const Op& op, int64_t c) const;
  void load_parameters();
  void fill_token_rows(std::vector<int32_t>& values) const;
  bool fill_embedding(const Tensor& tensor, std::vector<int32_t>& values) const;
  bool fill_layer_parameter(const Tensor& tensor, int layer, const std::string& local,
                            std::vector<int32_t>& values) const;
  int32_t* out_ptr(const Op& op, int64_t b, int64_t r, int64_t c);
  // Written bitmap per tensor at (batch, tile_x rows, tile_y columns) granularity.
  void check_written(const Op& op, TensorId t, int64_t b0, int64_t b1, int64_t r0, int64_t r1,
                     int64_t c0, int64_t c1) const;
  void mark_written(TensorId t, int64_t b0, int64_t b1, int64_t r0, int64_t r1, int64_t c0,
                    int64_t c1);
  uint64_t pack_matmul_b(const Tensor& TB, char mode, int64_t bB, int64_t col, int64_t j0,
                         int64_t N, int64_t k0, int64_t K);
  void matmul_box(const Op& op, const int64_t lo[4], const int64_t hi[4], uint64_t u0,
                  const int64_t ustride[4], uint64_t* eff, uint64_t first, JobData& jd,
                  PostSparsity* post);
  void finalize_tile(const Op& op, int64_t bt, int64_t it, int64_t jt, JobData& jd,
                     PostSparsity* post);
  void topk_panel(const Op& op, int64_t bt, int64_t it, JobData& jd, PostSparsity* post);
  void elementwise_tile(const Op& op, const TileIndex& t, JobData& jd, double& zeros_a,
                        double& zeros_b, double& read);
  void row_panel(const Op& op, int64_t bt, int64_t it, JobData& jd, double& zeros_in, double& read,
                 PostSparsity* post);
  // Counts an op's tiles; when all have run, frees its accumulator and the inputs no later op
  // reads (layer outputs are kept for the report).
  void op_progress(const Op& op, uint64_t tiles);
  // Zeros of an output block as written (when no post-sparsity unit counted them).
  uint64_t output_zeros(const Op& op, int64_t b0, int64_t b1, int64_t r0, int64_t r1, int64_t c0,
                        int64_t c1);
  // Adds n finalised output elements with `zeros` zeros to the job, the op and its tensor.
  void record_output(const Op& op, uint64_t n, uint64_t zeros, JobData& jd);

  const Program& prog_;
  FunctionalInput in_;
  int64_t tb_, tx_, ty_;
  std::vector<std::vector<int32_t>> vals_;
  std::vector<std::vector<uint8_t>> written_;
  std::vector<Acc> acc_;
  std::vector<OpValues> opv_;
  std::vector<std::vector<uint8_t>> rows_done_;  // per row op: row panel computed
  std::vector<uint64_t> tiles_done_;
  std::vector<uint64_t> tensor_z_, tensor_n_;  // per tensor: zeros and elements measured
  std::vector<uint32_t> readers_left_;         // per tensor: ops reading it that have not finished
  std::vector<bool> keep_;                     // per tensor: a layer output (kept for the report)
  double read_a_ = 0, read_b_ = 0, zeros_a_ = 0, zeros_b_ = 0;
  std::vector<double> pa_, pb_;         // packed operands (scratch)
  std::vector<int32_t> nnz_a_, nnz_b_;  // non-zeros per tile row / column and k (scratch)
  std::vector<TensorId> layer_outputs_;
  std::vector<int32_t> scratch_;
  PrunePolicy policy_;
  // Per op: -1 not pruned, -2 the fused Q/K/V (class by column), else its TensorKind.
  std::vector<int> op_kind_;
  std::vector<bool> needs_panel_;  // per op: a class it writes is pruned by top-k (whole rows)
  std::vector<std::array<BlockPrune, kTensorKinds>> op_rules_;  // per pruned op, per class
  std::array<ClassCount, kTensorKinds> class_counts_{};
  ClassCount weight_count_;
  BertWeights pruned_weights_;  // the policy's tau_w applied (in_.weights points here then)
};

// The float reference's prune spec for a policy (same classes, taus, top-k rule).
PruneSpec reference_spec(const PrunePolicy& policy);
// Sets |w| <= policy.weight_tau to 0 in the linear layers' weight matrices (Q, K, V, attention
// output, FFN intermediate and output; not biases, embeddings or LayerNorm), as the published
// code's prune_weights. No-op when weight_tau < 0.
void prune_weights(BertWeights& weights, const PrunePolicy& policy);

// The policy, the per class sparsities (both counts) and the padding of a run, into its result.
struct FunctionalResult;
void add_class_sparsity(const Datapath& dp, FunctionalResult& result);

// Runs every op of the program through the data path alone (no kernel, no timing), blocks in
// program order: the values and measured sparsities of a functional run, for calibration.
void run_datapath(Datapath& dp, PostSparsity& post);

}  // namespace acceltran
