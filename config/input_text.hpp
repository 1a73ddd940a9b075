// Bounded reading of input text (limits in config/input_limits.hpp): the size of an input file,
// the nesting of a JSON text, and values quoted in error lines. Each limit exceeded is an
// InputError naming the source, the limit and its value.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace acceltran {

// A value as quoted in an error line: printable ASCII kept, every other byte written \xNN, and
// cut after limits::kMaxQuotedChars characters with "... (N bytes)" giving the whole size.
std::string quoted_value(std::string_view text);

// A message as printed after `error:`: printable ASCII, newlines, tabs and well-formed UTF-8
// characters kept; control bytes and malformed UTF-8 written \xNN (so a name read from a file
// cannot put raw bytes on the terminal).
std::string printable_message(std::string_view text);

// The whole file at `path` (a `what` file: "model", "accelerator", ...); InputError when it
// cannot be read or holds more than `max_bytes` bytes.
std::string read_input_file(const std::string& path, uint64_t max_bytes, const char* what);

// InputError when `text` (JSON, from `source`) is larger than `max_bytes` or nests lists and
// objects deeper than limits::kMaxNesting. A linear scan before parsing: nlohmann-json's parser
// and dump() recurse once per level.
void check_json_text(std::string_view text, const std::string& source, uint64_t max_bytes);

}  // namespace acceltran
