#include "acceltran/workload/model.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/suggest.hpp"

namespace acceltran {
namespace fs = std::filesystem;
using nlohmann::json;

const char* to_string(HeadType t) {
  switch (t) {
    case HeadType::sdp:
      return "sa_sdp";
    case HeadType::wma:
      return "sa_wma";
    case HeadType::conv:
      return "c";
    case HeadType::dft:
      return "l_dft";
    case HeadType::dct:
      return "l_dct";
  }
  return "?";
}

namespace {

bool parse_positive(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 9) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  *out = std::stoll(s);
  return *out > 0;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

HeadDesc parse_head(const std::string& text, const std::string& where) {
  auto bad = [&](const std::string& why) {
    return InputError(fmt::format(
        "{}: head '{}': {}; allowed forms: sa_sdp_<d>, sa_wma_<d>, c_<kernel>_<d>, l_dft_<d>, "
        "l_dct_<d>",
        where, quoted_value(text), why));
  };
  auto f = split(text, '_');
  if (f.size() != 3) throw bad(fmt::format("expected 3 fields separated by '_', got {}", f.size()));
  HeadDesc h;
  h.text = text;
  if (!parse_positive(f[2], &h.dim))
    throw bad(fmt::format("dimension '{}' is not a positive integer", quoted_value(f[2])));
  if (f[0] == "sa" && f[1] == "sdp")
    h.type = HeadType::sdp;
  else if (f[0] == "sa" && f[1] == "wma")
    h.type = HeadType::wma;
  else if (f[0] == "l" && f[1] == "dft")
    h.type = HeadType::dft;
  else if (f[0] == "l" && f[1] == "dct")
    h.type = HeadType::dct;
  else if (f[0] == "c") {
    h.type = HeadType::conv;
    if (!parse_positive(f[1], &h.kernel))
      throw bad(fmt::format("kernel size '{}' is not a positive integer", quoted_value(f[1])));
  } else {
    throw bad(fmt::format("unknown head type '{}'", quoted_value(f[0] + "_" + f[1])));
  }
  const int64_t width = h.dim * std::max<int64_t>(h.kernel, 1);  // both < 10^9: no overflow
  if (width > limits::kMaxWidth)
    throw bad(fmt::format("{} {} exceeds the limit {}",
                          h.type == HeadType::conv ? "kernel x dimension" : "dimension", width,
                          limits::kMaxWidth));
  return h;
}

namespace {

// A positive integer no larger than `max` (a limit of limits.hpp, named in the message).
int64_t positive_value(const json& v, const std::string& key, const std::string& src, int64_t max) {
  if (!v.is_number_integer())
    throw InputError(fmt::format("{}: key '{}': value {} is not a positive integer", src, key,
                                 quoted_value(v.dump())));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max))
    throw InputError(fmt::format("{}: key '{}': value {} exceeds the limit {}", src, key,
                                 quoted_value(v.dump()), max));
  int64_t x = v.get<int64_t>();
  if (x <= 0)
    throw InputError(fmt::format("{}: key '{}': value {} is not a positive integer", src, key, x));
  if (x > max)
    throw InputError(fmt::format("{}: key '{}': value {} exceeds the limit {}", src, key, x, max));
  return x;
}

int64_t get_positive(const json& j, const std::string& key, const std::string& src, int64_t max) {
  if (!j.contains(key)) throw InputError(fmt::format("{}: missing key '{}'", src, key));
  return positive_value(j.at(key), key, src, max);
}

// A list of at most `max` entries.
void check_list_size(const json& v, const std::string& key, const std::string& src, size_t max) {
  if (v.is_array() && v.size() > max)
    throw InputError(
        fmt::format("{}: key '{}': {} entries exceed the limit {}", src, key, v.size(), max));
}

void check_total_heads(const ModelDesc& m, const std::string& src) {
  int64_t heads = 0;
  for (const auto& l : m.layers) heads += static_cast<int64_t>(l.heads.size());
  if (heads > limits::kMaxHeadsTotal)
    throw InputError(
        fmt::format("{}: {} attention heads in total exceed the limit {}; use fewer "
                    "layers or heads",
                    src, heads, limits::kMaxHeadsTotal));
}

// Published (dict2ops.get_ops): only the first `l` entries of "o", "h" and "f" are read; the
// published bert_nano.json has l = 1 and two entries each. Longer lists are accepted and their
// extra entries ignored, with a note (docs/fidelity.md, "Model dictionaries").
void note_entries_past_l(ModelDesc& m, const json& j, int64_t l, const std::string& src) {
  std::vector<std::string> longer;
  for (const char* key : {"o", "h", "f"})
    if (static_cast<int64_t>(j.at(key).size()) > l)
      longer.push_back(fmt::format("'{}' ({})", key, j.at(key).size()));
  if (longer.empty()) return;
  m.notes.push_back(fmt::format(
      "{}: l = {}: the entries of {} past the first {} are ignored, as the published simulator "
      "does",
      src, l, fmt::join(longer, ", "), l));
}

ModelDesc parse_flexibert(const json& j, const std::string& src) {
  static const std::vector<std::string> kKeys = {"l", "o", "h", "f"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(kKeys.begin(), kKeys.end(), it.key()) == kKeys.end())
      throw InputError(
          fmt::format("{}: unknown key '{}' in a FlexiBERT dictionary; allowed keys: l, o, h, f",
                      src, quoted_value(it.key())));
  ModelDesc m;
  m.format = "flexibert";
  int64_t l = get_positive(j, "l", src, limits::kMaxLayers);
  for (const char* key : {"o", "h", "f"}) {
    if (!j.contains(key)) throw InputError(fmt::format("{}: missing key '{}'", src, key));
    if (!j.at(key).is_array() || static_cast<int64_t>(j.at(key).size()) < l)
      throw InputError(fmt::format(
          "{}: key '{}': expected a list of {} entries (one per layer, l = {})", src, key, l, l));
    check_list_size(j.at(key), key, src, static_cast<size_t>(limits::kMaxLayers));
  }
  note_entries_past_l(m, j, l, src);
  for (int64_t n = 0; n < l; ++n) {
    LayerDesc layer;
    const json& o = j["o"][n];
    std::string where = fmt::format("{}: key 'o[{}]'", src, n);
    if (!o.is_array() || o.empty())
      throw InputError(fmt::format("{}: expected a non-empty list of head strings", where));
    check_list_size(o, fmt::format("o[{}]", n), src, limits::kMaxHeadsPerLayer);
    for (size_t t = 0; t < o.size(); ++t) {
      if (!o[t].is_string())
        throw InputError(
            fmt::format("{}: head {} is not a string: {}", where, t, quoted_value(o[t].dump())));
      layer.heads.push_back(parse_head(o[t].get<std::string>(), where));
    }
    layer.hidden = positive_value(j["h"][n], fmt::format("h[{}]", n), src, limits::kMaxWidth);
    const json& f = j["f"][n];
    if (!f.is_array() || f.empty())
      throw InputError(
          fmt::format("{}: key 'f[{}]': expected a non-empty list of feed-forward sizes", src, n));
    check_list_size(f, fmt::format("f[{}]", n), src, limits::kMaxFfnPerLayer);
    for (size_t t = 0; t < f.size(); ++t)
      layer.ffn.push_back(
          positive_value(f[t], fmt::format("f[{}][{}]", n, t), src, limits::kMaxWidth));
    m.layers.push_back(std::move(layer));
  }
  check_total_heads(m, src);
  return m;
}

ModelDesc parse_hf_config(const json& j, const std::string& src) {
  ModelDesc m;
  m.format = "hf-config";
  int64_t hidden = get_positive(j, "hidden_size", src, limits::kMaxWidth);
  int64_t layers = get_positive(j, "num_hidden_layers", src, limits::kMaxLayers);
  int64_t heads = get_positive(j, "num_attention_heads", src, limits::kMaxHeadsPerLayer);
  int64_t inter = get_positive(j, "intermediate_size", src, limits::kMaxWidth);
  if (layers * heads > limits::kMaxHeadsTotal)
    throw InputError(
        fmt::format("{}: {} layers x {} heads exceed the limit of {} attention heads "
                    "in total; use fewer layers or heads",
                    src, layers, heads, limits::kMaxHeadsTotal));
  if (hidden % heads != 0)
    throw InputError(
        fmt::format("{}: key 'hidden_size': {} is not divisible by num_attention_heads {}", src,
                    hidden, heads));
  if (j.contains("vocab_size"))
    m.vocab_size = get_positive(j, "vocab_size", src, limits::kMaxTableRows);
  if (j.contains("max_position_embeddings"))
    m.max_position = get_positive(j, "max_position_embeddings", src, limits::kMaxTableRows);
  if (j.contains("type_vocab_size"))
    m.type_vocab = get_positive(j, "type_vocab_size", src, limits::kMaxTableRows);
  if (j.contains("hidden_act")) {
    if (!j["hidden_act"].is_string())
      throw InputError(fmt::format("{}: key 'hidden_act': expected a string", src));
    m.hidden_act = j["hidden_act"].get<std::string>();
    static const std::vector<std::string> kActs = {
        "gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "relu", "silu", "swish"};
    if (std::find(kActs.begin(), kActs.end(), m.hidden_act) == kActs.end())
      throw InputError(fmt::format("{}: key 'hidden_act': value '{}' not supported; allowed: {}",
                                   src, quoted_value(m.hidden_act), fmt::join(kActs, ", ")));
  }
  if (j.contains("model_type") && j["model_type"].is_string()) {
    auto t = j["model_type"].get<std::string>();
    static const std::vector<std::string> kTypes = {"bert", "roberta", "distilbert", "electra",
                                                    "albert"};
    if (std::find(kTypes.begin(), kTypes.end(), t) == kTypes.end())
      throw InputError(
          fmt::format("{}: key 'model_type': value '{}' is not a BERT-style encoder; allowed: {}",
                      src, quoted_value(t), fmt::join(kTypes, ", ")));
  }
  for (int64_t n = 0; n < layers; ++n) {
    LayerDesc layer;
    layer.hidden = hidden;
    layer.ffn = {inter};
    for (int64_t t = 0; t < heads; ++t)
      layer.heads.push_back(parse_head(fmt::format("sa_sdp_{}", hidden / heads), src));
    m.layers.push_back(std::move(layer));
  }
  return m;
}

std::string resolve_model_path(const std::string& name_or_path) {
  std::error_code ec;
  if (fs::is_directory(name_or_path, ec)) {
    // A Hugging Face model folder: its config.json describes the encoder.
    std::string config = (fs::path(name_or_path) / "config.json").string();
    if (!fs::is_regular_file(config, ec))
      throw InputError(fmt::format(
          "{}: is a folder without a config.json; --model takes a built-in name, a FlexiBERT or "
          "Hugging Face config.json file, or a Hugging Face model folder",
          name_or_path));
    return config;
  }
  if (fs::exists(name_or_path) || name_or_path.find('/') != std::string::npos ||
      name_or_path.find(".json") != std::string::npos)
    return name_or_path;
  std::string p = fs::path(models_dir()) / "transformers" / (name_or_path + ".json");
  if (fs::exists(p)) return p;
  std::vector<std::string> known;
  for (const auto& e : fs::directory_iterator(fs::path(models_dir()) / "transformers", ec))
    if (e.path().extension() == ".json") known.push_back(e.path().stem().string());
  std::sort(known.begin(), known.end());
  throw InputError(fmt::format("model '{}': no such file and not a built-in name{}; built-ins: {}",
                               name_or_path, did_you_mean(name_or_path, known),
                               fmt::join(known, ", ")));
}

}  // namespace

ModelDesc parse_model_json(const std::string& text, const std::string& source) {
  json j;
  // nlohmann::json keeps the last of two equal keys: a repeated key is an error instead.
  std::vector<std::set<std::string>> keys;  // per open object, its keys so far
  auto no_duplicates = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty()) {
      const std::string k = parsed.get<std::string>();
      if (!keys.back().insert(k).second)
        throw InputError(fmt::format("{}: duplicate key '{}'", source, quoted_value(k)));
    }
    return true;
  };
  check_json_text(text, source, limits::kMaxJsonBytes);  // nlohmann-json recurses per level
  try {
    j = json::parse(text, no_duplicates);
  } catch (const json::parse_error& e) {
    const std::string what = e.what();
    throw InputError(fmt::format("{}: JSON syntax error at byte {}: {}", source, e.byte,
                                 quoted_value(what.substr(what.find(':') + 2))));
  } catch (const json::exception& e) {  // e.g. a number too large for a double (1e400)
    const std::string what = e.what();
    throw InputError(fmt::format(
        "{}: JSON value error: {}", source,
        quoted_value(what.substr(what.find(']') == std::string::npos ? 0 : what.find(']') + 2))));
  }
  if (!j.is_object())
    throw InputError(fmt::format("{}: expected a JSON object at the top level", source));
  ModelDesc m;
  if (j.contains("l") || j.contains("o"))
    m = parse_flexibert(j, source);
  else if (j.contains("hidden_size") || j.contains("num_hidden_layers"))
    m = parse_hf_config(j, source);
  else
    throw InputError(fmt::format(
        "{}: not a model description: expected a FlexiBERT dictionary (keys l, o, h, f) or a "
        "Hugging Face config.json (keys hidden_size, num_hidden_layers, num_attention_heads, "
        "intermediate_size)",
        source));
  m.source = source;
  m.name = fs::path(source).stem().string();
  if (m.name == "config") m.name = fs::path(source).parent_path().filename().string();
  if (m.name.empty()) m.name = "model";
  return m;
}

ModelDesc load_model(const std::string& name_or_path) {
  std::string path = resolve_model_path(name_or_path);
  return parse_model_json(read_input_file(path, limits::kMaxJsonBytes, "model"), path);
}

}  // namespace acceltran
