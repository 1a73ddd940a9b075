// acceltran compile: model -> tiled instruction stream (statistics, text form).
#include <fmt/format.h>

#include <chrono>

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/compiler/stats.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace acceltran::cli {

namespace {

constexpr const char* kUsage =
    "usage: acceltran compile [options]\n\n"
    "Lowers a transformer to the tiled instruction stream of an accelerator.\n"
    "With no options: BERT-Tiny on AccelTran-Edge, statistics printed.\n"
    "--per-op: every op with its tile count, MACs and published name (compare with --profile\n"
    "reference against the published simulator, op by op).";

std::string human_bytes(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", b / double(1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.2f} MiB", b / double(1ull << 20));
  if (b >= (1ull << 10)) return fmt::format("{:.2f} KiB", b / double(1ull << 10));
  return fmt::format("{} B", b);
}

void print_stats(const Program& p, const ProgramStats& s, double seconds) {
  const auto& i = p.info;
  fmt::print("AccelTran instruction stream: {} on {} (profile {})\n", i.model, i.accelerator,
             to_string(i.profile));
  fmt::print("  batch {}, sequence {}, tile {}x{}x{}, loop order {}, sparsity act {} / weight {}\n",
             i.batch, i.seq_len, i.tile.b, i.tile.x, i.tile.y, i.loop_order.str(),
             i.activation_sparsity, i.weight_sparsity);
  fmt::print("  {} tensors, {} ops, {} instructions (compiled in {:.3f} s)\n\n", p.tensors.size(),
             p.ops.size(), p.instrs.size(), seconds);
  fmt::print("  {:<10} {:>14} {:>16}\n", "opcode", "instructions", "tiles");
  for (int n = 0; n < kOpcodeCount; ++n) {
    auto op = static_cast<Opcode>(n);
    if (s.instructions[n] == 0) continue;
    fmt::print("  {:<10} {:>14} {:>16}\n", to_string(op), s.instructions[n],
               is_compute(op) ? fmt::format("{}", s.tiles[n]) : std::string("-"));
  }
  uint64_t tiles = 0;
  for (auto t : s.tiles) tiles += t;
  fmt::print("  {:<10} {:>14} {:>16}\n\n", "total", p.instrs.size(), tiles);
  fmt::print("  MACs: {} ({} with edge tiles padded)\n", s.macs, s.padded_macs);
  fmt::print(
      "  bytes (zero-free data):  weights {}  embeddings {}  activation stores {}  output {}\n",
      human_bytes(s.weight_bytes), human_bytes(s.embedding_bytes),
      human_bytes(s.activation_store_bytes), human_bytes(s.output_bytes));
  fmt::print("  mask bytes moved alongside: {}\n\n", human_bytes(s.mask_bytes));
  fmt::print("  {:<8} {:>6} {:>12} {:>16} {:>14} {:>16}\n", "layer", "ops", "tiles", "MACs",
             "weight bytes", "act. bytes");
  for (const auto& [layer, L] : s.layers)
    fmt::print("  {:<8} {:>6} {:>12} {:>16} {:>14} {:>16}\n",
               layer < 0 ? std::string("emb/out") : fmt::format("L{}", layer), L.ops, L.tiles,
               L.macs, L.weight_bytes, L.activation_bytes);
}

void print_per_op(const Program& p, const std::vector<OpRow>& rows) {
  fmt::print(
      "per-op tiling: {} ops in program order; published_name: the op in the published\n"
      "AccelTran simulator (jha-lab/acceltran, simulator/src/dict2ops.py), '-' if it has "
      "none\n\n",
      rows.size());
  fmt::print("  {:>4} {:<20} {:<28} {:<10} {:>5} {:>4} {:>10} {:>14} {:>14}\n", "#", "op",
             "published_name", "class", "layer", "head", "tiles", "MACs", "padded_MACs");
  uint64_t tiles = 0, published_tiles = 0, published_ops = 0;
  for (const auto& r : rows) {
    fmt::print("  {:>4} {:<20} {:<28} {:<10} {:>5} {:>4} {:>10} {:>14} {:>14}\n", r.op, r.name,
               r.published_name.empty() ? "-" : r.published_name, to_string(r.kind), r.layer,
               r.head, r.tiles, r.macs, r.padded_macs);
    tiles += r.tiles;
    if (!r.published_name.empty()) {
      published_tiles += r.tiles;
      published_ops += 1;
    }
  }
  fmt::print("\n  tiles: {} in all, {} in the {} ops with a published counterpart (profile {})\n",
             tiles, published_tiles, published_ops, to_string(p.info.profile));
}

}  // namespace

int cmd_compile(const std::vector<std::string>& args) {
  po::options_description desc = option_group("");
  add_input_options(desc);
  po::options_description output = option_group("Output");
  // clang-format off
  output.add_options()
    ("output,o", po::value<std::string>(), "write the instruction stream in text form (docs/isa.md)")
    ("stats", po::bool_switch(), "print per-opcode counts, MACs, bytes and the per-layer breakdown "
                                 "(the default when no --output is given)")
    ("per-op", po::bool_switch(), "print every op in program order with its published name "
                                  "(jha-lab/acceltran dict2ops.py), class, tiles and MACs")
    ("help,h", "show this help");
  // clang-format on
  desc.add(output);
  po::variables_map vm;
  int rc = 0;
  if (!parse_args(args, desc, kUsage, vm, &rc)) return rc;
  Inputs in = load_inputs(vm);
  auto t0 = std::chrono::steady_clock::now();
  Program prog = compile_within_limits(in.model, in.accel, in.tech, in.compile);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (vm.count("output")) write_program_file(vm["output"].as<std::string>(), prog);
  const bool per_op = vm["per-op"].as<bool>();
  if (vm["stats"].as<bool>() || (!vm.count("output") && !per_op))
    print_stats(prog, compute_stats(prog), secs);
  if (per_op) print_per_op(prog, per_op_stats(prog));
  return 0;
}

}  // namespace acceltran::cli
