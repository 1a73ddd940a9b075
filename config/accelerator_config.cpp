#include "acceltran/config/accelerator_config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/overrides.hpp"
#include "acceltran/config/suggest.hpp"
#include "acceltran/config/yaml_input.hpp"

#ifndef ACCELTRAN_DEFAULT_MODELS_DIR
#define ACCELTRAN_DEFAULT_MODELS_DIR "models"
#endif

namespace acceltran {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- LoopOrder
LoopOrder LoopOrder::parse(const std::string& text) {
  LoopOrder lo;
  std::string letters;
  for (char c : text)
    if (c != '_' && c != '-' && c != ' ') letters.push_back(c);
  std::string sorted = letters;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != "bijk")
    throw InputError(fmt::format(
        "loop order '{}' is not a permutation of b,i,j,k (write it outermost first, e.g. b_i_j_k)",
        quoted_value(text)));
  for (int n = 0; n < 4; ++n) lo.dims[n] = letters[n];
  return lo;
}

std::vector<LoopOrder> LoopOrder::all() {
  std::vector<LoopOrder> out;
  std::array<char, 4> d{'b', 'i', 'j', 'k'};
  do {
    LoopOrder lo;
    lo.dims = d;
    out.push_back(lo);
  } while (std::next_permutation(d.begin(), d.end()));
  return out;
}

std::string LoopOrder::str() const {
  return fmt::format("{}_{}_{}_{}", dims[0], dims[1], dims[2], dims[3]);
}

int LoopOrder::position(char d) const {
  for (int n = 0; n < 4; ++n)
    if (dims[n] == d) return n;
  return -1;
}

const char* to_string(MemoryType t) {
  switch (t) {
    case MemoryType::rram:
      return "rram";
    case MemoryType::dram:
      return "dram";
    case MemoryType::hbm:
      return "hbm";
  }
  return "?";
}

std::string MainMemoryConfig::energy_key() const {
  return fmt::format("{}_{}_{}_{}", to_string(type), banks, ranks, channels);
}

std::string models_dir() {
  if (const char* env = std::getenv("ACCELTRAN_MODELS_DIR"); env && *env) return env;
  // An installed executable (cmake --install) uses the models installed beside it:
  // <prefix>/bin/acceltran -> <prefix>/share/acceltran/models.
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed =
        exe.parent_path().parent_path() / "share" / "acceltran" / "models";
    if (std::filesystem::is_regular_file(installed / "technology.yaml", ec)) return installed;
  }
  return ACCELTRAN_DEFAULT_MODELS_DIR;
}

// ---------------------------------------------------------------- YAML helpers
namespace {

// yaml-cpp keeps every entry of a mapping and looks up the first: a repeated key would silently
// lose its second value, so it is an error (with the line of the repeat).
void check_duplicate_keys(const YAML::Node& n, const std::string& path, int depth = 0) {
  if (depth > 64)
    throw InputError(fmt::format("{}:{}: YAML nested too deeply", path, n.Mark().line + 1));
  if (n.IsMap()) {
    std::set<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar())
        throw InputError(fmt::format("{}:{}: a mapping key must be a plain name", path,
                                     kv.first.Mark().line + 1));
      const std::string k = kv.first.Scalar();
      if (!seen.insert(k).second)
        throw InputError(fmt::format("{}:{}: duplicate key '{}'", path, kv.first.Mark().line + 1,
                                     quoted_value(k)));
      check_duplicate_keys(kv.second, path, depth + 1);
    }
  } else if (n.IsSequence()) {
    for (const auto& e : n) check_duplicate_keys(e, path, depth + 1);
  }
}

YAML::Node load_yaml(const std::string& path, const char* what) {
  if (!fs::exists(path)) throw InputError(fmt::format("{}: {} file not found", path, what));
  if (fs::is_directory(path))
    throw InputError(fmt::format("{}: is a folder, not a {} file", path, what));
  try {
    YAML::Node n = load_bounded_yaml_file(path, what);
    if (!n.IsMap())
      throw InputError(fmt::format("{}: expected a YAML mapping at the top level", path));
    check_duplicate_keys(n, path);
    return n;
  } catch (const YAML::ParserException& e) {
    throw InputError(fmt::format("{}:{}:{}: YAML syntax error: {}", path, e.mark.line + 1,
                                 e.mark.column + 1, quoted_value(e.msg)));
  }
}

// Reads keys of one mapping, remembering which were used so unknown keys can be reported.
class Reader {
 public:
  Reader(std::string file, std::string prefix, YAML::Node node)
      : file_(std::move(file)), prefix_(std::move(prefix)), node_(std::move(node)) {
    if (!node_.IsMap())
      throw InputError(fmt::format("{}: key '{}': expected a mapping", file_, trim(prefix_)));
  }

  std::string key_name(const std::string& key) const { return prefix_ + key; }

  bool has(const std::string& key) const { return static_cast<bool>(node_[key]); }

