#include "acceltran/config/overrides.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/yaml_input.hpp"

namespace acceltran {

Override parse_override(const std::string& text) {
  auto eq = text.find('=');
  Override o;
  if (eq != std::string::npos) {
    o.key = text.substr(0, eq);
    o.value = text.substr(eq + 1);
  }
  auto bad_part = [](const std::string& part) {
    return part.empty() || part.find_first_of(" \t") != std::string::npos;
  };
  bool bad = eq == std::string::npos || o.key.empty() || o.key.front() == '.' ||
             o.key.back() == '.' || o.key.find("..") != std::string::npos || bad_part(o.key);
  if (bad)
    throw InputError(fmt::format(
        "option --set: '{}' must be KEY=VALUE with KEY a dotted accelerator key, e.g. pe=128, "
        "main_memory.type=hbm, tile.tile_x=32",
        quoted_value(text)));
  if (o.key == "base")
    throw InputError(
        "option --set: key 'base' cannot be overridden; pick the accelerator with "
        "--accel");
  return o;
}

namespace {

// Child values replace the base's; mappings merge key by key.
YAML::Node merge(const YAML::Node& base, const YAML::Node& child) {
  if (!base.IsMap() || !child.IsMap()) return YAML::Clone(child);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : child) {
    const auto key = kv.first.as<std::string>();
    YAML::Node b = base[key];
    out[key] = b ? merge(b, kv.second) : YAML::Clone(kv.second);
  }
  return out;
}

YAML::Node with_base(const std::string& path, const YamlLoader& load, const BaseResolver& resolve,
                     std::vector<std::string>& chain) {
  if (std::find(chain.begin(), chain.end(), path) != chain.end())
    throw InputError(fmt::format("{}: key 'base': cycle through {}", chain.back(), path));
  chain.push_back(path);
  YAML::Node node = load(path);
  YAML::Node b = node["base"];
  if (!b) return node;
  if (!b.IsScalar() || b.Scalar().empty())
    throw InputError(fmt::format(
        "{}: key 'base': expected a built-in accelerator name (edge, server) or a file", path));
  // A file named by `base:` is relative to the file that names it.
  const std::string& base = b.Scalar();
  std::filesystem::path file(base);
  const bool is_file = base.find('/') != std::string::npos ||
                       base.find(".yaml") != std::string::npos ||
                       base.find(".yml") != std::string::npos;
  if (is_file && file.is_relative()) file = std::filesystem::path(path).parent_path() / file;
  const std::string base_path = resolve(is_file ? file.string() : base);
  YAML::Node parent = with_base(base_path, load, resolve, chain);
  node.remove("base");
  return merge(parent, node);
}

YAML::Node value_node(const Override& o) {
  // Flow collections ("[32, 1, 4]", "{type: hbm, ...}") become YAML nodes; anything else stays
  // the exact text given, so the loader reads it as if it were written in the file.
  if (!o.value.empty() && (o.value.front() == '[' || o.value.front() == '{')) {
    const std::string source =
        fmt::format("option --set {}={}", quoted_value(o.key), quoted_value(o.value));
    try {
      return load_bounded_yaml(o.value, source);
    } catch (const YAML::Exception& e) {
      throw InputError(fmt::format("{}: value is not valid YAML: {}", source, quoted_value(e.msg)));
    }
  }
  return YAML::Node(o.value);
}

void apply(YAML::Node& root, const Override& o) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    auto dot = o.key.find('.', start);
    parts.push_back(o.key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // yaml-cpp nodes are references: walk by reassigning handles to child nodes.
  std::vector<YAML::Node> path{root};
  std::string walked;
  for (size_t n = 0; n + 1 < parts.size(); ++n) {
    walked += (n ? "." : "") + parts[n];
    YAML::Node cur = path.back();
    YAML::Node next = cur[parts[n]];
    if (next && !next.IsMap())
      throw InputError(fmt::format(
          "option --set {}={}: key '{}' holds a value, not a mapping; set it with --set {}=...",
          quoted_value(o.key), quoted_value(o.value), quoted_value(walked), quoted_value(walked)));
    if (!next) {
      cur[parts[n]] = YAML::Node(YAML::NodeType::Map);
      next = cur[parts[n]];
    }
    path.push_back(next);
  }
  // A new key is added as is: the loader's unknown-key check then names it and lists the
  // allowed keys, exactly as for a key written in the file.
  // A mapping value merges into the mapping it replaces, as under `base:`.
  YAML::Node value = value_node(o);
  YAML::Node parent = path.back();
  YAML::Node old = parent[parts.back()];
  parent[parts.back()] = old && old.IsMap() && value.IsMap() ? merge(old, value) : value;
}

}  // namespace

YAML::Node compose_accelerator_tree(const std::string& path, const std::vector<std::string>& sets,
                                    const YamlLoader& load, const BaseResolver& resolve) {
  std::vector<std::string> chain;
  YAML::Node root = with_base(path, load, resolve, chain);
  for (const auto& s : sets) apply(root, parse_override(s));
  return root;
}

std::string describe_source(const std::string& path, const std::vector<std::string>& sets) {
  if (sets.empty()) return path;
  std::string s = path + " (";
  for (size_t n = 0; n < sets.size(); ++n) s += (n ? ", --set " : "--set ") + quoted_value(sets[n]);
  return s + ")";
}

}  // namespace acceltran
