#include "acceltran/hw/memory/memory_timing.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "acceltran/config/yaml_input.hpp"

namespace acceltran {

MemoryType parse_memory_type(const std::string& text) {
  if (text == "rram") return MemoryType::rram;
  if (text == "dram") return MemoryType::dram;
  if (text == "hbm") return MemoryType::hbm;
  throw InputError(fmt::format("unknown main-memory type '{}'; allowed: rram, dram, hbm", text));
}

const MemoryTiming& MemoryTimingTable::at(MemoryType t) const {
  auto it = types.find(t);
  if (it == types.end())
    throw InputError(
        fmt::format("{}: no timing parameters for main-memory type '{}'", source, to_string(t)));
  return it->second;
}

std::string default_memory_timing_path() {
  return (std::filesystem::path(models_dir()) / "memory.yaml").string();
}

MemoryTimingTable load_memory_timing(const std::string& path) {
  YAML::Node top;
  try {
    top = load_bounded_yaml_file(path, "memory timing");
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}: cannot read memory timing file: {}", path, e.what()));
  }
  if (!top.IsMap()) throw InputError(fmt::format("{}: expected a map of memory types", path));
  MemoryTimingTable table;
  table.source = path;
  static const std::set<std::string> kKeys = {
      "tRCD_ns",   "tCL_ns",        "tCWL_ns",          "tRP_ns",       "tRAS_ns",
      "tWR_ns",    "tREFI_ns",      "tRFC_ns",          "burst_length", "burst_bytes",
      "row_bytes", "background_mw", "refresh_energy_nj"};
  for (const auto& kv : top) {
    std::string name = kv.first.as<std::string>();
    if (name == "dma") {
      const YAML::Node& d = kv.second;
      if (!d.IsMap() || !d["setup_cycles"] || d.size() != 1)
        throw InputError(fmt::format("{}: key 'dma': expected {{setup_cycles: N}}", path));
      long long v = d["setup_cycles"].as<long long>();
      if (v < 0) throw InputError(fmt::format("{}: key 'dma.setup_cycles': must be >= 0", path));
      table.dma_setup_cycles = static_cast<uint64_t>(v);
      continue;
    }
    MemoryType type;
    try {
      type = parse_memory_type(name);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}", path, e.what()));
    }
    const YAML::Node& n = kv.second;
    if (!n.IsMap()) throw InputError(fmt::format("{}: key '{}': expected a map", path, name));
    for (const auto& f : n) {
      auto key = f.first.as<std::string>();
      if (!kKeys.count(key))
        throw InputError(fmt::format("{}: key '{}.{}': unknown key", path, name, key));
    }
    auto num = [&](const char* key) {
      if (!n[key]) throw InputError(fmt::format("{}: key '{}.{}': missing", path, name, key));
      double v;
      try {
        v = n[key].as<double>();
      } catch (const YAML::Exception&) {
        throw InputError(fmt::format("{}: key '{}.{}': expected a number", path, name, key));
      }
      if (v < 0) throw InputError(fmt::format("{}: key '{}.{}': must be >= 0", path, name, key));
      return v;
    };
    MemoryTiming t;
    t.tRCD_ns = num("tRCD_ns");
    t.tCL_ns = num("tCL_ns");
    t.tCWL_ns = num("tCWL_ns");
    t.tRP_ns = num("tRP_ns");
    t.tRAS_ns = num("tRAS_ns");
    t.tWR_ns = num("tWR_ns");
    t.tREFI_ns = num("tREFI_ns");
    t.tRFC_ns = num("tRFC_ns");
    t.burst_length = static_cast<int>(num("burst_length"));
    t.burst_bytes = static_cast<int>(num("burst_bytes"));
    t.row_bytes = static_cast<int>(num("row_bytes"));
    t.background_mw = num("background_mw");
    t.refresh_energy_nj = num("refresh_energy_nj");
    if (t.burst_bytes <= 0 || t.row_bytes <= 0 || t.row_bytes % t.burst_bytes != 0)
      throw InputError(fmt::format(
          "{}: key '{}': burst_bytes and row_bytes must be > 0, row a multiple of the burst", path,
          name));
    if (t.tREFI_ns > 0 && t.tRFC_ns >= t.tREFI_ns)
      throw InputError(fmt::format("{}: key '{}': tRFC_ns must be < tREFI_ns", path, name));
    table.types[type] = t;
  }
  return table;
}

}  // namespace acceltran
