// Sweep spec (YAML) -> plan of points; plan.json; point status.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/output_file.hpp"
#include "acceltran/config/yaml_input.hpp"
#include "sweep.hpp"

namespace acceltran::cli::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kTopKeys = "model, models, accelerator, accelerators, fixed, grid, points";

// The text of a value as passed on the command line: scalars as written, lists and mappings in
// YAML flow style (for --set keys such as a [banks, ranks, channels] layout).
std::string value_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e.SetSeqFormat(YAML::Flow);
  e.SetMapFormat(YAML::Flow);
  e << n;
  return e.c_str();
}

struct Setting {
  std::string key;  // as written in the spec
  std::string value;
};

// A model or accelerator written as a file relative to the spec is made absolute, so points
// run from any folder (and on Slurm nodes).
std::string resolve_file(const std::string& value, const std::string& spec) {
  if (value.find('/') == std::string::npos && value.find('.') == std::string::npos) return value;
  fs::path p(value);
  if (p.is_relative()) {
    fs::path beside = fs::path(spec).parent_path() / p;
    if (fs::exists(beside)) return fs::absolute(beside).lexically_normal().string();
  }
  return fs::exists(p) ? fs::absolute(p).lexically_normal().string() : value;
}

// A key of `fixed`, `grid` or a point as the plan names it ('accel' is 'accelerator').
std::string spec_key(const std::string& key) {
  return key == "accel" ? "accelerator" : key;
}

std::string column_name(const std::string& key) {
  return key.rfind("--", 0) == 0 ? key.substr(2) : key;
}

void add_args(std::vector<std::string>& args, const Setting& s, const std::string& spec) {
  if (s.key == "model" || s.key == "accelerator") {
    args.push_back(s.key == "model" ? "--model" : "--accel");
    args.push_back(resolve_file(s.value, spec));
  } else if (s.key.rfind("--", 0) == 0) {
    // A simulate option; true/false for a switch.
    if (s.value == "true") {
      args.push_back(s.key);
    } else if (s.value != "false") {
      args.push_back(s.key);
      args.push_back(s.value);
    }
  } else {
    args.push_back("--set");
    args.push_back(s.key + "=" + s.value);
  }
}

std::vector<Setting> read_mapping(const YAML::Node& n, const std::string& file,
                                  const std::string& where) {
  if (!n.IsMap())
    throw InputError(fmt::format("{}: key '{}': expected a mapping of KEY: VALUE", file, where));
  std::vector<Setting> out;
  for (const auto& kv : n) {
    const auto key = spec_key(kv.first.as<std::string>());
    if (key.empty() || key == "-" || key == "--")
      throw InputError(fmt::format("{}: key '{}': empty key", file, where));
    if (key == "--model" || key == "--accel" || key == "--out")
      throw InputError(fmt::format(
          "{}: key '{}.{}': write 'model:' / 'accelerator:' instead (--out is the sweep's)", file,
          where, quoted_value(key)));
    if (kv.second.IsNull())
      throw InputError(
          fmt::format("{}: key '{}.{}': missing value", file, where, quoted_value(key)));
    out.push_back({key, value_text(kv.second)});
  }
  return out;
}

std::vector<std::string> read_names(const YAML::Node& top, const char* one, const char* many,
                                    const std::string& file, const char* fallback) {
  if (top[one] && top[many])
    throw InputError(fmt::format("{}: keys '{}' and '{}' exclude each other", file, one, many));
  std::vector<std::string> out;
  if (YAML::Node n = top[one]) {
    if (!n.IsScalar())
      throw InputError(
          fmt::format("{}: key '{}': expected one name (use '{}' for a list)", file, one, many));
    out.push_back(n.Scalar());
  } else if (YAML::Node m = top[many]) {
    if (!m.IsSequence() || m.size() == 0)
      throw InputError(fmt::format("{}: key '{}': expected a non-empty list", file, many));
    for (const auto& e : m) out.push_back(value_text(e));
  } else {
    out.push_back(fallback);
  }
  return out;
}

