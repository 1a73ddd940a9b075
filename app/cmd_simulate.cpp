#include <fmt/format.h>

#include "commands.hpp"

namespace acceltran::cli {

int cmd_simulate(const std::vector<std::string>&) {
  fmt::print(stderr, "error: 'acceltran simulate' is not yet available\n");
  return 2;
}

}  // namespace acceltran::cli
