// The technology and design space every fuzz target loads once from the source tree's models/.
#pragma once
#include <string>

#include "acceltran/config/accelerator_config.hpp"

namespace fuzz {

inline std::string models(const char* file) {
  return std::string(ACCELTRAN_MODELS_DIR_FOR_FUZZ) + "/" + file;
}
inline const acceltran::Technology& tech() {
  static const acceltran::Technology t = acceltran::load_technology(models("technology.yaml"));
  return t;
}
inline const acceltran::DesignSpace& space() {
  static const acceltran::DesignSpace s = acceltran::load_design_space(models("design_space.yaml"));
  return s;
}

}  // namespace fuzz
