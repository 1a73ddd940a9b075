// Pruning policies (docs/dynatran.md, "Pruning policies"): per tensor class, whether the
// post-sparsity units prune it and how (DynaTran's threshold tau or top-k), plus the weights'
// threshold tau_w. `--prune dynatran --threshold T` and `--prune topk --topk K` are the uniform
// policy; `--policy NAME|FILE` selects a built-in policy (published, uniform, unscaled) or reads a
// YAML policy file.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "acceltran/hw/compute/datapath_port.hpp"

namespace acceltran {

// The tensor classes a policy names, in computation order (the float reference's PrunePoint
// order). q is X Wq^T + bq: the data path holds it scaled by 1/sqrt(head_dim) (the scale folded
// into Wq), and the scores Q K^T with it.
enum class TensorKind : int {
  query,
  key,
  value,
  scores,
  probabilities,
  context,
  attention_output,
  ffn_intermediate,
  ffn_output
};
constexpr int kTensorKinds = 9;
// "q", "k", "v", "scores", "probabilities", "context", "attention_output",
// "ffn_intermediate", "ffn_output".
const char* tensor_kind_name(TensorKind kind);

struct KindRule {
  enum class Mode { off, threshold, topk };
  Mode mode = Mode::off;
  double tau = 0;         // threshold: |x| <= tau -> 0
  int64_t k = 0;          // topk: values kept per row segment (0: k_fraction)
  double k_fraction = 0;  // topk: ceil(k_fraction x row segment width) kept
  // Values kept of a row segment of `width` values.
  int64_t kept_of(int64_t width) const;
};

struct PrunePolicy {
  std::string name;  // "uniform", "published", "unscaled", or the file
  std::array<KindRule, kTensorKinds> rules;
  double weight_tau =
      -1;  // >= 0: weights with |w| <= weight_tau set to 0 at load (before the fold)
  // true: the thresholds of q and scores are the model's unscaled values (the published code
  // compares before the 1/sqrt(d) scale): the comparators get tau / sqrt(head_dim). false: tau
  // is compared with the values the hardware holds (scaled).
  bool tau_before_fold = false;
  // true (published): top-k keeps the values above the k-th largest (k - 1 without ties) and
  // leaves a row of at most k values alone; false: the k largest |x| stay (ties: leftmost).
  bool topk_above_kth = false;
  bool uniform = false;  // made from a PruneMode: every class the same, as before policies
  // The pooler's dense output W_p h_[CLS] + b_p, before tanh: the published code's tenth pruned
  // tensor. The pooler is the task head's, computed on the host (workload/heads.hpp) by
  // `evaluate`, not by the accelerator. `pooler` is off or a threshold (compared with the float
  // values); with count_pooler its [zeros, elements] join evaluate's sparsity, as the published
  // code appends them (the published policy, or a policy file with a `pooler` key).
  KindRule pooler;
  bool count_pooler = false;
  // The pooler's tau: < 0 when the policy does not prune it.
  double pooler_tau() const { return pooler.mode == KindRule::Mode::threshold ? pooler.tau : -1; }

  const KindRule& rule(TensorKind kind) const { return rules[static_cast<size_t>(kind)]; }
  KindRule& rule(TensorKind kind) { return rules[static_cast<size_t>(kind)]; }
  // The block rule the post-sparsity units apply to a tensor of `kind` whose top-k row
  // segments are `segment` values wide.
  BlockPrune block_rule(TensorKind kind, int64_t segment, int64_t head_dim) const;
  // One line: "published tau=0.05", "uniform topk k=8", or per class for a file.
  std::string describe() const;
};

// Every class pruned alike, as `--prune dynatran --threshold T` / `--prune topk --topk K`.
PrunePolicy uniform_policy(const PruneMode& mode);
// Built-in policies (docs/dynatran.md): "uniform" (as above), "published" (the paper's
// DynaTran with tau, or its top-k on the probabilities alone with k; tau and k are those of
// `mode`), "unscaled" (every class at tau, q and scores compared before the 1/sqrt(d) fold).
// Throws UsageError naming the allowed names.
PrunePolicy builtin_policy(const std::string& name, const PruneMode& mode);
bool is_builtin_policy(const std::string& name);
// Reads a YAML policy file (docs/dynatran.md, "Policy files"); InputError naming the file, the
// key and the allowed values.
PrunePolicy read_policy_file(const std::string& path);
// The policy as a YAML policy file (read_policy_file reads it back).
std::string policy_yaml(const PrunePolicy& policy);
// reference_spec() and prune_weights(): hw/compute/datapath.hpp (they see the workload).
}  // namespace acceltran
