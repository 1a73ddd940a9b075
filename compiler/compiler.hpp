// The compiler front end: model description -> operation graph -> tiled instruction stream.
#pragma once
#include <map>
#include <string>

#include "acceltran/compiler/isa.hpp"
#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/config/profile.hpp"
#include "acceltran/config/zero_free_format.hpp"
#include "acceltran/workload/model.hpp"

namespace acceltran {

struct CompileOptions {
  // hardware: the real encoder (docs/compute.md). reference: the published simulator's
  // conventions (weights carry the batch dimension, whole embedding table loaded, no residual
  // adds, an activation op after every FFN product sized from its input; docs/fidelity.md).
  Profile profile = Profile::hardware;
  int64_t seq_len = 128;
  int64_t batch = 0;                // 0: the accelerator's batch_size
  double activation_sparsity = -1;  // < 0: technology default_sparsity.activation
  double weight_sparsity = -1;      // < 0: technology default_sparsity.weight
  // 0: one tile-job instruction per block; 1: one per tile. Profile hardware: issue bookkeeping
  // only (issue_groups.hpp); reference: the published issue batch (docs/isa.md, "Issue groups").
  uint64_t tiles_per_instruction = 0;
  // Lower only layer 0 (and the embeddings), like the published simulator's --first_layer_only;
  // reference profile: with the projection to layer 1's width where it differs, as published
  // (docs/fidelity.md, "First layer only").
  bool first_layer_only = false;
  // Default profile: fraction of each buffer one block's working set may use (the rest holds
  // prefetched weights and other live activations); 0: no blocks (every op one block). See
  // docs/memory.md.
  double block_budget = 0.5;
  // Default profile: row blocks per op wanted for producer-consumer pipelining (rows are split
  // further while every engine unit keeps >= 2 tiles per block); 1 (the default): the buffers
  // alone decide. Measured trade-off in docs/performance.md, "Pipelining by smaller blocks".
  int64_t pipeline_blocks = 1;
  // Reference profile: its published-behaviour switches; the compile-side ones shape the op
  // graph (published_deps, unstored_outputs and the fixes; docs/fidelity.md).
  PublishedBehaviours published;
  // Measured zero fraction per tensor name (`--sparsity-profile`, from a functional run's
  // report): replaces the global sparsities; every tensor of the program must have an entry.
  std::map<std::string, double> tensor_sparsity;
  std::string tensor_sparsity_source;  // the file, for errors
  // Default profile: every softmax also reads the attention mask, a 1 x batch x seq_len tensor of
  // one bit per token (functional runs with padding; docs/dynatran.md).
  bool attention_mask = false;
  // Refuse to materialise more instructions than this (use a coarser tiles_per_instruction).
  uint64_t max_instructions = 50'000'000;
};

Program compile_program(const ModelDesc& model, const AcceleratorConfig& accel,
                        const Technology& tech, const CompileOptions& opts);

}  // namespace acceltran
