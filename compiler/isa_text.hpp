// Line-oriented text form of a Program (docs/isa.md): written by `acceltran compile -o`,
// read back by `acceltran simulate --program`.
#pragma once
#include <iosfwd>
#include <string>

#include "acceltran/compiler/isa.hpp"

namespace acceltran {

// Format 3 added the `compiled_for` record (docs/isa.md); format 2 files are refused with a
// message to recompile them.
constexpr const char* kIsaMagic = "# acceltran-isa 3";

void write_program(std::ostream& out, const Program& prog);
// Writes to a file; throws InputError naming the path if it cannot be written.
void write_program_file(const std::string& path, const Program& prog);

// Parses the text form; throws InputError naming the source, line number and problem.
// Checks every record: ids in order, references in range, numbers finite and in range, grids
// consistent with dims and tile, bytes consistent with shapes and sparsity, tile ranges inside
// their op, record counts and the trailer's instruction count and checksum (docs/isa.md).
Program read_program(std::istream& in, const std::string& source);
Program read_program_file(const std::string& path);

}  // namespace acceltran
