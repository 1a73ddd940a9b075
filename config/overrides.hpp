// Accelerator YAML composition, applied to the YAML tree before the accelerator is read and
// validated, so that every key the loader knows (today's and tomorrow's) can be changed:
//  - `base: NAME_OR_PATH` at the top of an accelerator YAML starts from another accelerator
//    (a built-in name such as edge or server, or a file relative to this one) and the rest of
//    the file lists only the changes (mappings merge key by key, other values replace);
//  - `--set KEY=VALUE` (dotted path, e.g. main_memory.type=hbm, tile.tile_x=32, pe=128)
//    replaces one value after `base:` is resolved.
// Keys and values are then checked by the loader exactly as if they were written in the file.
#pragma once
#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <vector>

namespace acceltran {

struct Override {
  std::string key;    // dotted path, e.g. "main_memory.type"
  std::string value;  // YAML text of the value, e.g. "hbm", "[1, 2]"
};

// Parses "KEY=VALUE"; InputError naming the option when malformed.
Override parse_override(const std::string& text);

// Loads the YAML file at a path (with the loader's error messages).
using YamlLoader = std::function<YAML::Node(const std::string& path)>;
// Resolves an accelerator name or path to a file (built-in names: models/accelerators/).
using BaseResolver = std::function<std::string(const std::string& name_or_path)>;

// Returns the tree of `path` with its `base:` chain merged in and the overrides applied.
YAML::Node compose_accelerator_tree(const std::string& path, const std::vector<std::string>& sets,
                                    const YamlLoader& load, const BaseResolver& resolve);

// The accelerator's source as reported: the path, followed by the overrides if any,
// e.g. "models/accelerators/edge.yaml (--set pe=128)".
std::string describe_source(const std::string& path, const std::vector<std::string>& sets);

}  // namespace acceltran
