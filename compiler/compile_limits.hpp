// The compiler's check of a program's size against the input limits (config/input_limits.hpp)
// before it materialises the instruction stream.
#pragma once
#include <cstdint>

namespace acceltran {

struct AcceleratorConfig;
struct CompileOptions;
struct ModelDesc;
struct Program;
struct Technology;

// compile_program, after estimating from the program's coarse form (one instruction per op) the
// tiles, the instructions and the memory the requested --tiles-per-instruction gives: beyond
// kMaxTiles, CompileOptions::max_instructions or kMaxProgramBytes it throws an InputError saying
// what to change, before allocating the stream.
Program compile_within_limits(const ModelDesc& model, const AcceleratorConfig& accel,
                              const Technology& tech, const CompileOptions& opts);

}  // namespace acceltran
