// Fuzzes the instruction-file reader (compiler/isa.cpp): any input is accepted or rejected with
// an InputError, never a crash, another exception or undefined behaviour; an accepted program
// writes back to a file that reads back to the same text.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "acceltran/compiler/isa_text.hpp"

using namespace acceltran;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Program p;
  try {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    p = read_program(in, "fuzz.txt");
  } catch (const InputError&) {
    return 0;
  }
  std::ostringstream a, b;
  write_program(a, p);
  std::istringstream again(a.str());
  write_program(b, read_program(again, "rewritten.txt"));  // must not throw
  if (a.str() != b.str()) std::abort();
  return 0;
}
