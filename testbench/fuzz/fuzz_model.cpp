// Fuzzes the model readers (compiler/model.cpp: FlexiBERT dictionaries and Hugging Face
// config.json) and, for small models, the size estimate and lowering that follow: any input is
// accepted or rejected with an InputError, never a crash, another exception or undefined
// behaviour.
#include <cstdint>
#include <string>

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/compiler/compiler.hpp"
#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/workload/model.hpp"
#include "fuzz_util.hpp"

using namespace acceltran;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const AcceleratorConfig edge =
      load_accelerator(fuzz::models("accelerators/edge.yaml"), fuzz::space(), fuzz::tech());
  ModelDesc m;
  try {
    m = parse_model_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const InputError&) {
    return 0;
  }
  // Lowering is linear in the model's size: keep each run fast by compiling small models only.
  int64_t work = 0;
  for (const auto& l : m.layers)
    work += static_cast<int64_t>(l.heads.size() + l.ffn.size()) * l.hidden;
  if (m.layers.size() > 8 || work > 100000) return 0;
  CompileOptions o;
  o.seq_len = 16;
  o.tiles_per_instruction = 64;
  try {
    compile_within_limits(m, edge, fuzz::tech(), o);
  } catch (const InputError&) {
  }
  return 0;
}
