// Accelerator, technology and design-space descriptions (models/*.yaml).
// Plain C++ (no SystemC): shared by the compiler, the hardware models and the CLI.
// Every number used for timing, energy or area is loaded from models/, never hard-coded.
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

#include "acceltran/config/input_error.hpp"

namespace acceltran {

// A loop order over the tile indices (b, i, j, k), outermost first, e.g. "b_i_j_k".
struct LoopOrder {
  std::array<char, 4> dims{'b', 'i', 'j', 'k'};
  static LoopOrder parse(const std::string& text);  // throws InputError
  static std::vector<LoopOrder> all();              // the 24 permutations, lexicographic
  std::string str() const;
  // Position (0 = outermost) of dimension d in this order.
  int position(char d) const;
  bool operator==(const LoopOrder& o) const { return dims == o.dims; }
};

struct TileShape {
  int b = 1, x = 16, y = 16;
};

enum class MemoryType { rram, dram, hbm };
const char* to_string(MemoryType t);

struct MainMemoryConfig {
  MemoryType type = MemoryType::dram;
  std::string bandwidth_class = "lb";  // key into technology main_memory.bandwidth_gbps
  int banks = 32, ranks = 2, channels = 1;
  // "type_banks_ranks_channels", the key of technology main_memory.access_energy_nj.
  std::string energy_key() const;
};

// Banked on-chip buffers (docs/memory.md): each buffer is `banks` SRAM banks with one port of
// bank_width_bytes per cycle each; data are interleaved over the banks, so a transfer of n bytes
// keeps the ports busy ceil(n / (banks x bank_width_bytes)) cycles. 0 banks: one 64 KB bank per
// 64 KB of buffer (the default macro size).
struct BufferPorts {
  int activation_banks = 0, weight_banks = 0, mask_banks = 0;
  int bank_width_bytes = 32;
};

struct AcceleratorConfig {
  std::string name;
  std::string source;  // file it came from ("<builtin>" for embedded defaults)
  TileShape tile;
  std::string non_linearity = "gelu";
  int pe = 64, lanes_per_pe = 16, mac_per_lane = 16, softmax_per_pe = 4, layer_norm_per_pe = 1;
  int batch_size = 4;
  double activation_buffer_mb = 4, weight_buffer_mb = 8, mask_buffer_mb = 1;
  LoopOrder loop_order;
  MainMemoryConfig main_memory;
  int issue_width = 8;
  BufferPorts buffer_ports;
  int fifo_depth_words = 0;  // operand FIFO of a MAC lane, in words; 0: technology fifo.depth

  // Banks of the "activation", "weight" or "mask" buffer (explicit, or one per 64 KB).
  int banks(const std::string& buffer) const;

  long long total_lanes() const { return 1LL * pe * lanes_per_pe; }
  long long total_macs() const { return total_lanes() * mac_per_lane; }
};

// Area (um^2), dynamic and leakage power (mW at clock_mhz) of one synthesized module.
struct ModuleFigures {
  double area_um2 = 0, dynamic_mw = 0, leakage_mw = 0;
};

struct BufferFigures {
  double area_um2_per_mb = 0, leakage_mw_per_mb = 0, access_energy_nj = 0;
  int block_bytes = 64;
};

struct Technology {
  std::string source;
  double clock_mhz = 700;
  int integer_bits = 4, fraction_bits = 16;
  // mac_lane[{macs, non_linearity}], e.g. {16, "gelu"}.
  std::map<std::pair<int, std::string>, ModuleFigures> mac_lane;
  ModuleFigures pre_sparsity, post_sparsity, fifo, dataflow, dma, stochastic_rounding;
  int fifo_depth_words = 32;
  std::map<int, ModuleFigures> softmax, layer_norm;  // keyed by tile size
  std::map<std::string, BufferFigures> buffers;      // activation, weight, mask
  double buffer_port_bandwidth_gbps = 370;
  std::map<std::string, double> main_memory_bandwidth_gbps;    // lb, hb
  std::map<std::string, double> main_memory_access_energy_nj;  // per 64-byte access
  double default_activation_sparsity = 0.5, default_weight_sparsity = 0.5;

  int word_bits() const { return integer_bits + fraction_bits; }
  double cycle_ns() const { return 1000.0 / clock_mhz; }
  // Energy (nJ) of one cycle at the given power: mW / MHz = nJ per cycle.
  double nj_per_cycle(double mw) const { return mw / clock_mhz; }
  const ModuleFigures& lane(int macs, const std::string& nl) const;
  const ModuleFigures& softmax_for(int tile) const;
  const ModuleFigures& layer_norm_for(int tile) const;
};

// Allowed values of each accelerator key (models/design_space.yaml).
struct DesignSpace {
  std::string source;
  std::vector<int> tile_b, tile_x, tile_y;
  std::vector<std::string> non_linearity;
  std::vector<int> pe, lanes_per_pe, mac_per_lane, softmax_per_pe, batch_size;
  std::vector<double> activation_buffer_mb, weight_buffer_mb, mask_buffer_mb;
  std::map<std::string, std::vector<std::array<int, 3>>>
      main_memory;  // type -> (banks,ranks,channels)
  std::vector<int> buffer_banks, bank_width_bytes, fifo_depth_words;  // empty: not restricted
};

// One resolved setting of an accelerator or a technology: its dotted key as in the YAML file
// (e.g. "main_memory.type", the path --set takes) and its value as text, numbers in their
// shortest round-trip form. Recorded in programs (`compile -o`) and in report.json.
struct Setting {
  std::string key, value;
  bool number = true;
};
// Every key that shapes a run, in the YAML file's order (the name and the source excluded).
std::vector<Setting> accelerator_settings(const AcceleratorConfig& c);
// Every figure of the technology, flattened (e.g. "modules.mac_lane.macs_16.gelu.area").
std::vector<Setting> technology_settings(const Technology& t);

// Directory holding models/ (technology.yaml, design_space.yaml, accelerators/, transformers/).
// ACCELTRAN_MODELS_DIR in the environment overrides the build-time default.
std::string models_dir();

Technology load_technology(const std::string& path);
DesignSpace load_design_space(const std::string& path);

struct ConfigOptions {
  bool allow_outside_design_space = false;
  // --set KEY=VALUE overrides applied to the accelerator YAML tree (compiler/overrides.hpp).
  std::vector<std::string> overrides;
};

// Loads and validates an accelerator YAML. `name_or_path` may be a file path or a built-in
// name ("edge", "server", "acceltran-edge", ...) resolved in models/accelerators/.
AcceleratorConfig load_accelerator(const std::string& name_or_path, const DesignSpace& space,
                                   const Technology& tech, const ConfigOptions& opts = {});
// Checks an in-memory config the same way (used after command-line overrides).
void validate_accelerator(const AcceleratorConfig& cfg, const DesignSpace& space,
                          const Technology& tech, const ConfigOptions& opts = {});

}  // namespace acceltran
