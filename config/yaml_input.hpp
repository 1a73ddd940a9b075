// YAML read within bounds (config/input_limits.hpp). yaml-cpp keeps an alias as a second
// reference to its anchored node, so a short text with nested aliases (a "billion laughs") is a
// tree of billions of nodes to every walk over it. The text is parsed once to measure it (size,
// nesting, alias uses, nodes with every alias expanded) and only then loaded.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>

namespace acceltran {

// The YAML document in `text` (from `source`, named in errors). InputError when the text exceeds
// a limit or an alias refers to a node that contains it; YAML::ParserException on a syntax error.
YAML::Node load_bounded_yaml(const std::string& text, const std::string& source);

// The same for the file at `path` (a `what` file: "accelerator", "sweep spec", ...), whose size
// is bounded by limits::kMaxYamlBytes.
YAML::Node load_bounded_yaml_file(const std::string& path, const char* what);

}  // namespace acceltran
