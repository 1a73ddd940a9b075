#include <fmt/format.h>

#include "commands.hpp"

namespace acceltran::cli {

int cmd_compile(const std::vector<std::string>&) {
  fmt::print(stderr, "error: 'acceltran compile' is not yet available\n");
  return 2;
}

}  // namespace acceltran::cli
