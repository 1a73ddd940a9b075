#include "acceltran/config/yaml_input.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"

namespace acceltran {

namespace {

// Measures a document from the parser's events: its nesting and its size with every alias
// expanded (an alias counts the nodes and the height of its anchored node), without building it.
class YamlMeasure : public YAML::EventHandler {
 public:
  explicit YamlMeasure(std::string source) : source_(std::move(source)) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    leaf(mark, anchor, {1, 0});
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(mark, anchor, {1, 0});
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (++aliases_ > limits::kMaxYamlAliases)
      throw InputError(fmt::format("{}:{}: YAML uses more than {} aliases (*name), the limit",
                                   source_, mark.line + 1, limits::kMaxYamlAliases));
    auto it = anchored_.find(anchor);
    if (it == anchored_.end())
      throw InputError(fmt::format("{}:{}: YAML alias refers to a node that contains it", source_,
                                   mark.line + 1));
    leaf(mark, anchor, it->second);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Extent {
    uint64_t nodes;  // with every alias expanded, at most limits::kMaxYamlNodes + 1
    int height;      // levels of lists and mappings below the node
  };
  struct Open {
    YAML::Mark mark;
    YAML::anchor_t anchor;
    Extent extent;
  };

  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    open_.push_back({mark, anchor, {1, 0}});
    check_depth(mark, 0);
  }
  void close() {
    Open done = open_.back();
    open_.pop_back();
    leaf(done.mark, done.anchor, done.extent);
  }
  // A finished node of the given extent: added to its parent (or the document) and to the total.
  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, Extent extent) {
    if (anchor != YAML::NullAnchor) anchored_[anchor] = extent;
    check_depth(mark, extent.height);
    total_ = std::min(total_ + extent.nodes, limits::kMaxYamlNodes + 1);
    if (!open_.empty()) {
      Extent& parent = open_.back().extent;
      parent.nodes = std::min(parent.nodes + extent.nodes, limits::kMaxYamlNodes + 1);
      parent.height = std::max(parent.height, extent.height + 1);
    }
    if (total_ > limits::kMaxYamlNodes)
      throw InputError(
          fmt::format("{}:{}: YAML expands to more than {} nodes (aliases expanded), the limit",
                      source_, mark.line + 1, limits::kMaxYamlNodes));
  }
  void check_depth(const YAML::Mark& mark, int height) const {
    if (static_cast<int>(open_.size()) + height > limits::kMaxNesting)
      throw InputError(fmt::format(
          "{}:{}: YAML nested deeper than the limit of {} levels of lists and mappings{}", source_,
          mark.line + 1, limits::kMaxNesting, height > 0 ? " (aliases expanded)" : ""));
  }

  std::string source_;
  std::vector<Open> open_;
  std::map<YAML::anchor_t, Extent> anchored_;
  uint64_t total_ = 0;
  int aliases_ = 0;
};

}  // namespace

YAML::Node load_bounded_yaml(const std::string& text, const std::string& source) {
  if (text.size() > limits::kMaxYamlBytes)
    throw InputError(fmt::format("{}: {} bytes of YAML exceed the limit of {} bytes", source,
                                 text.size(), limits::kMaxYamlBytes));
  {
    std::istringstream in(text);
    YAML::Parser parser(in);
    YamlMeasure measure(source);
    parser.HandleNextDocument(measure);
  }
  return YAML::Load(text);
}

YAML::Node load_bounded_yaml_file(const std::string& path, const char* what) {
  return load_bounded_yaml(read_input_file(path, limits::kMaxYamlBytes, what), path);
}

}  // namespace acceltran
