// Size limits of the inputs (docs/user-guide.md, "Limits"). They keep every product the compiler
// and the simulator form (elements, multiply-accumulates, tile counts) inside 64 bits and keep a
// run's memory and time bounded; an input beyond one is an InputError saying what to change.
#pragma once
#include <cstddef>
#include <cstdint>

namespace acceltran::limits {

constexpr int64_t kMaxLayers = 1024;         // num_hidden_layers, FlexiBERT l
constexpr int64_t kMaxHeadsPerLayer = 1024;  // num_attention_heads, entries of FlexiBERT o[n]
constexpr int64_t kMaxHeadsTotal = 65536;    // attention heads over all layers
constexpr int64_t kMaxFfnPerLayer = 64;      // entries of FlexiBERT f[n]
constexpr int64_t kMaxWidth = 65536;         // hidden, intermediate and head sizes, kernel x dim
constexpr int64_t kMaxTableRows = 1 << 20;   // vocab_size, type_vocab_size, max_position_embeddings
constexpr int64_t kMaxSeqLen = 65536;        // --seq-len
constexpr int64_t kMaxBatch = 4096;          // --batch, batch_size
constexpr int64_t kMaxTileSide = 1024;       // tile_b, tile_x, tile_y
constexpr int64_t kMaxUnits = 1 << 20;       // pe, lanes, MACs, modules, banks (and products)
constexpr double kMaxBufferMb = 65536;       // activation, weight and mask buffer sizes
constexpr uint64_t kMaxTiles = 10'000'000'000ull;  // tile jobs in one program
constexpr uint64_t kMaxProgramBytes = 4ull << 30;  // estimated memory of one program

// Input files: read whole, parsed by nlohmann-json and yaml-cpp (both recursive), so their size,
// nesting and YAML alias expansion are bounded before a tree is walked (config/input_text.hpp).
constexpr uint64_t kMaxJsonBytes = 16ull << 20;  // a model JSON file, a sparsity profile
constexpr uint64_t kMaxYamlBytes = 1ull << 20;  // accelerator, technology, design space, sweep spec
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;  // the reference implementation's
constexpr int kMaxNesting = 64;              // levels of lists and mappings in JSON and YAML
constexpr int kMaxYamlAliases = 64;          // alias uses (*name) in one YAML text
constexpr uint64_t kMaxYamlNodes = 1000000;  // YAML nodes with every alias expanded
constexpr size_t kMaxQuotedChars = 200;      // characters of a value quoted in an error line

}  // namespace acceltran::limits
