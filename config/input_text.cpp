#include "acceltran/config/input_text.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_limits.hpp"

namespace acceltran {

std::string quoted_value(std::string_view text) {
  std::string out;
  size_t used = 0;
  for (; used < text.size(); ++used) {
    const auto byte = static_cast<unsigned char>(text[used]);
    const bool printable = byte >= 0x20 && byte < 0x7f;
    const size_t width = printable ? 1 : 4;
    if (out.size() + width > limits::kMaxQuotedChars) break;
    if (printable)
      out.push_back(static_cast<char>(byte));
    else
      out += fmt::format("\\x{:02x}", byte);
  }
  if (used < text.size()) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

namespace {

// The length of the well-formed UTF-8 sequence starting at text[at] that encodes a printable
// character (not a C1 control), or 0.
size_t printable_utf8_length(std::string_view text, size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  const size_t length = lead >= 0xf0 && lead < 0xf5   ? 4
                        : lead >= 0xe0 && lead < 0xf0 ? 3
                        : lead >= 0xc2 && lead < 0xe0 ? 2
                                                      : 0;
  if (length == 0 || at + length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i)
    if ((static_cast<unsigned char>(text[at + i]) & 0xc0) != 0x80) return 0;
  if (lead == 0xc2 && static_cast<unsigned char>(text[at + 1]) < 0xa0) return 0;  // C1 controls
  return length;
}

}  // namespace

std::string printable_message(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if ((byte >= 0x20 && byte < 0x7f) || byte == '\n' || byte == '\t') {
      out.push_back(static_cast<char>(byte));
      ++at;
    } else if (const size_t length = printable_utf8_length(text, at); length > 0) {
      out.append(text.substr(at, length));
      at += length;
    } else {
      out += fmt::format("\\x{:02x}", byte);
      ++at;
    }
  }
  return out;
}

std::string read_input_file(const std::string& path, uint64_t max_bytes, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(fmt::format("{}: is a folder, not a {} file", path, what));
  const bool regular = std::filesystem::is_regular_file(path, ec);
  const uintmax_t size = regular ? std::filesystem::file_size(path, ec) : 0;
  if (regular && !ec && size > max_bytes)
    throw InputError(fmt::format("{}: {} file of {} bytes exceeds the limit of {} bytes", path,
                                 what, size, max_bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: {} file not found or not readable", path, what));
  // Read in pieces, so that a pipe (which has no size) stops one piece past the limit.
  std::string text;
  char piece[65536];
  while (in.read(piece, sizeof piece) || in.gcount() > 0) {
    text.append(piece, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes)
      throw InputError(
          fmt::format("{}: {} file exceeds the limit of {} bytes", path, what, max_bytes));
  }
  if (in.bad()) throw InputError(fmt::format("{}: cannot read the {} file", path, what));
  return text;
}

void check_json_text(std::string_view text, const std::string& source, uint64_t max_bytes) {
  if (text.size() > max_bytes)
    throw InputError(fmt::format("{}: {} bytes of JSON exceed the limit of {} bytes", source,
                                 text.size(), max_bytes));
  int depth = 0;
  bool in_string = false;
  for (size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (in_string) {
      if (c == '\\')
        ++at;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limits::kMaxNesting)
        throw InputError(fmt::format(
            "{}: JSON nested deeper than the limit of {} levels of lists and objects (at byte {})",
            source, limits::kMaxNesting, at));
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

}  // namespace acceltran
