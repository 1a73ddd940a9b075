// Functional runs' inputs (`simulate --functional`, `calibrate`): the model's BERT view,
// weights (checkpoint or synthetic), tokens (file or seeded) and the pruning mode.
#pragma once
#include "acceltran/hw/compute/datapath.hpp"
#include "acceltran/workload/weights.hpp"
#include "common.hpp"

namespace acceltran::cli {

struct FunctionalSetup {
  BertConfig cfg;
  BertWeights weights;
  FunctionalInput in;     // in.weights points at `weights`: do not copy or move a setup
  TokenBatch token_file;  // --tokens as read (padded into `in` by finish_functional)
  FunctionalSetup() = default;
  FunctionalSetup(const FunctionalSetup&) = delete;
  FunctionalSetup& operator=(const FunctionalSetup&) = delete;
};

// --weights, --tokens, --seed, --prune, --topk, --policy.
void add_functional_options(po::options_description& desc);
// Before load_inputs(): reads the config, weights, tokens and policy; a token file sets
// --seq-len (its longest sequence) when not given, and --batch (its sequences) with
// --allow-outside-design-space.
void prepare_functional(po::variables_map& vm, FunctionalSetup& fs);
// After load_inputs(): the default profile only; the token file padded to the batch and
// sequence length (with its attention mask), or seeded tokens when no file was given.
void finish_functional(const po::variables_map& vm, Inputs& in, FunctionalSetup& fs);

// Runs the data path alone over `prog` (same values as the functional simulation) and compiles
// `prog` again from every tensor's measured zero fraction: the functional run's transfer sizes
// and buffer reservations come from the data.
void compile_from_measured_sparsity(const FunctionalInput& in, Inputs& inputs, Program& prog);

}  // namespace acceltran::cli
