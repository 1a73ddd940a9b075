// Helpers shared by the design-space exploration tests.
#pragma once
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sweeptest {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sweeptest
