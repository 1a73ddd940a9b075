// BERT encoder weights and token inputs for functional runs: a Hugging Face checkpoint
// (safetensors) checked against the model config, or seeded synthetic weights with BERT's
// initialisation; token ids from a file or seeded random tokens.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/config/input_error.hpp"
#include "acceltran/workload/model.hpp"
#include "acceltran/workload/safetensors.hpp"

namespace acceltran {

// The dimensions of a uniform BERT encoder (every layer alike, scaled dot-product heads).
struct BertConfig {
  std::string source;  // config file it came from
  int64_t layers = 0, hidden = 0, heads = 0, head_dim = 0, intermediate = 0;
  int64_t vocab_size = 0, max_position = 0, type_vocab = 0;
  double layer_norm_eps = 1e-12;  // BERT's default
  std::string hidden_act = "gelu";
};

// A BERT view of a model description. Throws InputError when the model is not a uniform BERT
// encoder (all layers the same hidden size, sa_sdp heads of one dimension that together make
// the hidden size, one feed-forward size) or its activation is not one the float reference
// computes (gelu, gelu_new, gelu_fast, gelu_pytorch_tanh, relu, silu, swish).
BertConfig bert_config(const ModelDesc& model, double layer_norm_eps = 1e-12);
// load_model() plus, for a Hugging Face config.json, its "layer_norm_eps" (a positive number).
BertConfig load_bert_config(const std::string& name_or_path);

// Linear layers keep the Hugging Face layout: weight [out, in], y = x W^T + b.
struct BertLayerWeights {
  FloatTensor query_w, query_b, key_w, key_b, value_w, value_b;  // [h, h], [h]
  FloatTensor attn_out_w, attn_out_b;                            // [h, h], [h]
  FloatTensor attn_ln_gamma, attn_ln_beta;                       // [h]
  FloatTensor inter_w, inter_b;                                  // [f, h], [f]
  FloatTensor out_w, out_b;                                      // [h, f], [h]
  FloatTensor out_ln_gamma, out_ln_beta;                         // [h]
};

struct BertWeights {
  BertConfig config;
  std::string source;  // the safetensors file, or "synthetic (seed N)"
  bool synthetic = false;
  uint64_t seed = 0;                      // synthetic weights only
  FloatTensor word_emb;                   // [vocab, h]
  FloatTensor pos_emb;                    // [max_position, h]
  FloatTensor type_emb;                   // [type_vocab, h]
  FloatTensor emb_ln_gamma, emb_ln_beta;  // [h]
  std::vector<BertLayerWeights> layers;
};

// The Hugging Face tensor names of one layer's / the embeddings' parameters, without prefix,
// in the order synthetic_bert_weights() documents ("encoder.layer.0.attention.self.query.weight",
// ...). LayerNorm parameters are named weight/bias; the reader also accepts gamma/beta.
std::vector<std::string> bert_tensor_names(const BertConfig& config);

// Reads a Hugging Face BERT checkpoint: tensors named as in bert_tensor_names(), all with or all
// without the "bert." prefix; F32, F16 or BF16; every shape checked against `config`. Other
// tensors (pooler, heads, position_ids) are ignored. Throws InputError naming the file and the
// tensor for a missing tensor or a wrong shape.
BertWeights load_bert_weights(const std::string& safetensors_path, const BertConfig& config);

// Throws InputError naming the weights' source and the tensor when a tensor's shape (or the
// number of layers) disagrees with weights.config; for weights built or edited in code.
void check_bert_weights(const BertWeights& weights);

// BERT's initialisation, deterministic for a seed on every platform: every weight matrix and
// embedding table normal(0, 0.02) (the word-embedding row of the padding token 0 set to 0, as
// Hugging Face does), biases 0, LayerNorm gamma 1 and beta 0. Each tensor draws from its own
// std::mt19937_64 seeded from (seed, tensor name), so its values do not depend on the other
// tensors' sizes; normals come from Marsaglia's polar form of the Box-Muller transform.
BertWeights synthetic_bert_weights(const BertConfig& config, uint64_t seed);

// n normal(mean, stddev) floats from the generator above (seed and name as for one tensor).
std::vector<float> seeded_normal(uint64_t seed, const std::string& name, size_t n, double mean,
                                 double stddev);

// Token ids, one sequence per entry.
struct TokenBatch {
  std::string source;  // the file, or "random (seed N)"
  std::vector<std::vector<int32_t>> sequences;
  // Per sequence, 1 for a real token and 0 for padding (Hugging Face's attention_mask); empty
  // when every token is real.
  std::vector<std::vector<uint8_t>> attention_mask;
};

// Reads token ids: one sequence per line, ids separated by whitespace, blank lines skipped.
// A line may end in "| m1 m2 ...": its attention mask, one 0 (padding) or 1 (a real token) per
// id (docs/dynatran.md, "Token files"). When any line has a mask, attention_mask holds one entry
// per sequence (all ones for lines without); otherwise it is empty. Sequences keep their own
// lengths (pad_token_batch pads them).
// Throws InputError "<file>:<line>: ..." for a token that is not a non-negative integer, an id
// >= vocab_size, a mask value other than 0/1, a mask of another length than its ids, or a
// sequence longer than max_position; and for a file without sequences.
TokenBatch read_tokens(const std::string& path, const BertConfig& config);
// Pads a batch as Hugging Face does: every sequence to seq_len with [PAD] (id 0) and mask 0,
// then whole-padding sequences up to `batch`. Leaves the batch unchanged (no mask) when it
// already has `batch` sequences of seq_len ids and no mask. Throws InputError naming the source
// for more than `batch` sequences or a sequence longer than seq_len.
void pad_token_batch(TokenBatch& tokens, int64_t batch, int64_t seq_len);
// `batch` sequences of `seq_len` ids drawn uniformly from [0, vocab_size).
TokenBatch random_tokens(int64_t batch, int64_t seq_len, const BertConfig& config, uint64_t seed);

}  // namespace acceltran