// yaml-cpp keeps both entries of a repeated key and looks up the first, so a key given twice
// would silently lose one value: refused with both lines, in the spec's own mappings (where
// 'accel' is 'accelerator') and in values passed on to --set.
void refuse_duplicate_keys(const YAML::Node& node, const std::string& file,
                           const std::string& where) {
  if (node.IsSequence()) {
    for (size_t n = 0; n < node.size(); ++n)
      refuse_duplicate_keys(node[n], file, fmt::format("{}[{}]", where, n));
    return;
  }
  if (!node.IsMap()) return;
  const bool spec_mapping =
      where.empty() || where == "fixed" || where == "grid" ||
      (where.rfind("points[", 0) == 0 && where.find('.') == std::string::npos);
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    const std::string key = value_text(kv.first);
    const std::string name = where.empty() ? key : where + "." + key;
    const int line = kv.first.Mark().line + 1;
    const auto [seen, fresh] = first_line.emplace(spec_mapping ? spec_key(key) : key, line);
    if (!fresh)
      throw InputError(fmt::format("{}:{}: key '{}' is given twice (first on line {}); keep one",
                                   file, line, quoted_value(name), seen->second));
    refuse_duplicate_keys(kv.second, file, name);
  }
}

// A setting made for every point (top-level model(s)/accelerator(s), `fixed`) that a grid axis
// or an explicit point would replace is refused, naming both places: one of them is a mistake.
void refuse_overrides(const YAML::Node& top, const std::string& file) {
  std::map<std::string, std::string> every_point;  // key -> where the spec sets it
  for (const auto& [one, many] : {std::pair{"model", "models"}, {"accelerator", "accelerators"}})
    if (top[one] || top[many]) every_point[one] = top[one] ? one : many;
  auto check = [&](const YAML::Node& mapping, const std::string& where) {
    if (!mapping || !mapping.IsMap()) return;
    for (const auto& kv : mapping) {
      const std::string key = spec_key(value_text(kv.first));
      if (auto it = every_point.find(key); it != every_point.end())
        throw InputError(fmt::format(
            "{}: key '{}.{}' would override '{}', which is set for every point; keep one", file,
            where, quoted_value(key), quoted_value(it->second)));
    }
  };
  const YAML::Node fixed = top["fixed"], points = top["points"];
  check(fixed, "fixed");
  if (fixed && fixed.IsMap())
    for (const auto& kv : fixed) {
      const std::string key = spec_key(value_text(kv.first));
      every_point[key] = "fixed." + key;
    }
  check(top["grid"], "grid");
  if (points && points.IsSequence())
    for (size_t n = 0; n < points.size(); ++n) check(points[n], fmt::format("points[{}]", n));
}

// The spec's YAML mapping, with only the known top-level keys.
YAML::Node load_spec(const std::string& path) {
  if (!fs::is_regular_file(path))
    throw InputError(fmt::format("{}: sweep spec file not found", path));
  YAML::Node top;
  try {
    top = load_bounded_yaml_file(path, "sweep spec");
  } catch (const YAML::ParserException& e) {
    throw InputError(fmt::format("{}:{}:{}: YAML syntax error: {}", path, e.mark.line + 1,
                                 e.mark.column + 1, quoted_value(e.msg)));
  }
  if (!top.IsMap()) throw InputError(fmt::format("{}: expected a YAML mapping", path));
  const std::set<std::string> known{"model", "models", "accelerator", "accelerators",
                                    "fixed", "grid",   "points"};
  for (const auto& kv : top) {
    auto k = kv.first.as<std::string>();
    if (!known.count(k))
      throw InputError(
          fmt::format("{}: unknown key '{}'; allowed keys: {}", path, quoted_value(k), kTopKeys));
  }
  refuse_duplicate_keys(top, path, "");
  refuse_overrides(top, path);
  return top;
}