  YAML::Node node(const std::string& key) {
    used_.insert(key);
    YAML::Node n = node_[key];
    if (!n) throw InputError(fmt::format("{}: missing key '{}'", file_, key_name(key)));
    return n;
  }

  Reader sub(const std::string& key) { return Reader(file_, key_name(key) + ".", node(key)); }

  template <typename T>
  T get(const std::string& key, const char* type_name) {
    YAML::Node n = node(key);
    return as<T>(n, key_name(key), type_name);
  }

  template <typename T>
  T as(const YAML::Node& n, const std::string& full_key, const char* type_name) const {
    if (!n.IsScalar())
      throw InputError(fmt::format("{}: key '{}': expected {}, got a {}", file_, full_key,
                                   type_name, n.IsSequence() ? "list" : "mapping"));
    try {
      T v = n.as<T>();
      if constexpr (std::is_floating_point_v<T>) {
        if (!std::isfinite(v)) throw YAML::BadConversion(n.Mark());
      }
      return v;
    } catch (const YAML::BadConversion&) {
      throw InputError(fmt::format("{}: key '{}': value '{}' is not {}", file_, full_key,
                                   quoted_value(n.Scalar()), type_name));
    }
  }

  int get_int(const std::string& key) { return get<int>(key, "an integer"); }
  double get_double(const std::string& key) { return get<double>(key, "a number"); }
  std::string get_string(const std::string& key) { return get<std::string>(key, "a string"); }

  // Reports keys present in the file but never read.
  void check_no_unknown(const std::vector<std::string>& also_allowed = {}) const {
    for (const auto& kv : node_) {
      auto k = kv.first.as<std::string>();
      if (used_.count(k) ||
          std::find(also_allowed.begin(), also_allowed.end(), k) != also_allowed.end())
        continue;
      std::vector<std::string> known(used_.begin(), used_.end());
      known.insert(known.end(), also_allowed.begin(), also_allowed.end());
      throw InputError(fmt::format("{}: unknown key '{}'{}; allowed keys: {}", file_,
                                   quoted_value(key_name(k)), did_you_mean(k, known),
                                   fmt::join(known, ", ")));
    }
  }

  const std::string& file() const { return file_; }
  const YAML::Node& raw() const { return node_; }

 private:
  static std::string trim(const std::string& p) {
    return !p.empty() && p.back() == '.' ? p.substr(0, p.size() - 1) : p;
  }
  std::string file_, prefix_;
  YAML::Node node_;
  std::set<std::string> used_;
};

ModuleFigures read_module(Reader r) {
  ModuleFigures m;
  m.area_um2 = r.get_double("area");
  m.dynamic_mw = r.get_double("dynamic");
  m.leakage_mw = r.get_double("leakage");
  r.check_no_unknown({"depth"});
  if (m.area_um2 < 0 || m.dynamic_mw < 0 || m.leakage_mw < 0)
    throw InputError(
        fmt::format("{}: negative area or power under '{}'", r.file(), r.key_name("")));
  return m;
}

template <typename T>
std::vector<T> read_list(Reader& r, const std::string& key, const char* type_name) {
  YAML::Node n = r.node(key);
  if (!n.IsSequence())
    throw InputError(fmt::format("{}: key '{}': expected a list", r.file(), r.key_name(key)));
  std::vector<T> out;
  for (const auto& e : n) out.push_back(r.as<T>(e, r.key_name(key), type_name));
  return out;
}

std::string fmt_num(double v) {
  return fmt::format("{:g}", v);
}

template <typename T>
std::string list_str(const std::vector<T>& v) {
  std::vector<std::string> s;
  for (const auto& e : v) {
    if constexpr (std::is_arithmetic_v<T>)
      s.push_back(fmt_num(static_cast<double>(e)));
    else
      s.push_back(e);
  }
  return fmt::format("{}", fmt::join(s, ", "));
}

}  // namespace

// ---------------------------------------------------------------- Technology
const ModuleFigures& Technology::lane(int macs, const std::string& nl) const {
  auto it = mac_lane.find({macs, nl});
  if (it == mac_lane.end())
    throw InputError(fmt::format("{}: no mac_lane figures for macs_{} / {}", source, macs, nl));
  return it->second;
}
const ModuleFigures& Technology::softmax_for(int tile) const {
  auto it = softmax.find(tile);
  if (it == softmax.end())
    throw InputError(fmt::format("{}: no softmax figures for tile_{}", source, tile));
  return it->second;
}
const ModuleFigures& Technology::layer_norm_for(int tile) const {
  auto it = layer_norm.find(tile);
  if (it == layer_norm.end())
    throw InputError(fmt::format("{}: no layer_norm figures for tile_{}", source, tile));
  return it->second;
}

