// A BERT WordPiece tokenizer that gives the ids of Hugging Face's BertTokenizer (and of
// tokenizers.js with a BertNormalizer, BertPreTokenizer and WordPiece model) for a vocab.txt:
//
//   basic tokenization: text cleanup (NUL, U+FFFD and control characters (Cc, Cf, Co, Cs; tab,
//     newline and carriage return excepted) removed, every other white space (Z*, tab, newline,
//     carriage return) becomes a space), spaces around CJK ideographs, lower-casing (full
//     Unicode mapping, final sigma included) followed by accent stripping (NFD, combining marks
//     Mn removed) when lower_case is on, then a split at white space and around every
//     punctuation character (Unicode P* and the ASCII symbols !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~);
//   WordPiece: per word, greedy longest match from the left, continuations prefixed "##"; a word
//     with a piece not in the vocabulary, or longer than 100 code points, becomes [UNK];
//   [CLS] tokens [SEP], truncated to a length (the tokens cut, [SEP] kept) and padded with
//     [PAD] to it, with the attention mask (1 real token, 0 padding).
//
// Special tokens written in the text, exactly (case-sensitive) "[CLS]", "[SEP]", "[PAD]",
// "[MASK]" or "[UNK]" when the vocabulary has them, are matched whole before any other step and
// become their ids, as Hugging Face's BertTokenizer and tokenizers.js do (they never split their
// special tokens): "hello[SEP]world" is hello, [SEP], world; "[cls]" is text.
// Unicode properties come from ICU.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace acceltran {

struct Encoding {
  std::vector<int32_t> input_ids;
  std::vector<uint8_t> attention_mask;  // 1 real token, 0 padding
  std::vector<int32_t> token_type_ids;  // all 0 (one segment)
};

class WordPieceTokenizer {
 public:
  // Reads vocab.txt: one token per line, the id is the line number from 0 (a trailing "\r" is
  // dropped). Throws InputError naming the file for a missing file, an empty vocabulary, a
  // token listed twice (file:line), or a missing [UNK], [CLS], [SEP] or [PAD].
  explicit WordPieceTokenizer(const std::string& vocab_path, bool lower_case = true);

  // Basic tokenization: the special tokens, words and punctuation marks of UTF-8 `text`
  // (InputError for text that is not valid UTF-8).
  std::vector<std::string> basic_tokenize(const std::string& text) const;
  // WordPiece pieces of the basic tokens, [UNK] for a word it cannot cover.
  std::vector<std::string> tokenize(const std::string& text) const;
  // Ids of tokenize(text) (no special tokens).
  std::vector<int32_t> token_ids(const std::string& text) const;
  // [CLS] ids [SEP]; with max_length > 0 the ids are cut to max_length - 2 and the sequence
  // padded with [PAD] to max_length when `pad` (max_length must then be >= 2).
  Encoding encode(const std::string& text, int64_t max_length = 0, bool pad = true) const;

  int32_t id_of(const std::string& token) const;  // -1 when not in the vocabulary
  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::string& source() const { return source_; }
  int32_t pad_id() const { return pad_; }
  int32_t cls_id() const { return cls_; }
  int32_t sep_id() const { return sep_; }
  int32_t unk_id() const { return unk_; }

 private:
  struct Segment {
    std::string text;
    bool special = false;  // one special token, matched whole
  };
  // `text` cut at every special token (leftmost first), the tokens and the text between them.
  std::vector<Segment> split_special(const std::string& text) const;
  void wordpiece(const std::u32string& word, std::vector<std::string>& out) const;

  std::string source_;
  bool lower_case_ = true;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t pad_ = -1, unk_ = -1, cls_ = -1, sep_ = -1;
  std::vector<std::string> specials_;  // those of [PAD], [UNK], [CLS], [SEP], [MASK] it has
};

}  // namespace acceltran
