// acceltran compare: a run's throughput and energy per sequence against absolute baseline figures
// of other devices (measured by the user or taken from a publication).
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "acceltran/config/input_error.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace acceltran::cli {

namespace {

constexpr const char* kUsage =
    "usage: acceltran compare --report RUN/report.json --baseline FILE [--csv FILE] [--force]\n\n"
    "Prints, per device of the baseline file, the run's throughput over the device's "
    "(sequences/s) and the device's energy per sequence over the run's (mJ: the energy "
    "reduction). The baseline file (YAML or JSON) has model, seq_len and devices, each with "
    "name, throughput_seq_per_s, optional energy_per_seq_mj and batch, and source "
    "(docs/compare.md). A baseline for another model or sequence length than the run's is "
    "refused unless --force.";

struct Run {
  std::string model;
  int64_t seq_len = 0;
  double throughput_seq_per_s = 0;
  double energy_per_seq_mj = 0;
};

struct Device {
  std::string name, source;
  double throughput_seq_per_s = 0;
  double energy_per_seq_mj = -1;  // < 0: not given
};

double positive_json(const nlohmann::json& j, const std::string& key, const std::string& path) {
  if (!j.contains(key) || !j[key].is_number())
    throw InputError(
        fmt::format("{}: key '{}' missing or not a number (a report.json written "
                    "by acceltran simulate)",
                    path, key));
  const double v = j[key].get<double>();
  if (!(v > 0) || !std::isfinite(v))
    throw InputError(fmt::format("{}: key '{}' = {}: must be a positive number", path, key, v));
  return v;
}

Run load_run(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("option --report: cannot read {}", path));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not JSON ({})", path, e.what()));
  }
  if (!j.is_object() || !j.contains("inputs") || !j["inputs"].is_object() ||
      !j["inputs"].contains("model") || !j["inputs"]["model"].is_string() ||
      !j["inputs"].contains("seq_len") || !j["inputs"]["seq_len"].is_number_integer())
    throw InputError(fmt::format(
        "{}: key 'inputs' with 'model' (string) and 'seq_len' (integer) missing (a report.json "
        "written by acceltran simulate)",
        path));
  Run r;
  r.model = j["inputs"]["model"].get<std::string>();
  r.seq_len = j["inputs"]["seq_len"].get<int64_t>();
  r.throughput_seq_per_s = positive_json(j, "throughput_seq_per_s", path);
  r.energy_per_seq_mj = positive_json(j, "energy_per_seq_mj", path);
  return r;
}

double positive_yaml(const YAML::Node& node, const std::string& key, const std::string& where) {
  double v = 0;
  try {
    v = node[key].as<double>();
  } catch (const YAML::Exception&) {
    throw InputError(fmt::format("{}: key '{}' is not a number (a positive number)", where, key));
  }
  if (!(v > 0) || !std::isfinite(v))
    throw InputError(fmt::format("{}: key '{}' = {}: must be a positive number", where, key, v));
  return v;
}

std::string required_string(const YAML::Node& node, const std::string& key,
                            const std::string& where) {
  if (!node[key] || !node[key].IsScalar() || node[key].as<std::string>().empty())
    throw InputError(fmt::format("{}: key '{}' missing or empty (a string)", where, key));
  return node[key].as<std::string>();
}

Device load_device(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) throw InputError(fmt::format("{}: not a mapping", where));
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (key != "name" && key != "source" && key != "throughput_seq_per_s" &&
        key != "energy_per_seq_mj" && key != "batch")
      throw InputError(
          fmt::format("{}: unknown key '{}'; allowed: name, throughput_seq_per_s, "
                      "energy_per_seq_mj, batch, source",
                      where, key));
  }
  Device d;
  d.name = required_string(node, "name", where);
  d.source = required_string(node, "source", where);
  if (!node["throughput_seq_per_s"])
    throw InputError(fmt::format("{}: key 'throughput_seq_per_s' missing (sequences/s)", where));
  d.throughput_seq_per_s = positive_yaml(node, "throughput_seq_per_s", where);
  if (node["energy_per_seq_mj"])
    d.energy_per_seq_mj = positive_yaml(node, "energy_per_seq_mj", where);
  return d;
}

