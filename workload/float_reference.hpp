// An independent float32 BERT encoder: the golden reference that functional simulations are
// compared with. Plain C++ sharing no arithmetic with the hardware engines (hw/); it follows
// Hugging Face's BertModel in eval mode (no dropout), one sequence at a time, token type 0,
// positions 0..S-1, and an optional padding mask (keys with mask 0 get probability exactly 0, as
// Hugging Face's additive mask gives in float32; a row with no unmasked key attends every key, as
// the additive mask's uniform shift does).
//
// Optional pruning hook: DynaTran (|x| <= tau -> 0) or top-k (keep the k largest |x| of each
// row) applied at chosen points of every layer, with the measured sparsity of every point.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "acceltran/workload/safetensors.hpp"
#include "acceltran/workload/weights.hpp"

namespace acceltran {

// Tensors of one layer that pruning may act on, in computation order. Rows (for top-k):
// query/key/value/context: one token's head_dim values of one head; scores/probs: one query's S
// values of one head; attn_out/ffn_up/ffn_down: one token's output features.
enum class PrunePoint : int {
  query,     // X Wq^T + bq, scaled by 1/sqrt(head_dim) (the scale folded into Wq, as in hw)
  key,       // X Wk^T + bk
  value,     // X Wv^T + bv
  scores,    // Q K^T per head
  probs,     // softmax(scores)
  context,   // probs V per head (heads concatenated)
  attn_out,  // attention output projection, before the residual add
  ffn_up,    // intermediate dense, before the activation (GELU(0) = 0 keeps its zeros)
  ffn_down,  // output dense, before the residual add
};
constexpr int kPrunePoints = 9;
const char* to_string(PrunePoint p);

struct PruneSpec {
  enum class Mode { none, threshold, topk };
  Mode mode = Mode::none;
  double tau = 0;  // threshold: |x| <= tau becomes 0
  int64_t k = 0;   // topk: per row, the k largest |x| stay (ties: the leftmost), the rest 0
  // Points pruned; by default every point, as DynaTran prunes all of them in AccelTran
  // (embeddings, layer-norm outputs, residual sums and activation outputs are never pruned).
  std::array<bool, kPrunePoints> at = {true, true, true, true, true, true, true, true, true};

  static PruneSpec dynatran(double tau);
  static PruneSpec topk(int64_t k);

  // Pruning policies (hw/compute/prune_policy.hpp): per point rules instead of (mode, tau, k,
  // at) when per_point is set.
  struct PointRule {
    Mode mode = Mode::none;
    double tau = 0;
    int64_t k = 0;          // topk: kept per row (0: k_fraction of the row)
    double k_fraction = 0;  // topk: ceil(k_fraction x row width) kept
  };
  bool per_point = false;
  std::array<PointRule, kPrunePoints> point{};
  // query and scores: tau is the unscaled value's (compare |x| <= tau / sqrt(head_dim)).
  bool tau_before_scale = false;
  // top-k keeps only |x| above the k-th largest (the published rule) and leaves rows of at most
  // k values alone.
  bool topk_above_kth = false;
  PointRule rule_at(PrunePoint p) const;
};

struct ZeroCount {
  uint64_t elements = 0, zeros = 0;
  double sparsity() const { return elements ? static_cast<double>(zeros) / elements : 0.0; }
};

struct ReferenceResult {
  // hidden[0]: after the embeddings' layer norm; hidden[l + 1]: output of layer l; each [S, h].
  std::vector<FloatTensor> hidden;
  // Exact zeros at every point of every layer after pruning (counted at unpruned points too).
  std::vector<std::array<ZeroCount, kPrunePoints>> zeros;
  // The same without padding: rows of masked tokens and, for scores and probs, masked keys left
  // out (equal to `zeros` without a mask).
  std::vector<std::array<ZeroCount, kPrunePoints>> zeros_unpadded;
};

// Which keys a query attends: every unmasked key (BERT), or a decoder's causal mask (a hook:
// refused with an InputError until supported).
enum class AttentionKind { bidirectional, causal };

// Called at every prune point of every layer, after pruning, with the block just computed:
// layer, head (-1 for attn_out, ffn_up, ffn_down), point, and a rows x cols block of row
// stride ld. Lets a functional simulation compare its tensors op by op.
using TensorObserver =
    std::function<void(int64_t layer, int64_t head, PrunePoint point, const float* data,
                       int64_t rows, int64_t cols, int64_t ld)>;

// Runs one sequence. Throws InputError for an empty sequence, an id outside the vocabulary or a
// sequence longer than max_position, or an invalid prune spec (tau < 0, k < 1).
ReferenceResult run_float_reference(const BertWeights& weights, const std::vector<int32_t>& tokens,
                                    const PruneSpec& prune = {},
                                    const TensorObserver& observe = {});

// With a padding mask (one 0/1 per token, 1 = real; empty: every token real). Throws InputError
// for a mask of another length than the tokens, or a causal attention kind.
ReferenceResult run_float_reference(const BertWeights& weights, const std::vector<int32_t>& tokens,
                                    const std::vector<uint8_t>& attention_mask,
                                    const PruneSpec& prune = {}, const TensorObserver& observe = {},
                                    AttentionKind attention = AttentionKind::bidirectional);

// Applies a prune spec to a rows x cols block with row stride ld; returns the zeros after it.
// Exposed for tests and for the functional simulation's comparisons.
uint64_t prune_block(float* x, int64_t rows, int64_t cols, int64_t ld, const PruneSpec& prune);

}  // namespace acceltran