// Every combination of the grid's values (its first axis outermost), then the listed points;
// one empty point when there are neither.
std::vector<std::vector<Setting>> read_grid_points(const YAML::Node& top, const std::string& path) {
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  if (YAML::Node g = top["grid"]) {
    if (!g.IsMap() || g.size() == 0)
      throw InputError(fmt::format("{}: key 'grid': expected a mapping KEY: [values...]", path));
    for (const auto& kv : g) {
      const auto key = spec_key(kv.first.as<std::string>());
      if (!kv.second.IsSequence() || kv.second.size() == 0)
        throw InputError(fmt::format("{}: key 'grid.{}': expected a non-empty list of values", path,
                                     quoted_value(key)));
      std::vector<std::string> vals;
      for (const auto& v : kv.second) vals.push_back(value_text(v));
      axes.push_back({key, vals});
    }
  }
  std::vector<std::vector<Setting>> grid_points;
  if (!axes.empty()) {
    std::vector<size_t> at(axes.size(), 0);
    while (true) {
      std::vector<Setting> p;
      for (size_t a = 0; a < axes.size(); ++a) p.push_back({axes[a].first, axes[a].second[at[a]]});
      grid_points.push_back(p);
      size_t a = axes.size();
      while (a > 0 && ++at[a - 1] == axes[a - 1].second.size()) at[--a] = 0;
      if (a == 0) break;
    }
  }
  if (YAML::Node pts = top["points"]) {
    if (!pts.IsSequence() || pts.size() == 0)
      throw InputError(
          fmt::format("{}: key 'points': expected a non-empty list of mappings", path));
    for (size_t n = 0; n < pts.size(); ++n)
      grid_points.push_back(read_mapping(pts[n], path, fmt::format("points[{}]", n)));
  }
  if (grid_points.empty()) grid_points.push_back({});
  return grid_points;
}

// The input keys: model, accelerator, then every key in order of first appearance. Fills the
// plan's input columns and option keys.
std::vector<std::string> input_keys(const std::vector<Setting>& fixed,
                                    const std::vector<std::vector<Setting>>& grid_points,
                                    const std::string& path, Plan& plan) {
  std::vector<std::string> keys{"model", "accelerator"};
  auto note = [&](const std::string& k) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  };
  for (const auto& s : fixed) note(s.key);
  for (const auto& gp : grid_points)
    for (const auto& s : gp) note(s.key);
  std::set<std::string> columns;
  for (const auto& k : keys)
    if (!columns.insert(column_name(k)).second)
      throw InputError(
          fmt::format("{}: key '{}' appears both as an option and as an accelerator "
                      "key; rename one",
                      path, k));
  for (const auto& k : keys) {
    plan.input_columns.push_back(column_name(k));
    if (k.rfind("--", 0) == 0) plan.option_keys.push_back(k);
  }
  return keys;
}

// The simulate options that name a file the run writes (--out is the sweep's own).
bool is_output_option(const std::string& arg) {
  return arg == "--vcd" || arg == "--dump-outputs";
}

// The file an output option writes: --vcd appends .vcd to a name without it.
fs::path output_file_of(const std::string& option, const std::string& value) {
  const bool vcd = value.size() > 4 && value.compare(value.size() - 4, 4, ".vcd") == 0;
  return fs::path(option == "--vcd" && !vcd ? value + ".vcd" : value).lexically_normal();
}

// Points writing one file would leave only the last point's. A relative output path is written
// into each point's folder (point_args), so it must stay inside it; an absolute one must differ
// from point to point (a device such as /dev/null excepted).
void refuse_shared_outputs(const Plan& plan) {
  std::map<std::string, int> writer;  // absolute file -> the first point writing it
  for (const auto& p : plan.points)
    for (size_t n = 0; n + 1 < p.args.size(); ++n) {
      if (!is_output_option(p.args[n])) continue;
      const fs::path file = output_file_of(p.args[n], p.args[n + 1]);
      if (file.is_relative()) {
        if (!file.empty() && *file.begin() == "..")
          throw InputError(fmt::format(
              "{}: key '{}': '{}' leaves the point's folder; a relative output path is written "
              "into each point's folder DIR/points/NNNN/",
              plan.spec, p.args[n], quoted_value(p.args[n + 1])));
        continue;
      }
      std::error_code ec;
      if (fs::exists(file, ec) && !fs::is_regular_file(file, ec)) continue;
      const auto [first, fresh] = writer.emplace(file.string(), p.index);
      if (!fresh)
        throw InputError(fmt::format(
            "{}: key '{}': points {:04d} and {:04d} would both write {}; give a relative path "
            "(written into each point's folder DIR/points/NNNN/) or another file per point",
            plan.spec, p.args[n], first->second, p.index, quoted_value(file.string())));
    }
}

}  // namespace

