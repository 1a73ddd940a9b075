// Shared setup of the functional testbenches: BERT-Tiny (sequence 32) compiled for Edge with
// seeded synthetic weights and random tokens, pruned by DynaTran at tau.
#pragma once
#include "../compiler/test_util.hpp"
#include "acceltran/hw/compute/datapath.hpp"
#include "acceltran/workload/weights.hpp"

namespace acceltran::testbench {

struct TinyFunctional {
  Program prog = testutil::compile("bert-tiny", "hardware", "edge", 0, 32);
  BertConfig config = load_bert_config(testutil::kModels + "/transformers/bert-tiny.json");
  BertWeights weights;
  FunctionalInput in;
  TinyFunctional(uint64_t seed, double tau) : weights(synthetic_bert_weights(config, seed)) {
    in.weights = &weights;
    in.tokens = random_tokens(prog.info.batch, prog.info.seq_len, config, seed).sequences;
    in.tokens_source = "random";
    in.prune.tau = tau;
  }
  TinyFunctional(const TinyFunctional&) = delete;  // in.weights points into this object
  TinyFunctional& operator=(const TinyFunctional&) = delete;
};

}  // namespace acceltran::testbench
