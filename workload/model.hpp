// Transformer descriptions: FlexiBERT-2.0 dictionaries and Hugging Face BERT config.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/config/input_error.hpp"

namespace acceltran {

enum class HeadType { sdp, wma, conv, dft, dct };
const char* to_string(HeadType t);

struct HeadDesc {
  HeadType type = HeadType::sdp;
  int64_t dim = 64;    // head dimension d
  int64_t kernel = 0;  // convolution kernel size (conv heads)
  std::string text;    // as written, e.g. "sa_sdp_64"
};

struct LayerDesc {
  std::vector<HeadDesc> heads;
  int64_t hidden = 0;
  std::vector<int64_t> ffn;  // stacked feed-forward hidden sizes
};

struct ModelDesc {
  std::string name;    // e.g. "bert-tiny"
  std::string source;  // file it came from
  std::string format;  // "flexibert" or "hf-config"
  std::vector<LayerDesc> layers;
  int64_t vocab_size = 30522;  // BERT's uncased WordPiece vocabulary
  int64_t max_position = 512;
  int64_t type_vocab = 2;
  std::string hidden_act = "gelu";
  // What the loader accepted but ignored, one sentence each (e.g. a FlexiBERT dictionary's
  // entries past its `l` layers); the commands print them as "note: ..." on stderr.
  std::vector<std::string> notes;
};

// Parses "<type>_<param>_<dim>": sa_sdp_<d>, sa_wma_<d>, c_<k>_<d>, l_dft_<d>, l_dct_<d>.
// Throws InputError naming `where` on a malformed string.
HeadDesc parse_head(const std::string& text, const std::string& where);

// Loads a model from a file path or a built-in name ("bert-tiny", ... in models/transformers/).
// The format is detected: a FlexiBERT dict has "l", "o", "h", "f"; a Hugging Face config has
// "hidden_size" and friends.
ModelDesc load_model(const std::string& name_or_path);
ModelDesc parse_model_json(const std::string& text, const std::string& source);

}  // namespace acceltran