namespace {
int suffix_int(const std::string& file, const std::string& key, const std::string& prefix) {
  if (key.rfind(prefix, 0) != 0)
    throw InputError(fmt::format("{}: unknown key '{}'; expected {}<n>", file, key, prefix));
  try {
    size_t pos = 0;
    int v = std::stoi(key.substr(prefix.size()), &pos);
    if (pos + prefix.size() != key.size() || v <= 0) throw std::invalid_argument(key);
    return v;
  } catch (const std::exception&) {
    throw InputError(fmt::format("{}: unknown key '{}'; expected {}<n>", file, key, prefix));
  }
}
}  // namespace

Technology load_technology(const std::string& path) {
  Technology t;
  t.source = path;
  Reader top(path, "", load_yaml(path, "technology"));
  t.clock_mhz = top.get_double("clock_mhz");
  if (t.clock_mhz <= 0) throw InputError(fmt::format("{}: key 'clock_mhz': must be > 0", path));
  {
    Reader fp = top.sub("fixed_point");
    t.integer_bits = fp.get_int("integer_bits");
    t.fraction_bits = fp.get_int("fraction_bits");
    fp.check_no_unknown();
    if (t.integer_bits < 1 || t.fraction_bits < 0 || t.word_bits() > 32)
      throw InputError(fmt::format("{}: key 'fixed_point': word of {} bits not supported (1..32)",
                                   path, t.word_bits()));
  }
  {
    Reader mods = top.sub("modules");
    Reader lanes = mods.sub("mac_lane");
    for (const auto& kv : lanes.raw()) {
      auto key = kv.first.as<std::string>();
      int macs = suffix_int(path, "modules.mac_lane." + key, "modules.mac_lane.macs_");
      Reader per_nl = lanes.sub(key);
      for (const auto& nl : per_nl.raw()) {
        auto nlname = nl.first.as<std::string>();
        t.mac_lane[{macs, nlname}] = read_module(per_nl.sub(nlname));
      }
    }
    t.pre_sparsity = read_module(mods.sub("pre_sparsity"));
    t.post_sparsity = read_module(mods.sub("post_sparsity"));
    {
      Reader f = mods.sub("fifo");
      t.fifo_depth_words = f.get_int("depth");
      t.fifo = read_module(mods.sub("fifo"));
    }
    t.dataflow = read_module(mods.sub("dataflow"));
    t.dma = read_module(mods.sub("dma"));
    t.stochastic_rounding = read_module(mods.sub("stochastic_rounding"));
    for (const char* name : {"softmax", "layer_norm"}) {
      Reader per_tile = mods.sub(name);
      auto& dst = std::string(name) == "softmax" ? t.softmax : t.layer_norm;
      for (const auto& kv : per_tile.raw()) {
        auto key = kv.first.as<std::string>();
        int tile = suffix_int(path, fmt::format("modules.{}.{}", name, key),
                              fmt::format("modules.{}.tile_", name));
        dst[tile] = read_module(per_tile.sub(key));
      }
    }
    mods.check_no_unknown();
  }
  {
    Reader bufs = top.sub("buffers");
    for (const char* name : {"activation", "weight", "mask"}) {
      Reader b = bufs.sub(name);
      BufferFigures f;
      f.area_um2_per_mb = b.get_double("area_per_mb");
      f.leakage_mw_per_mb = b.get_double("leakage_per_mb");
      f.access_energy_nj = b.get_double("access_energy_nj");
      f.block_bytes = b.get_int("block_bytes");
      b.check_no_unknown();
      if (f.block_bytes <= 0)
        throw InputError(fmt::format("{}: key 'buffers.{}.block_bytes': must be > 0", path, name));
      t.buffers[name] = f;
    }
    t.buffer_port_bandwidth_gbps = bufs.get_double("port_bandwidth_gbps");
    bufs.check_no_unknown();
  }
  {
    Reader mm = top.sub("main_memory");
    Reader bw = mm.sub("bandwidth_gbps");
    for (const auto& kv : bw.raw()) {
      auto k = kv.first.as<std::string>();
      t.main_memory_bandwidth_gbps[k] = bw.get_double(k);
      if (t.main_memory_bandwidth_gbps[k] <= 0)
        throw InputError(
            fmt::format("{}: key 'main_memory.bandwidth_gbps.{}': must be > 0", path, k));
    }
    Reader en = mm.sub("access_energy_nj");
    for (const auto& kv : en.raw()) {
      auto k = kv.first.as<std::string>();
      t.main_memory_access_energy_nj[k] = en.get_double(k);
    }
    mm.check_no_unknown();
  }
  {
    Reader sp = top.sub("default_sparsity");
    t.default_activation_sparsity = sp.get_double("activation");
    t.default_weight_sparsity = sp.get_double("weight");
    sp.check_no_unknown();
    for (double s : {t.default_activation_sparsity, t.default_weight_sparsity})
      if (s < 0 || s >= 1)
        throw InputError(fmt::format("{}: key 'default_sparsity': {} outside [0, 1)", path, s));
  }
  top.check_no_unknown();
  return t;
}

