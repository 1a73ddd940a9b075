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
