// Fuzzes the accelerator YAML loader (compiler/config.cpp): any input is accepted or rejected
// with an InputError, never a crash, a hang, another exception or undefined behaviour.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "acceltran/config/accelerator_config.hpp"
#include "fuzz_util.hpp"

using namespace acceltran;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/acceltran-fuzz-" + std::to_string(getpid()) + ".yaml";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  for (bool outside : {false, true}) {
    ConfigOptions o;
    o.allow_outside_design_space = outside;
    try {
      load_accelerator(path, fuzz::space(), fuzz::tech(), o);
    } catch (const InputError&) {
    }
  }
  return 0;
}