// ---------------------------------------------------------------- DesignSpace
DesignSpace load_design_space(const std::string& path) {
  DesignSpace s;
  s.source = path;
  Reader top(path, "", load_yaml(path, "design-space"));
  {
    Reader t = top.sub("tile");
    s.tile_b = read_list<int>(t, "tile_b", "an integer");
    s.tile_x = read_list<int>(t, "tile_x", "an integer");
    s.tile_y = read_list<int>(t, "tile_y", "an integer");
    t.check_no_unknown();
  }
  s.non_linearity = read_list<std::string>(top, "non_linearity", "a string");
  s.pe = read_list<int>(top, "pe", "an integer");
  s.lanes_per_pe = read_list<int>(top, "lanes_per_pe", "an integer");
  s.mac_per_lane = read_list<int>(top, "mac_per_lane", "an integer");
  s.softmax_per_pe = read_list<int>(top, "softmax_per_pe", "an integer");
  s.batch_size = read_list<int>(top, "batch_size", "an integer");
  s.activation_buffer_mb = read_list<double>(top, "activation_buffer_mb", "a number");
  s.weight_buffer_mb = read_list<double>(top, "weight_buffer_mb", "a number");
  s.mask_buffer_mb = read_list<double>(top, "mask_buffer_mb", "a number");
  top.node("loop_order");  // "any permutation of b,i,j,k"
  if (top.has("buffer_ports")) {
    Reader bp = top.sub("buffer_ports");
    s.buffer_banks = read_list<int>(bp, "banks", "an integer");
    s.bank_width_bytes = read_list<int>(bp, "bank_width_bytes", "an integer");
    bp.check_no_unknown();
  }
  if (top.has("fifo_depth_words"))
    s.fifo_depth_words = read_list<int>(top, "fifo_depth_words", "an integer");
  {
    Reader mm = top.sub("main_memory");
    for (const auto& kv : mm.raw()) {
      auto type = kv.first.as<std::string>();
      YAML::Node layouts = mm.node(type);
      if (!layouts.IsSequence())
        throw InputError(fmt::format("{}: key 'main_memory.{}': expected a list", path, type));
      for (const auto& l : layouts) {
        if (!l.IsSequence() || l.size() != 3)
          throw InputError(fmt::format(
              "{}: key 'main_memory.{}': each layout is [banks, ranks, channels]", path, type));
        s.main_memory[type].push_back({l[0].as<int>(), l[1].as<int>(), l[2].as<int>()});
      }
    }
  }
  top.node("control");
  top.check_no_unknown();
  return s;
}

// ---------------------------------------------------------------- Accelerator
namespace {

std::string resolve_accelerator_path(const std::string& name_or_path) {
  if (fs::exists(name_or_path) || name_or_path.find('/') != std::string::npos ||
      name_or_path.find(".yaml") != std::string::npos ||
      name_or_path.find(".yml") != std::string::npos)
    return name_or_path;
  std::string name = name_or_path;
  if (name.rfind("acceltran-", 0) == 0) name = name.substr(10);
  std::string p = fs::path(models_dir()) / "accelerators" / (name + ".yaml");
  if (fs::exists(p)) return p;
  std::vector<std::string> known;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(models_dir()) / "accelerators", ec))
    if (e.path().extension() == ".yaml") known.push_back(e.path().stem().string());
  std::sort(known.begin(), known.end());
  throw InputError(
      fmt::format("accelerator '{}': no such file and not a built-in name{}; built-ins: {}",
                  name_or_path, did_you_mean(name, known), fmt::join(known, ", ")));
}

template <typename T>
void check_in(const AcceleratorConfig& c, const ConfigOptions& o, const char* key, T value,
              const std::vector<T>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  if (o.allow_outside_design_space) return;
  throw InputError(
      fmt::format("{}: key '{}': value {} is outside the design space; allowed: {} "
                  "(--allow-outside-design-space explores beyond it)",
                  c.source, key, fmt_num(static_cast<double>(value)), list_str(allowed)));
}

// A key whose absence means a default: given explicitly, it must be a real value (0 is not
// "the default", which would make an explicit 0 pass where 7 is refused).
int explicit_positive(const AcceleratorConfig& c, const std::string& key, int value,
                      const char* default_meaning) {
  if (value <= 0)
    throw InputError(
        fmt::format("{}: key '{}': value {} must be positive; leave the key out for "
                    "the default ({})",
                    c.source, key, value, default_meaning));
  return value;
}

void check_positive(const AcceleratorConfig& c, const char* key, double v) {
  if (!(v > 0))
    throw InputError(fmt::format("{}: key '{}': value {} must be > 0", c.source, key, fmt_num(v)));
}

