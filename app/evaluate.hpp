// `acceltran evaluate`: a checkpoint with its task head (sequence classification, token
// classification or masked-LM) over a labelled dataset, for a list of pruning settings
// (docs/evaluate.md).
//
// Per setting, the functional data path (hw/compute/datapath.hpp, Q4.16, the values the
// engines compute) runs without SystemC over every batch of the dataset; the head runs on the
// host in float32 from the final hidden state (the [CLS] row, or every labelled token). Then one
// timed performance simulation (`acceltran simulate` in a child process, SystemC elaborating
// once per process) of one full batch, compiled from the tensor sparsities measured over the
// whole dataset (a --sparsity-profile), gives the cycles and energy per sequence.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/hw/compute/datapath_port.hpp"
#include "acceltran/hw/compute/prune_policy.hpp"
#include "acceltran/workload/dataset.hpp"
#include "acceltran/workload/heads.hpp"
#include "acceltran/workload/weights.hpp"
#include "common.hpp"

namespace acceltran::cli::evaluate {

struct Setting {
  // "dynatran-0.01", "topk-4", "published-dynatran-0.01", "policy-half" (a policy file's name
  // without .yaml): the point folder's name
  std::string key;
  PruneMode prune;
  std::string policy_name = "uniform";  // a built-in policy's name or the policy file's path
  bool policy_file = false;
  PrunePolicy policy;  // what the data path and the head run (built-in: made from `prune`)
};

// --threshold LIST and --topk LIST under the uniform policy: DynaTran settings first, then
// top-k, each in the given order (a value given twice is a UsageError).
std::vector<Setting> settings_from(const std::string& thresholds, const std::string& topks);

// --policy LIST (comma list): every built-in name (uniform, published, unscaled) runs every
// --threshold / --topk setting of `uniform_settings`, each policy file is one setting of its
// own. Without --policy the settings stay uniform. UsageError for an unknown name, InputError
// (naming the file and key) for a bad policy file.
std::vector<Setting> apply_policies(const std::string& policies,
                                    const std::vector<Setting>& uniform_settings);

// What every setting shares: loaded once, before the settings run (forked processes share it).
struct Shared {
  Inputs inputs;  // the accelerator, technology and model description
  BertWeights weights;
  TaskHead head;
  Dataset data;
  std::vector<DatasetBatch> batches;
  // the float reference's, per sequence: its labelled items' predictions (item_labels order)
  std::vector<std::vector<int64_t>> float_predictions;
  std::string model_arg, accel_arg;     // as given, for the timed `simulate`
  std::vector<std::string> accel_sets;  // --set KEY=VALUE, passed on
  bool allow_outside_design_space = false;
};

struct Result {
  std::string key;
  PruneMode prune;
  std::string policy = "uniform";  // the setting's policy_name
  bool policy_file = false;
  // items: the labelled items (sequences, or labelled tokens for a token-level head)
  int64_t sequences = 0, items = 0, correct = 0, agree_with_float = 0;
  // confusion[label * num_labels + prediction] (classification heads; empty for masked-LM)
  std::vector<int64_t> confusion;
  // zeros / elements over the pruned ops (and the pooler when the policy counts it)
  double sparsity = 0;
  std::map<std::string, double> class_sparsity;  // per tensor class (op name without L/H)
  double cycles_per_sequence = 0, energy_per_sequence_mj = 0;
  uint64_t batch_cycles = 0;
};

// The float reference's predictions: every sequence alone, its padding cut off (what a padding
// mask computes), token type 0, no pruning.
std::vector<std::vector<int64_t>> float_predictions(const BertWeights& weights,
                                                    const TaskHead& head, const Dataset& data);

// The labels of sequence i's items: {label} for sequence classification, else its labelled
// tokens' labels in position order.
std::vector<int64_t> item_labels(const Dataset& data, const TaskHead& head, int64_t i);

// Runs one setting in this process: the data path over every batch (accuracy, sparsity; the
// last batch's padded rows are not run: values per row do not depend on the other rows), then
// the timed simulation in `dir` (a child process). Writes dir/result.json last.
Result run_setting(const Shared& shared, const Setting& setting, const std::string& dir);

// result.json of a finished setting, or false when it is missing or was made from other inputs.
bool load_result(const std::string& dir, const std::string& inputs_digest, Result& out);
void save_result(const std::string& dir, const std::string& inputs_digest, const Result& r);

// Runs the settings without a result.json from these inputs (`jobs` forked processes at once,
// progress on a terminal), loads the others; returns the number that failed.
int run_all(const Shared& s, const std::vector<Setting>& settings, const std::string& out,
            const std::string& digest, int jobs, std::vector<Result>& results);

// OUT/accuracy_vs_sparsity.png from OUT/results.csv (tools/plot_evaluate.py; a note when no
// Python with matplotlib is found).
void plot(const std::string& out);

// results.csv, one row per setting; float_accuracy is the float reference's.
void write_csv(const std::string& path, const std::vector<Result>& results, const Shared& shared);

}  // namespace acceltran::cli::evaluate
