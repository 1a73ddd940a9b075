#include "acceltran/config/input_limits.hpp"
#include "acceltran/compiler/compile_limits.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "acceltran/compiler/compiler.hpp"

namespace acceltran {

Program compile_within_limits(const ModelDesc& model, const AcceleratorConfig& accel,
                              const Technology& tech, const CompileOptions& opts) {
  // The coarse form (one instruction per op) is small: its size is bounded by the model limits.
  CompileOptions coarse_opts = opts;
  coarse_opts.tiles_per_instruction = 0;
  coarse_opts.block_budget = 0;  // whole ops: sizes first, buffer-level blocks after
  Program coarse = compile_program(model, accel, tech, coarse_opts);
  // Per-op tile counts are below 2^60 (dimension limits); the sums stop at the limit.
  uint64_t tiles = 0, compute = 0, memory = 0, deps = 0;
  for (const auto& op : coarse.ops) {
    const uint64_t t = op.tile_count();
    tiles += t;
    if (tiles > limits::kMaxTiles)
      throw InputError(fmt::format(
          "{} on {}: more than {} tiles (limit of this build); use a shorter --seq-len, a smaller "
          "--batch or a smaller model",
          model.source, accel.source, limits::kMaxTiles));
    const uint64_t tpi = opts.tiles_per_instruction;
    const uint64_t parts = tpi == 0 ? 1 : (t + tpi - 1) / tpi;
    compute += parts;
    // The pieces of a block share its dependency list (append_instruction), which the coarse
    // form has; a reference STORE_A also waits for every piece of its op.
    if (opts.profile == Profile::reference) deps += parts;
  }
  deps += coarse.deps.size();
  for (const auto& in : coarse.instrs) memory += is_memory(in.opcode) ? 1 : 0;
  const uint64_t instructions = compute + memory;
  if (instructions > opts.max_instructions) {
    const uint64_t room = opts.max_instructions > memory ? opts.max_instructions - memory : 1;
    throw InputError(fmt::format(
        "{} on {}: --tiles-per-instruction {} gives about {} instructions, more than the limit "
        "{}; use --tiles-per-instruction {} or more (0 = one instruction per op)",
        model.source, accel.source, opts.tiles_per_instruction, instructions, opts.max_instructions,
        (tiles + room - 1) / room));
  }
  const uint64_t bytes = instructions * sizeof(Instruction) + deps * sizeof(InstrId) +
                         coarse.tensors.size() * sizeof(Tensor) + coarse.ops.size() * sizeof(Op);
  if (bytes > limits::kMaxProgramBytes)
    throw InputError(fmt::format(
        "{} on {}: the instruction stream would take about {:.1f} GiB, more than the limit {} GiB; "
        "use a larger --tiles-per-instruction (0 = one instruction per op)",
        model.source, accel.source, bytes / double(1ull << 30), limits::kMaxProgramBytes >> 30));
  Program prog = compile_program(model, accel, tech, opts);
  // A sparsity profile must describe this program: no entry may be left unused.
  for (const auto& [name, s] : opts.tensor_sparsity) {
    bool found = false;
    for (const Tensor& t : prog.tensors) found = found || t.name == name;
    if (!found)
      throw InputError(fmt::format(
          "{}: sparsity profile entry '{}' matches no tensor of {} on {} (made for another "
          "model or accelerator?)",
          opts.tensor_sparsity_source, name, model.source, accel.source));
  }
  prog.info.accelerator_settings = accelerator_settings(accel);
  prog.info.model_fingerprint = model_fingerprint(model);
  prog.info.first_layer_only = opts.first_layer_only;
  if (opts.profile == Profile::reference) {
    prog.info.reference_bugs = switches_on(opts.published, SwitchFamily::bug);
    prog.info.reference_fixes = switches_on(opts.published, SwitchFamily::fix);
  }
  return prog;
}

std::string model_fingerprint(const ModelDesc& model) {
  std::string text = fmt::format("vocab={} positions={} types={} act={}", model.vocab_size,
                                 model.max_position, model.type_vocab, model.hidden_act);
  for (const LayerDesc& layer : model.layers) {
    text += fmt::format("|hidden={} ffn={}", layer.hidden, fmt::join(layer.ffn, ","));
    for (const HeadDesc& head : layer.heads)
      text += fmt::format(" head={}/{}/{}", to_string(head.type), head.dim, head.kernel);
  }
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return fmt::format("{:016x}", hash);
}

}  // namespace acceltran