// Size limits (limits.hpp): keep the simulated structures and every product of sizes bounded.
void check_at_most(const AcceleratorConfig& c, const char* key, double v, double max) {
  if (v > max)
    throw InputError(fmt::format("{}: key '{}': value {} exceeds the limit {}", c.source, key,
                                 fmt_num(v), fmt_num(max)));
}

void check_limits(const AcceleratorConfig& c) {
  check_at_most(c, "tile.tile_b", c.tile.b, limits::kMaxTileSide);
  check_at_most(c, "tile.tile_x", c.tile.x, limits::kMaxTileSide);
  check_at_most(c, "tile.tile_y", c.tile.y, limits::kMaxTileSide);
  check_at_most(c, "batch_size", c.batch_size, limits::kMaxBatch);
  check_at_most(c, "pe", c.pe, limits::kMaxUnits);
  check_at_most(c, "lanes_per_pe", c.lanes_per_pe, limits::kMaxUnits);
  check_at_most(c, "softmax_per_pe", c.softmax_per_pe, limits::kMaxUnits);
  check_at_most(c, "mac_per_lane", c.mac_per_lane, limits::kMaxUnits);
  check_at_most(c, "control.issue_width", c.issue_width, limits::kMaxUnits);
  check_at_most(c, "pe x lanes_per_pe", static_cast<double>(c.total_lanes()), limits::kMaxUnits);
  check_at_most(c, "pe x softmax_per_pe", 1.0 * c.pe * c.softmax_per_pe, limits::kMaxUnits);
  check_at_most(c, "activation_buffer_mb", c.activation_buffer_mb, limits::kMaxBufferMb);
  check_at_most(c, "weight_buffer_mb", c.weight_buffer_mb, limits::kMaxBufferMb);
  check_at_most(c, "mask_buffer_mb", c.mask_buffer_mb, limits::kMaxBufferMb);
  check_at_most(c, "main_memory.banks", c.main_memory.banks, limits::kMaxUnits);
  check_at_most(c, "main_memory.ranks", c.main_memory.ranks, limits::kMaxUnits);
  check_at_most(c, "main_memory.channels", c.main_memory.channels, limits::kMaxUnits);
  check_at_most(c, "main_memory banks x ranks x channels",
                1.0 * c.main_memory.banks * c.main_memory.ranks * c.main_memory.channels,
                limits::kMaxUnits);
}

// Physical sanity: these hold even with --allow-outside-design-space.
void check_physical(const AcceleratorConfig& c) {
  check_positive(c, "tile.tile_b", c.tile.b);
  check_positive(c, "tile.tile_x", c.tile.x);
  check_positive(c, "tile.tile_y", c.tile.y);
  if (c.tile.x != c.tile.y)
    throw InputError(fmt::format("{}: key 'tile': tile_x ({}) must equal tile_y ({})", c.source,
                                 c.tile.x, c.tile.y));
  if (c.tile.b > c.batch_size)
    throw InputError(fmt::format("{}: key 'tile.tile_b': value {} exceeds batch_size {}", c.source,
                                 c.tile.b, c.batch_size));
  check_positive(c, "pe", c.pe);
  check_positive(c, "lanes_per_pe", c.lanes_per_pe);
  check_positive(c, "mac_per_lane", c.mac_per_lane);
  check_positive(c, "softmax_per_pe", c.softmax_per_pe);
  check_positive(c, "batch_size", c.batch_size);
  check_positive(c, "activation_buffer_mb", c.activation_buffer_mb);
  check_positive(c, "weight_buffer_mb", c.weight_buffer_mb);
  check_positive(c, "mask_buffer_mb", c.mask_buffer_mb);
  check_positive(c, "control.issue_width", c.issue_width);
  check_positive(c, "buffer_ports.bank_width_bytes", c.buffer_ports.bank_width_bytes);
  for (auto [key, v] : {std::pair{"buffer_ports.activation_banks", c.buffer_ports.activation_banks},
                        std::pair{"buffer_ports.weight_banks", c.buffer_ports.weight_banks},
                        std::pair{"buffer_ports.mask_banks", c.buffer_ports.mask_banks},
                        std::pair{"fifo_depth_words", c.fifo_depth_words}})
    if (v < 0)
      throw InputError(
          fmt::format("{}: key '{}': value {} must be positive (or absent)", c.source, key, v));
  if (c.layer_norm_per_pe != 1)
    throw InputError(fmt::format("{}: key 'layer_norm_per_pe': value {} not supported; allowed: 1",
                                 c.source, c.layer_norm_per_pe));
  check_positive(c, "main_memory.banks", c.main_memory.banks);
  check_positive(c, "main_memory.ranks", c.main_memory.ranks);
  check_positive(c, "main_memory.channels", c.main_memory.channels);
  check_limits(c);
}

