// Error type for bad user input (files, keys, values). The CLI prints what() on one line
// and exits non-zero; nothing in the library prints or exits on its own.
#pragma once
#include <stdexcept>
#include <string>

namespace acceltran {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace acceltran
