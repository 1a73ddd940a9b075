// The compiler's check of a program's size against the input limits (config/input_limits.hpp)
// before it materialises the instruction stream.
#pragma once
#include <cstdint>
#include <string>

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
// The program's `compiled_for` record (ProgramInfo) is filled in: the model's fingerprint, the
// accelerator's settings and the compile options the other records do not show.
Program compile_within_limits(const ModelDesc& model, const AcceleratorConfig& accel,
                              const Technology& tech, const CompileOptions& opts);

// 16 hex digits identifying what the compiler reads of a model (its layers, heads, widths,
// vocabulary and activation; not its name or file): equal fingerprints, equal op graphs.
std::string model_fingerprint(const ModelDesc& model);

}  // namespace acceltran