// Technology data must exist for the chosen blocks, in or out of the design space; the main
// memory's layout must be one of the design space's unless it may be left.
void check_technology_figures(const AcceleratorConfig& c, const DesignSpace& s,
                              const Technology& tech, const ConfigOptions& o) {
  if (!tech.mac_lane.count({c.mac_per_lane, c.non_linearity})) {
    std::vector<std::string> have;
    for (const auto& kv : tech.mac_lane)
      have.push_back(fmt::format("{}/{}", kv.first.first, kv.first.second));
    throw InputError(fmt::format(
        "{}: keys 'mac_per_lane'/'non_linearity': no technology figures for {} MACs with {} in {}; "
        "available: {}",
        c.source, c.mac_per_lane, c.non_linearity, tech.source, fmt::join(have, ", ")));
  }
  if (!tech.softmax.count(c.tile.x) || !tech.layer_norm.count(c.tile.x)) {
    std::vector<int> have;
    for (const auto& kv : tech.softmax) have.push_back(kv.first);
    throw InputError(
        fmt::format("{}: key 'tile.tile_x': no softmax/layer-norm figures for tile {} "
                    "in {}; available: {}",
                    c.source, c.tile.x, tech.source, list_str(have)));
  }
  if (!tech.main_memory_bandwidth_gbps.count(c.main_memory.bandwidth_class)) {
    std::vector<std::string> have;
    for (const auto& kv : tech.main_memory_bandwidth_gbps) have.push_back(kv.first);
    throw InputError(fmt::format("{}: key 'main_memory.bandwidth': value '{}' unknown; allowed: {}",
                                 c.source, quoted_value(c.main_memory.bandwidth_class),
                                 list_str(have)));
  }
  auto type = to_string(c.main_memory.type);
  auto it = s.main_memory.find(type);
  std::array<int, 3> layout{c.main_memory.banks, c.main_memory.ranks, c.main_memory.channels};
  if (it == s.main_memory.end() ||
      std::find(it->second.begin(), it->second.end(), layout) == it->second.end()) {
    if (!o.allow_outside_design_space) {
      std::vector<std::string> allowed;
      if (it != s.main_memory.end())
        for (const auto& l : it->second)
          allowed.push_back(fmt::format("[{}, {}, {}]", l[0], l[1], l[2]));
      throw InputError(fmt::format(
          "{}: key 'main_memory': layout [banks, ranks, channels] = [{}, {}, {}] for {} is outside "
          "the design space; allowed: {}",
          c.source, layout[0], layout[1], layout[2], type, list_str(allowed)));
    }
  }
  if (!tech.main_memory_access_energy_nj.count(c.main_memory.energy_key())) {
    std::vector<std::string> have;
    for (const auto& kv : tech.main_memory_access_energy_nj) have.push_back(kv.first);
    throw InputError(fmt::format(
        "{}: key 'main_memory': no access energy for layout {} (type_banks_ranks_channels) in {}; "
        "available: {}",
        c.source, c.main_memory.energy_key(), tech.source, list_str(have)));
  }
}

// The design space proper (each check_in passes with --allow-outside-design-space).
void check_design_space(const AcceleratorConfig& c, const DesignSpace& s, const ConfigOptions& o) {
  check_in(c, o, "tile.tile_b", c.tile.b, s.tile_b);
  check_in(c, o, "tile.tile_x", c.tile.x, s.tile_x);
  check_in(c, o, "tile.tile_y", c.tile.y, s.tile_y);
  if (!o.allow_outside_design_space && std::find(s.non_linearity.begin(), s.non_linearity.end(),
                                                 c.non_linearity) == s.non_linearity.end())
    throw InputError(fmt::format("{}: key 'non_linearity': value '{}' not allowed; allowed: {}",
                                 c.source, quoted_value(c.non_linearity),
                                 list_str(s.non_linearity)));
  check_in(c, o, "pe", c.pe, s.pe);
  check_in(c, o, "lanes_per_pe", c.lanes_per_pe, s.lanes_per_pe);
  check_in(c, o, "mac_per_lane", c.mac_per_lane, s.mac_per_lane);
  check_in(c, o, "softmax_per_pe", c.softmax_per_pe, s.softmax_per_pe);
  check_in(c, o, "batch_size", c.batch_size, s.batch_size);
  check_in(c, o, "activation_buffer_mb", c.activation_buffer_mb, s.activation_buffer_mb);
  check_in(c, o, "weight_buffer_mb", c.weight_buffer_mb, s.weight_buffer_mb);
  check_in(c, o, "mask_buffer_mb", c.mask_buffer_mb, s.mask_buffer_mb);
  if (!s.buffer_banks.empty()) {
    if (c.buffer_ports.activation_banks)
      check_in(c, o, "buffer_ports.activation_banks", c.buffer_ports.activation_banks,
               s.buffer_banks);
    if (c.buffer_ports.weight_banks)
      check_in(c, o, "buffer_ports.weight_banks", c.buffer_ports.weight_banks, s.buffer_banks);
    if (c.buffer_ports.mask_banks)
      check_in(c, o, "buffer_ports.mask_banks", c.buffer_ports.mask_banks, s.buffer_banks);
  }
  if (!s.bank_width_bytes.empty())
    check_in(c, o, "buffer_ports.bank_width_bytes", c.buffer_ports.bank_width_bytes,
             s.bank_width_bytes);
  if (!s.fifo_depth_words.empty() && c.fifo_depth_words)
    check_in(c, o, "fifo_depth_words", c.fifo_depth_words, s.fifo_depth_words);
}

}  // namespace