// The devices of a baseline file, checked against the run's model and sequence length.
std::vector<Device> load_baseline(const std::string& path, const Run& run, bool force) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw InputError(fmt::format("option --baseline: cannot read {}", path));
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}: not YAML/JSON ({})", path, e.what()));
  }
  if (!root.IsMap())
    throw InputError(fmt::format("{}: not a mapping with model, seq_len, devices", path));
  const std::string model = required_string(root, "model", path);
  int64_t seq_len = 0;
  try {
    seq_len = root["seq_len"].as<int64_t>();
  } catch (const YAML::Exception&) {
    throw InputError(fmt::format("{}: key 'seq_len' missing or not an integer", path));
  }
  if (!force && (model != run.model || seq_len != run.seq_len))
    throw InputError(fmt::format(
        "{}: baseline for {} at sequence length {}, the report is {} at {}; measure the same "
        "shape or pass --force",
        path, model, seq_len, run.model, run.seq_len));
  if (model != run.model || seq_len != run.seq_len)
    fmt::print(stderr,
               "warning: {}: baseline for {} at sequence length {}, the report is {} at {} "
               "(--force)\n",
               path, model, seq_len, run.model, run.seq_len);
  const YAML::Node devices = root["devices"];
  if (!devices || !devices.IsSequence() || devices.size() == 0)
    throw InputError(fmt::format("{}: key 'devices' missing or empty (a list of devices)", path));
  std::vector<Device> out;
  for (size_t i = 0; i < devices.size(); ++i)
    out.push_back(load_device(devices[i], fmt::format("{}: devices[{}]", path, i)));
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string compare_csv(const Run& run, const std::vector<Device>& devices) {
  std::string csv =
      "device,throughput_seq_per_s,run_throughput_seq_per_s,throughput_ratio,energy_per_seq_mj,"
      "run_energy_per_seq_mj,energy_reduction,source\n";
  for (const Device& d : devices) {
    const bool energy = d.energy_per_seq_mj > 0;
    csv += fmt::format("{},{},{},{},{},{},{},{}\n", csv_field(d.name), d.throughput_seq_per_s,
                       run.throughput_seq_per_s, run.throughput_seq_per_s / d.throughput_seq_per_s,
                       energy ? fmt::format("{}", d.energy_per_seq_mj) : "", run.energy_per_seq_mj,
                       energy ? fmt::format("{}", d.energy_per_seq_mj / run.energy_per_seq_mj) : "",
                       csv_field(d.source));
  }
  return csv;
}

void print_table(const Run& run, const std::vector<Device>& devices) {
  fmt::print("compare: {} at sequence length {}: {:.6g} sequences/s, {:.6g} mJ per sequence\n",
             run.model, run.seq_len, run.throughput_seq_per_s, run.energy_per_seq_mj);
  fmt::print("  {:<24} {:>14} {:>12} {:>14} {:>12}\n", "device", "sequences/s", "throughput",
             "mJ/sequence", "energy");
  for (const Device& d : devices) {
    const bool energy = d.energy_per_seq_mj > 0;
    fmt::print(
        "  {:<24} {:>14.6g} {:>11.6g}x {:>14} {:>12}\n", d.name, d.throughput_seq_per_s,
        run.throughput_seq_per_s / d.throughput_seq_per_s,
        energy ? fmt::format("{:.6g}", d.energy_per_seq_mj) : "-",
        energy ? fmt::format("{:.6g}x less", d.energy_per_seq_mj / run.energy_per_seq_mj) : "-");
  }
}

}  // namespace

int cmd_compare(const std::vector<std::string>& args) {
  po::options_description desc = option_group("");
  // clang-format off
  desc.add_options()
    ("report", po::value<std::string>(), "report.json of a run (acceltran simulate --out RUN)")
    ("baseline", po::value<std::string>(), "baseline devices, YAML or JSON (see above)")
    ("csv", po::value<std::string>(), "also write the comparison to this CSV file")
    ("force", po::bool_switch(), "compare against a baseline for another model or sequence length")
    ("help,h", "show this help");
  // clang-format on
  po::variables_map vm;
  int rc = 0;
  if (!parse_args(args, desc, kUsage, vm, &rc)) return rc;
  if (!vm.count("report")) throw UsageError("option --report is required");
  if (!vm.count("baseline")) throw UsageError("option --baseline is required");
  const Run run = load_run(vm["report"].as<std::string>());
  const std::vector<Device> devices =
      load_baseline(vm["baseline"].as<std::string>(), run, vm["force"].as<bool>());
  print_table(run, devices);
  if (vm.count("csv")) {
    const std::string path = vm["csv"].as<std::string>();
    std::ofstream out(path);
    if (!(out << compare_csv(run, devices)) || !out.flush())
      throw InputError(fmt::format("option --csv: cannot write {}", path));
    fmt::print("  written {}\n", path);
  }
  return 0;
}

}  // namespace acceltran::cli
