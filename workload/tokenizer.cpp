#include "acceltran/workload/tokenizer.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <fstream>

#include "acceltran/config/input_error.hpp"

namespace acceltran {

namespace {

constexpr size_t kMaxWordCodePoints = 100;  // longer words become [UNK], as in Hugging Face

std::u32string decode_utf8(const std::string& text) {
  std::u32string out;
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t n = static_cast<int32_t>(text.size());
  int32_t i = 0;
  while (i < n) {
    const int32_t at = i;
    UChar32 c = 0;
    U8_NEXT(s, i, n, c);
    if (c < 0) throw InputError("text is not valid UTF-8 (byte " + std::to_string(at + 1) + ")");
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

std::string encode_utf8(const std::u32string& text, size_t first, size_t count) {
  std::string out;
  for (size_t i = first; i < first + count; ++i) {
    uint8_t buf[U8_MAX_LENGTH];
    int32_t len = 0;
    UBool error = false;  // never set: every code point came from valid UTF-8
    U8_APPEND(buf, len, U8_MAX_LENGTH, static_cast<UChar32>(text[i]), error);
    (void)error;
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
  }
  return out;
}

bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  const int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_PRIVATE_USE_CHAR || t == U_SURROGATE;
}

bool is_whitespace(char32_t c) {
  if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r') return true;
  const int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_SPACE_SEPARATOR || t == U_LINE_SEPARATOR || t == U_PARAGRAPH_SEPARATOR;
}

bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return true;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

// The CJK Unified Ideographs blocks BERT puts spaces around (not Hangul, Hiragana, Katakana).
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string clean_and_space_cjk(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      out.push_back(U' ');
    } else if (is_cjk(c)) {
      out.push_back(U' ');
      out.push_back(c);
      out.push_back(U' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Full lower-casing (root locale), then NFD without the non-spacing marks.
std::u32string lower_and_strip_accents(const std::u32string& text) {
  icu::UnicodeString s;
  for (char32_t c : text) s.append(static_cast<UChar32>(c));
  s.toLower(icu::Locale::getRoot());
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU: no NFD normalizer");
  const icu::UnicodeString decomposed = nfd->normalize(s, status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU: NFD normalization failed");
  std::u32string out;
  for (int32_t i = 0; i < decomposed.length();) {
    const UChar32 c = decomposed.char32At(i);
    i += U16_LENGTH(c);
    if (u_charType(c) != U_NON_SPACING_MARK) out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

std::vector<std::u32string> split_words(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(cur);
    cur.clear();
  };
  for (char32_t c : text) {
    if (is_whitespace(c)) {
      flush();
    } else if (is_punctuation(c)) {
      flush();
      words.push_back(std::u32string(1, c));
    } else {
      cur.push_back(c);
    }
  }
  flush();
  return words;
}

std::vector<std::u32string> basic_words(const std::string& text, bool lower_case) {
  std::u32string t = clean_and_space_cjk(decode_utf8(text));
  if (lower_case) t = lower_and_strip_accents(t);
  return split_words(t);
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(const std::string& vocab_path, bool lower_case)
    : source_(vocab_path), lower_case_(lower_case) {
  std::ifstream f(vocab_path, std::ios::binary);
  if (!f) throw InputError(vocab_path + ": cannot open the vocabulary");
  std::string line;
  for (int64_t n = 1; std::getline(f, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto [it, fresh] = ids_.emplace(line, static_cast<int32_t>(tokens_.size()));
    if (!fresh)
      throw InputError(vocab_path + ":" + std::to_string(n) + ": token '" + line +
                       "' is listed twice (first on line " + std::to_string(it->second + 1) + ")");
    tokens_.push_back(line);
  }
  if (tokens_.empty()) throw InputError(vocab_path + ": the vocabulary is empty");
  struct Special {
    const char* name;
    int32_t* id;
  };
  for (const Special& s : {Special{"[PAD]", &pad_}, Special{"[UNK]", &unk_},
                           Special{"[CLS]", &cls_}, Special{"[SEP]", &sep_}}) {
    *s.id = id_of(s.name);
    if (*s.id < 0)
      throw InputError(vocab_path + ": the vocabulary has no " + s.name +
                       " token (a BERT vocab.txt needs [PAD], [UNK], [CLS] and [SEP])");
  }
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    if (id_of(special) >= 0) specials_.emplace_back(special);
}

int32_t WordPieceTokenizer::id_of(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<WordPieceTokenizer::Segment> WordPieceTokenizer::split_special(
    const std::string& text) const {
  std::vector<Segment> out;
  size_t start = 0;  // of the text not yet emitted
  for (size_t at = 0; at < text.size(); ++at) {
    if (text[at] != '[') continue;
    for (const std::string& special : specials_) {
      if (text.compare(at, special.size(), special) != 0) continue;
      if (at > start) out.push_back({text.substr(start, at - start), false});
      out.push_back({special, true});
      start = at + special.size();
      at = start - 1;
      break;
    }
  }
  if (start < text.size()) out.push_back({text.substr(start), false});
  return out;
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const Segment& segment : split_special(text)) {
    if (segment.special) {
      out.push_back(segment.text);
      continue;
    }
    for (const std::u32string& w : basic_words(segment.text, lower_case_))
      out.push_back(encode_utf8(w, 0, w.size()));
  }
  return out;
}

void WordPieceTokenizer::wordpiece(const std::u32string& word,
                                   std::vector<std::string>& out) const {
  if (word.size() > kMaxWordCodePoints) {
    out.push_back("[UNK]");
    return;
  }
  std::vector<std::string> pieces;
  for (size_t start = 0; start < word.size();) {
    size_t end = word.size();
    std::string match;
    for (; end > start; --end) {
      std::string piece = (start > 0 ? "##" : "") + encode_utf8(word, start, end - start);
      if (ids_.count(piece)) {
        match = std::move(piece);
        break;
      }
    }
    if (end == start) {  // no piece starts here: the whole word is unknown
      out.push_back("[UNK]");
      return;
    }
    pieces.push_back(std::move(match));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const Segment& segment : split_special(text)) {
    if (segment.special) {
      out.push_back(segment.text);
      continue;
    }
    for (const std::u32string& w : basic_words(segment.text, lower_case_)) wordpiece(w, out);
  }
  return out;
}

std::vector<int32_t> WordPieceTokenizer::token_ids(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const std::string& t : tokenize(text)) ids.push_back(id_of(t));
  return ids;
}

Encoding WordPieceTokenizer::encode(const std::string& text, int64_t max_length, bool pad) const {
  if (max_length != 0 && max_length < 2)
    throw InputError("tokenizer: max length " + std::to_string(max_length) +
                     " leaves no room for [CLS] and [SEP] (at least 2)");
  std::vector<int32_t> ids = token_ids(text);
  if (max_length > 0 && static_cast<int64_t>(ids.size()) > max_length - 2)
    ids.resize(static_cast<size_t>(max_length - 2));
  Encoding e;
  e.input_ids.push_back(cls_);
  e.input_ids.insert(e.input_ids.end(), ids.begin(), ids.end());
  e.input_ids.push_back(sep_);
  e.attention_mask.assign(e.input_ids.size(), 1);
  if (pad && max_length > 0) {
    e.input_ids.resize(static_cast<size_t>(max_length), pad_);
    e.attention_mask.resize(static_cast<size_t>(max_length), 0);
  }
  e.token_type_ids.assign(e.input_ids.size(), 0);
  return e;
}

}  // namespace acceltran