void validate_accelerator(const AcceleratorConfig& c, const DesignSpace& s, const Technology& tech,
                          const ConfigOptions& o) {
  check_physical(c);
  check_technology_figures(c, s, tech, o);
  check_design_space(c, s, o);
}

// ---------------------------------------------------------------- settings
namespace {
Setting number_setting(std::string key, double value) {
  return Setting{std::move(key), fmt::format("{}", value), true};
}
Setting text_setting(std::string key, std::string value) {
  return Setting{std::move(key), std::move(value), false};
}
void add_module(std::vector<Setting>& out, const std::string& key, const ModuleFigures& m) {
  out.push_back(number_setting(key + ".area", m.area_um2));
  out.push_back(number_setting(key + ".dynamic", m.dynamic_mw));
  out.push_back(number_setting(key + ".leakage", m.leakage_mw));
}
}  // namespace

std::vector<Setting> accelerator_settings(const AcceleratorConfig& c) {
  return {number_setting("tile.tile_b", c.tile.b),
          number_setting("tile.tile_x", c.tile.x),
          number_setting("tile.tile_y", c.tile.y),
          text_setting("non_linearity", c.non_linearity),
          number_setting("pe", c.pe),
          number_setting("lanes_per_pe", c.lanes_per_pe),
          number_setting("mac_per_lane", c.mac_per_lane),
          number_setting("softmax_per_pe", c.softmax_per_pe),
          number_setting("layer_norm_per_pe", c.layer_norm_per_pe),
          number_setting("batch_size", c.batch_size),
          number_setting("activation_buffer_mb", c.activation_buffer_mb),
          number_setting("weight_buffer_mb", c.weight_buffer_mb),
          number_setting("mask_buffer_mb", c.mask_buffer_mb),
          text_setting("loop_order", c.loop_order.str()),
          text_setting("main_memory.type", to_string(c.main_memory.type)),
          text_setting("main_memory.bandwidth", c.main_memory.bandwidth_class),
          number_setting("main_memory.banks", c.main_memory.banks),
          number_setting("main_memory.ranks", c.main_memory.ranks),
          number_setting("main_memory.channels", c.main_memory.channels),
          number_setting("buffer_ports.activation_banks", c.buffer_ports.activation_banks),
          number_setting("buffer_ports.weight_banks", c.buffer_ports.weight_banks),
          number_setting("buffer_ports.mask_banks", c.buffer_ports.mask_banks),
          number_setting("buffer_ports.bank_width_bytes", c.buffer_ports.bank_width_bytes),
          number_setting("fifo_depth_words", c.fifo_depth_words),
          number_setting("control.issue_width", c.issue_width)};
}

std::vector<Setting> technology_settings(const Technology& t) {
  std::vector<Setting> out = {number_setting("clock_mhz", t.clock_mhz),
                              number_setting("fixed_point.integer_bits", t.integer_bits),
                              number_setting("fixed_point.fraction_bits", t.fraction_bits)};
  for (const auto& [key, m] : t.mac_lane)
    add_module(out, fmt::format("modules.mac_lane.macs_{}.{}", key.first, key.second), m);
  add_module(out, "modules.pre_sparsity", t.pre_sparsity);
  add_module(out, "modules.post_sparsity", t.post_sparsity);
  out.push_back(number_setting("modules.fifo.depth", t.fifo_depth_words));
  add_module(out, "modules.fifo", t.fifo);
  add_module(out, "modules.dataflow", t.dataflow);
  add_module(out, "modules.dma", t.dma);
  add_module(out, "modules.stochastic_rounding", t.stochastic_rounding);
  for (const auto& [tile, m] : t.softmax)
    add_module(out, fmt::format("modules.softmax.tile_{}", tile), m);
  for (const auto& [tile, m] : t.layer_norm)
    add_module(out, fmt::format("modules.layer_norm.tile_{}", tile), m);
  for (const auto& [name, b] : t.buffers) {
    const std::string key = "buffers." + name;
    out.push_back(number_setting(key + ".area_per_mb", b.area_um2_per_mb));
    out.push_back(number_setting(key + ".leakage_per_mb", b.leakage_mw_per_mb));
    out.push_back(number_setting(key + ".access_energy_nj", b.access_energy_nj));
    out.push_back(number_setting(key + ".block_bytes", b.block_bytes));
  }
  out.push_back(number_setting("buffers.port_bandwidth_gbps", t.buffer_port_bandwidth_gbps));
  for (const auto& [name, v] : t.main_memory_bandwidth_gbps)
    out.push_back(number_setting("main_memory.bandwidth_gbps." + name, v));
  for (const auto& [name, v] : t.main_memory_access_energy_nj)
    out.push_back(number_setting("main_memory.access_energy_nj." + name, v));
  out.push_back(number_setting("default_sparsity.activation", t.default_activation_sparsity));
  out.push_back(number_setting("default_sparsity.weight", t.default_weight_sparsity));
  return out;
}

