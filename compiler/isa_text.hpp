// Line-oriented text form of a Program (docs/isa.md): written by `acceltran compile -o`,
// read back by `acceltran simulate --program`.
#pragma once
#include <iosfwd>
#include <string>

#include "isa.hpp"

namespace acceltran {

constexpr const char* kIsaMagic = "# acceltran-isa 1";

void write_program(std::ostream& out, const Program& prog);
// Writes to a file; throws InputError naming the path if it cannot be written.
void write_program_file(const std::string& path, const Program& prog);

// Parses the text form; throws InputError naming the source, line number and problem.
// Checks structure: ids in order, references in range, dependencies pointing backwards,
// tile ranges inside their op.
Program read_program(std::istream& in, const std::string& source);
Program read_program_file(const std::string& path);

}  // namespace acceltran