std::vector<std::string> point_args(const Point& point, const std::string& point_folder) {
  std::vector<std::string> args = point.args;
  for (size_t n = 0; n + 1 < args.size(); ++n)
    if (is_output_option(args[n]) && fs::path(args[n + 1]).is_relative()) {
      const fs::path file = fs::path(point_folder) / args[n + 1];
      std::error_code ec;  // simulate checks that the file's folder exists
      fs::create_directories(file.parent_path(), ec);
      args[n + 1] = file.string();
    }
  return args;
}

Plan read_spec(const std::string& path) {
  const YAML::Node top = load_spec(path);
  Plan plan;
  plan.spec = fs::absolute(path).lexically_normal().string();
  const auto models = read_names(top, "model", "models", path, "bert-tiny");
  const auto accels = read_names(top, "accelerator", "accelerators", path, "edge");
  std::vector<Setting> fixed;
  if (top["fixed"]) fixed = read_mapping(top["fixed"], path, "fixed");
  const std::vector<std::vector<Setting>> grid_points = read_grid_points(top, path);
  const std::vector<std::string> keys = input_keys(fixed, grid_points, path, plan);

  for (const auto& model : models)
    for (const auto& accel : accels)
      for (const auto& gp : grid_points) {
        // Later settings win: model/accelerator, then fixed, then the point's own.
        std::vector<Setting> all{{"model", model}, {"accelerator", accel}};
        for (const auto& s : fixed) all.push_back(s);
        for (const auto& s : gp) all.push_back(s);
        Point p;
        p.index = static_cast<int>(plan.points.size());
        for (const auto& k : keys) {
          std::string v;
          bool set = false;
          for (const auto& s : all)
            if (s.key == k) v = s.value, set = true;
          p.inputs.push_back({column_name(k), v});
          if (set) add_args(p.args, {k, v}, path);
        }
        plan.points.push_back(p);
      }
  refuse_shared_outputs(plan);
  return plan;
}

void check_options(const Plan& plan, const std::string& exe) {
  if (plan.option_keys.empty()) return;
  const std::string cmd = "'" + exe + "' simulate --help 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw InputError("cannot run acceltran simulate --help");
  std::string help;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) help += buf;
  pclose(p);
  // Option lines of Boost's help: "  -m [ --model ] arg ..." or "  --seq-len arg ...".
  std::set<std::string> options;
  std::istringstream lines(help);
  std::string line;
  while (std::getline(lines, line)) {
    auto at = line.find_first_not_of(' ');
    if (at == std::string::npos || at > 4 || line[at] != '-') continue;
    auto dd = line.find("--", at);
    if (dd == std::string::npos) continue;
    auto end = line.find_first_of(" ]", dd);
    options.insert(line.substr(dd, end == std::string::npos ? end : end - dd));
  }
  for (const char* own : {"--out", "--model", "--accel", "--help"}) options.erase(own);
  for (const auto& k : plan.option_keys)
    if (!options.count(k))
      throw InputError(
          fmt::format("{}: key '{}' is not an option of acceltran simulate; options: {}", plan.spec,
                      k, fmt::join(options, ", ")));
}

std::vector<int> parse_index_list(const std::string& text, int count) {
  std::vector<int> out;
  size_t start = 0;
  auto bad = [&]() {
    return InputError(
        fmt::format("point list '{}': expected indices or ranges such as 0-9,12 within 0..{}", text,
                    count - 1));
  };
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? comma : comma - start);
    try {
      size_t pos = 0;
      auto dash = part.find('-');
      int a = std::stoi(part.substr(0, dash), &pos);
      int b = dash == std::string::npos ? a : std::stoi(part.substr(dash + 1));
      if (a < 0 || b < a || b >= count) throw bad();
      for (int n = a; n <= b; ++n) out.push_back(n);
    } catch (const std::logic_error&) {
      throw bad();
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string index_list(const std::vector<int>& indices) {
  std::vector<std::string> parts;
  for (size_t n = 0; n < indices.size();) {
    size_t m = n;
    while (m + 1 < indices.size() && indices[m + 1] == indices[m] + 1) ++m;
    parts.push_back(m == n ? fmt::format("{}", indices[n])
                           : fmt::format("{}-{}", indices[n], indices[m]));
    n = m + 1;
  }
  return fmt::format("{}", fmt::join(parts, ","));
}

}  // namespace acceltran::cli::sweep