int AcceleratorConfig::banks(const std::string& buffer) const {
  const int explicit_banks = buffer == "activation" ? buffer_ports.activation_banks
                             : buffer == "weight"   ? buffer_ports.weight_banks
                                                    : buffer_ports.mask_banks;
  if (explicit_banks > 0) return explicit_banks;
  const double mb = buffer == "activation" ? activation_buffer_mb
                    : buffer == "weight"   ? weight_buffer_mb
                                           : mask_buffer_mb;
  return std::max(1, static_cast<int>(std::ceil(mb * 16.0 - 1e-9)));  // 64 KB banks
}

AcceleratorConfig load_accelerator(const std::string& name_or_path, const DesignSpace& space,
                                   const Technology& tech, const ConfigOptions& opts) {
  std::string path = resolve_accelerator_path(name_or_path);
  AcceleratorConfig c;
  // `base:` and --set overrides act on the YAML tree; errors then name the composed source.
  c.source = describe_source(path, opts.overrides);
  YAML::Node tree = compose_accelerator_tree(
      path, opts.overrides, [](const std::string& p) { return load_yaml(p, "accelerator"); },
      resolve_accelerator_path);
  path = c.source;
  Reader top(path, "", tree);
  c.name = top.get_string("name");
  {
    Reader t = top.sub("tile");
    c.tile.b = t.get_int("tile_b");
    c.tile.x = t.get_int("tile_x");
    c.tile.y = t.get_int("tile_y");
    t.check_no_unknown();
  }
  c.non_linearity = top.get_string("non_linearity");
  c.pe = top.get_int("pe");
  c.lanes_per_pe = top.get_int("lanes_per_pe");
  c.mac_per_lane = top.get_int("mac_per_lane");
  c.softmax_per_pe = top.get_int("softmax_per_pe");
  c.layer_norm_per_pe = top.get_int("layer_norm_per_pe");
  c.batch_size = top.get_int("batch_size");
  c.activation_buffer_mb = top.get_double("activation_buffer_mb");
  c.weight_buffer_mb = top.get_double("weight_buffer_mb");
  c.mask_buffer_mb = top.get_double("mask_buffer_mb");
  try {
    c.loop_order = LoopOrder::parse(top.get_string("loop_order"));
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: key 'loop_order': {}", path, e.what()));
  }
  {
    Reader mm = top.sub("main_memory");
    auto type = mm.get_string("type");
    if (type == "rram")
      c.main_memory.type = MemoryType::rram;
    else if (type == "dram")
      c.main_memory.type = MemoryType::dram;
    else if (type == "hbm")
      c.main_memory.type = MemoryType::hbm;
    else
      throw InputError(
          fmt::format("{}: key 'main_memory.type': value '{}' unknown; allowed: rram, dram, hbm",
                      path, quoted_value(type)));
    c.main_memory.bandwidth_class = mm.get_string("bandwidth");
    c.main_memory.banks = mm.get_int("banks");
    c.main_memory.ranks = mm.get_int("ranks");
    c.main_memory.channels = mm.get_int("channels");
    mm.check_no_unknown();
  }
  {
    Reader ctl = top.sub("control");
    c.issue_width = ctl.get_int("issue_width");
    ctl.check_no_unknown();
  }
  if (top.has("buffer_ports")) {  // optional: 64 KB banks of 32-byte ports without it
    Reader bp = top.sub("buffer_ports");
    const char* bank_default = "one 64 KB bank per 64 KB of buffer";
    for (auto [key, banks] : {std::pair{"activation_banks", &c.buffer_ports.activation_banks},
                              std::pair{"weight_banks", &c.buffer_ports.weight_banks},
                              std::pair{"mask_banks", &c.buffer_ports.mask_banks}})
      if (bp.has(key))
        *banks =
            explicit_positive(c, std::string("buffer_ports.") + key, bp.get_int(key), bank_default);
    if (bp.has("bank_width_bytes"))
      c.buffer_ports.bank_width_bytes = bp.get_int("bank_width_bytes");
    bp.check_no_unknown();
  }
  if (top.has("fifo_depth_words"))
    c.fifo_depth_words = explicit_positive(c, "fifo_depth_words", top.get_int("fifo_depth_words"),
                                           "technology.yaml fifo.depth");
  top.check_no_unknown();
  validate_accelerator(c, space, tech, opts);
  return c;
}

}  // namespace acceltran
