#include "common.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <typeinfo>

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define ACCELTRAN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACCELTRAN_ASAN 1
#endif
#endif

#ifdef ACCELTRAN_ASAN
#include <pthread.h>
#include <sanitizer/common_interface_defs.h>
#endif

#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/output_file.hpp"
#include "acceltran/config/suggest.hpp"

namespace acceltran::cli {

unsigned help_width() {
  long columns = 0;
  if (const char* text = std::getenv("COLUMNS")) columns = std::strtol(text, nullptr, 10);
  winsize size{};
  if (columns <= 0 && isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0)
    columns = size.ws_col;
  if (columns <= 0) columns = 80;
  return static_cast<unsigned>(std::clamp(columns, 40L, 1000L));
}

po::options_description option_group(const std::string& caption) {
  // Boost prints each option on one line; help_text() wraps them (Boost would cut words).
  return po::options_description(caption, 100000, 50000);
}

namespace {

// `text`'s words after `used` characters of the line, in lines of at most `width` characters
// that start with `indent` spaces; a word longer than a line stands alone, never cut.
std::string wrap_words(const std::string& text, size_t used, size_t indent, size_t width) {
  std::istringstream words(text);
  std::string out;
  bool line_empty = true;
  for (std::string word; words >> word;) {
    if (!line_empty && used + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      used = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++used;
    }
    out += word;
    used += word.size();
    line_empty = false;
  }
  return out + "\n";
}

}  // namespace

std::string help_text(const std::string& usage, const po::options_description& desc) {
  const size_t width = help_width();
  std::ostringstream printed;
  printed << desc;
  std::vector<std::pair<std::string, std::string>> rows;  // option and description, or caption
  size_t column = 0;
  std::istringstream lines(printed.str());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  ", 0) != 0) {
      rows.emplace_back(line, std::string());
      continue;
    }
    const size_t gap = line.find("  ", 2);
    std::string name = line.substr(0, gap);
    const size_t text = gap == std::string::npos ? gap : line.find_first_not_of(' ', gap);
    rows.emplace_back(name, text == std::string::npos ? "" : line.substr(text));
    column = std::max(column, name.size() + 2);
  }
  column = std::min(column, width * 2 / 5);
  // The usage text by paragraphs (lines up to a blank one), each wrapped anew.
  std::string out, paragraph;
  std::istringstream usage_lines(usage);
  for (std::string line; std::getline(usage_lines, line);) {
    if (!line.empty()) {
      paragraph += (paragraph.empty() ? "" : " ") + line;
      continue;
    }
    out += wrap_words(paragraph, 0, 0, width) + "\n";
    paragraph.clear();
  }
  out += wrap_words(paragraph, 0, 0, width);
  for (const auto& [name, text] : rows) {
    if (name.rfind("  ", 0) != 0) {  // a caption or a blank line between groups
      out += name.empty() ? "\n" : wrap_words(name, 0, 0, width);
      continue;
    }
    out += name;
    if (name.size() + 1 > column)
      out += "\n" + std::string(column, ' ');
    else
      out += std::string(column - name.size(), ' ');
    out += wrap_words(text, column, column, width);
  }
  return out;
}

void add_input_options(po::options_description& desc) {
  po::options_description model = option_group("Model and accelerator");
  po::options_description workload = option_group("Workload");
  po::options_description compilation = option_group("Compilation");
  // clang-format off
  model.add_options()
    ("model,m", po::value<std::string>()->default_value("bert-tiny"),
     "transformer: a built-in name (models/transformers/*.json) or a FlexiBERT / Hugging Face "
     "config.json file")
    ("accel,a", po::value<std::string>()->default_value("edge"),
     "accelerator: a built-in name (edge, server) or a YAML file")
    ("set", po::value<std::vector<std::string>>()->composing(),
     "KEY=VALUE: override an accelerator key by its dotted path, e.g. --set pe=128 "
     "--set main_memory.type=hbm (repeatable; checked like the YAML file)")
    ("allow-outside-design-space", po::bool_switch(),
     "accept accelerator values outside models/design_space.yaml (nonsense is still rejected)")
    ("models-dir", po::value<std::string>(),
     "folder with technology.yaml, design_space.yaml, accelerators/, transformers/ "
     "(default: $ACCELTRAN_MODELS_DIR, else <prefix>/share/acceltran/models for an installed "
     "acceltran, else the source tree's models/)");
  workload.add_options()
    ("seq-len", po::value<int64_t>()->default_value(128), "sequence length")
    ("batch", po::value<int64_t>()->default_value(0), "batch size (0: the accelerator's batch_size)")
    ("sparsity", po::value<double>(),
     "activation sparsity in [0,1) (default: technology.yaml default_sparsity.activation)")
    ("weight-sparsity", po::value<double>(),
     "weight sparsity in [0,1) (default: technology.yaml default_sparsity.weight)")
    ("sparsity-profile", po::value<std::string>(),
     "per-tensor sparsities measured by a functional run: its report.json (replaces --sparsity "
     "and --weight-sparsity)");
  compilation.add_options()
    ("profile", po::value<std::string>()->default_value("hardware"),
     "hardware (this project's model of the hardware; alias: bert) or reference (the published "
     "simulator's conventions)")
    ("reference-bugs", po::value<std::string>(),
     switch_help(SwitchFamily::bug).c_str())
    ("reference-fixes", po::value<std::string>(),
     switch_help(SwitchFamily::fix).c_str())
    ("loop-order", po::value<std::string>(), "override the accelerator's loop order, e.g. k_i_j_b")
    ("tiles-per-instruction", po::value<uint64_t>()->default_value(0),
     "tiles per tile-job instruction (0: one per block, 1: one per tile); profile hardware: "
     "issue bookkeeping only, reference: the published issue batch (docs/isa.md)")
    ("pipeline-blocks", po::value<int64_t>()->default_value(1),
     "profile hardware: row blocks per op for producer-consumer pipelining (rows split while "
     "every engine unit keeps >= 2 tiles per block; 1: the buffers alone decide; trade-off in "
     "docs/performance.md)")
    ("first-layer-only", po::bool_switch(),
     "lower only the first transformer layer (with the embeddings), like the published "
     "simulator's --first_layer_only (docs/fidelity.md)");
  // clang-format on
  desc.add(model).add(workload).add(compilation);
}

std::map<std::string, double> load_sparsity_profile(const std::string& path) {
  const std::string text = read_input_file(path, limits::kMaxJsonBytes, "sparsity profile");
  check_json_text(text, path, limits::kMaxJsonBytes);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not JSON ({})", path, quoted_value(e.what())));
  }
  const nlohmann::json* m = nullptr;
  if (j.is_object() && j.contains("functional") && j["functional"].is_object() &&
      j["functional"].contains("tensor_sparsity"))
    m = &j["functional"]["tensor_sparsity"];
  else if (j.is_object() && j.contains("tensor_sparsity"))
    m = &j["tensor_sparsity"];
  if (!m || !m->is_object() || m->empty())
    throw InputError(fmt::format(
        "{}: key 'functional.tensor_sparsity' missing: give the report.json of a `simulate "
        "--functional` run (or an object with 'tensor_sparsity': {{tensor name: sparsity}})",
        path));
  std::map<std::string, double> out;
  for (const auto& [name, v] : m->items()) {
    if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1))
      throw InputError(
          fmt::format("{}: key 'tensor_sparsity.{}': value {} is not a sparsity in [0, 1)", path,
                      quoted_value(name), quoted_value(v.dump())));
    out[name] = v.get<double>();
  }
  return out;
}

std::string switch_help(SwitchFamily family) {
  std::string text = family == SwitchFamily::bug
                         ? "with --profile reference: published behaviours the profile fixes, "
                           "turned back on, as a comma list or 'all':"
                         : "with --profile reference: published op-graph conventions replaced by "
                           "this project's, as a comma list or 'all':";
  const char* sep = " ";
  for (const PublishedSwitch& s : published_switches())
    if (s.family == family) {
      text += fmt::format("{}{} ({})", sep, s.name, s.description);
      sep = "; ";
    }
  return text + " (docs/fidelity.md)";
}

namespace {

// --reference-bugs / --reference-fixes: a comma list of the family's switch names, or 'all';
// each turns its switch on in `behaviours`.
void parse_switch_list(const po::variables_map& vm, const char* option, SwitchFamily family,
                       PublishedBehaviours& behaviours) {
  const std::vector<std::string> names = switch_names(family);
  std::string cur;
  for (char ch : vm[option].as<std::string>() + ",") {
    if (ch != ',') {
      cur.push_back(ch);
      continue;
    }
    if (cur == "all")
      for (const std::string& n : names) set_switch(behaviours, family, n);
    else if (!set_switch(behaviours, family, cur))
      throw UsageError(fmt::format("option --{}: '{}' unknown; allowed: {}, all", option, cur,
                                   fmt::join(names, ", ")));
    cur.clear();
  }
}

ConfigOptions config_options(const po::variables_map& vm) {
  ConfigOptions copt;
  copt.allow_outside_design_space = vm["allow-outside-design-space"].as<bool>();
  if (vm.count("set")) copt.overrides = vm["set"].as<std::vector<std::string>>();
  return copt;
}

}  // namespace

void load_run_shape(const po::variables_map& vm, Inputs& in) {
  auto& c = in.compile;
  c.seq_len = vm["seq-len"].as<int64_t>();
  if (c.seq_len <= 0 || c.seq_len > limits::kMaxSeqLen)
    throw UsageError(fmt::format("option --seq-len: value {} outside the allowed range [1, {}]",
                                 c.seq_len, limits::kMaxSeqLen));
  c.batch = vm["batch"].as<int64_t>();
  if (c.batch < 0 || c.batch > limits::kMaxBatch)
    throw UsageError(fmt::format("option --batch: value {} outside the allowed range [0, {}]",
                                 c.batch, limits::kMaxBatch));
  if (c.batch > 0 && c.batch != in.accel.batch_size) {
    AcceleratorConfig probe = in.accel;
    probe.batch_size = static_cast<int>(c.batch);
    probe.source = "option --batch";
    try {
      validate_accelerator(probe, in.space, in.tech, config_options(vm));
    } catch (const InputError& e) {
      throw UsageError(e.what());
    }
    in.accel.batch_size = probe.batch_size;
  }
}

Inputs load_inputs(const po::variables_map& vm) {
  if (vm.count("models-dir"))
    setenv("ACCELTRAN_MODELS_DIR", vm["models-dir"].as<std::string>().c_str(), 1);
  namespace fs = std::filesystem;
  const std::string dir = models_dir();
  Inputs in;
  in.tech = load_technology((fs::path(dir) / "technology.yaml").string());
  in.space = load_design_space((fs::path(dir) / "design_space.yaml").string());
  in.accel = load_accelerator(vm["accel"].as<std::string>(), in.space, in.tech, config_options(vm));
  if (vm.count("loop-order")) {
    try {
      in.accel.loop_order = LoopOrder::parse(vm["loop-order"].as<std::string>());
    } catch (const InputError& e) {
      throw UsageError(fmt::format("option --loop-order: {}", e.what()));
    }
  }
  in.model = load_model(vm["model"].as<std::string>());
  for (const std::string& note : in.model.notes) fmt::print(stderr, "note: {}\n", note);
  auto& c = in.compile;
  const std::string profile = vm["profile"].as<std::string>();
  if (!parse_profile(profile, &c.profile))
    throw UsageError(
        fmt::format("option --profile: value '{}' unknown; allowed: {} (bert: alias of hardware)",
                    profile, kProfileNames));
  for (const auto& [option, family] : {std::pair{"reference-bugs", SwitchFamily::bug},
                                       std::pair{"reference-fixes", SwitchFamily::fix}}) {
    if (!vm.count(option)) continue;
    if (c.profile != Profile::reference)
      throw UsageError(fmt::format("option --{} applies to --profile reference", option));
    parse_switch_list(vm, option, family, c.published);
  }
  load_run_shape(vm, in);
  for (const char* key : {"sparsity", "weight-sparsity"}) {
    if (!vm.count(key)) continue;
    double s = vm[key].as<double>();
    if (!(s >= 0 && s < 1))
      throw UsageError(
          fmt::format("option --{}: value {} outside the allowed range [0, 1)", key, s));
    (std::string(key) == "sparsity" ? c.activation_sparsity : c.weight_sparsity) = s;
  }
  if (vm.count("sparsity-profile")) {
    const std::string path = vm["sparsity-profile"].as<std::string>();
    for (const char* key : {"sparsity", "weight-sparsity", "threshold"})
      if (vm.count(key))
        throw UsageError(
            fmt::format("options --sparsity-profile and --{} exclude each other", key));
    if (vm.count("functional") && vm["functional"].as<bool>())
      throw UsageError("option --sparsity-profile is for performance runs: not with --functional");
    c.tensor_sparsity = load_sparsity_profile(path);
    c.tensor_sparsity_source = path;
  }
  c.tiles_per_instruction = vm["tiles-per-instruction"].as<uint64_t>();
  c.pipeline_blocks = vm["pipeline-blocks"].as<int64_t>();
  if (c.pipeline_blocks < 1 || c.pipeline_blocks > 1024)
    throw UsageError(
        fmt::format("option --pipeline-blocks: value {} outside [1, 1024]", c.pipeline_blocks));
  if (c.profile == Profile::reference && !vm["pipeline-blocks"].defaulted())
    throw UsageError(
        "option --pipeline-blocks shapes the hardware profile's blocks: not with --profile "
        "reference (the published stream has no blocks)");
  c.first_layer_only = vm["first-layer-only"].as<bool>();
  return in;
}

namespace {

// The long names of desc's options, as typed ("--name").
std::vector<std::string> option_names(const po::options_description& desc) {
  std::vector<std::string> names;
  for (const auto& o : desc.options()) names.push_back("--" + o->long_name());
  return names;
}

bool is_unsigned_value(const po::variable_value& v) {
  const auto& t = v.value().type();
  return t == typeid(uint64_t) || t == typeid(uint32_t) || t == typeid(unsigned) ||
         t == typeid(unsigned long long) || t == typeid(uint16_t);
}

}  // namespace

bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const char* usage, po::variables_map& vm, int* exit_code) {
  auto usage_error = [&](const std::string& msg) {
    fmt::print(stderr, "error: {}\n(see --help)\n", printable_message(msg));
    *exit_code = 2;
    return false;
  };
  try {
    // No prefix guessing (--loop-orde is not --loop-order); positional tokens are collected and
    // rejected below instead of being ignored.
    const int style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
    po::parsed_options parsed =
        po::command_line_parser(args).options(desc).style(style).allow_unregistered().run();
    for (const auto& o : parsed.options) {
      if (o.position_key >= 0) {
        const std::string& tok = o.value.empty() ? o.string_key : o.value[0];
        return usage_error(fmt::format(
            "unexpected argument '{}': every value follows its option, e.g. --model {}", tok, tok));
      }
      if (o.unregistered) {
        const std::string name = o.original_tokens.empty() ? o.string_key : o.original_tokens[0];
        const std::string bare = name.substr(0, name.find('='));
        return usage_error(fmt::format("unrecognised option '{}'{}", bare,
                                       did_you_mean(bare, option_names(desc))));
      }
    }
    po::store(parsed, vm);
    if (vm.count("help")) {
      std::cout << help_text(usage, desc);
      *exit_code = 0;
      return false;
    }
    po::notify(vm);
    // Boost converts "-1" to an unsigned option by wrapping it to a huge value.
    for (const auto& o : parsed.options)
      for (const auto& v : o.value)
        if (!v.empty() && v.find('-') != std::string::npos && vm.count(o.string_key) &&
            is_unsigned_value(vm[o.string_key]))
          return usage_error(
              fmt::format("option '--{}': value '{}' must not be negative", o.string_key, v));
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  return true;
}

namespace {
namespace fs = std::filesystem;
const char* const kReportFiles[] = {"report.json", "report.csv", "ops.csv", "timeline.csv"};
}  // namespace

namespace {

// Staging folders of earlier runs with the same --out that stopped before writing anything
// (killed): empty, so removing them loses nothing (rmdir refuses a folder with files in it).
void remove_empty_staging_folders(const fs::path& parent, const std::string& name) {
  std::error_code ec;
  const std::string prefix = "." + name + ".partial-";
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) == 0 && entry.is_directory(ec)) rmdir(entry.path().c_str());
  }
}

}  // namespace

OutputFolder::OutputFolder(const std::string& out) {
  fs::path p = fs::path(out).lexically_normal();
  if (p.has_relative_path() && p.filename().empty()) p = p.parent_path();  // "out/" -> "out"
  const std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..")
    throw UsageError(fmt::format("option --out: '{}' must name a folder (e.g. out)", out));
  std::error_code ec;
  if (fs::is_symlink(p, ec) && !fs::exists(p, ec))
    throw InputError(fmt::format("{}: --out is a symbolic link to {}, which does not exist", out,
                                 fs::read_symlink(p, ec).string()));
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec))
      throw InputError(fmt::format("{}: --out exists and is not a folder", out));
    for (const auto& e : fs::directory_iterator(p, ec)) {
      const std::string f = e.path().filename().string();
      if (std::find(std::begin(kReportFiles), std::end(kReportFiles), f) ==
              std::end(kReportFiles) &&
          e.path().extension() != ".vcd" && e.path().extension() != ".stl" &&
          e.path().extension() != ".trace")
        throw InputError(fmt::format(
            "{}: --out holds '{}', which is not a report file; the folder is replaced as a whole, "
            "so choose a new folder or one holding only report.json, report.csv, ops.csv, "
            "timeline.csv, "
            "*.vcd, *.stl, *.trace",
            out, f));
    }
  }
  fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  fs::create_directories(parent, ec);
  remove_empty_staging_folders(parent, name);
  std::string tmpl = (parent / ("." + name + ".partial-XXXXXX")).string();
  if (ec || !mkdtemp(tmpl.data()))
    throw InputError(fmt::format("{}: cannot write the output folder: {}", out,
                                 ec ? ec.message() : std::strerror(errno)));
  // mkdtemp makes the folder 0700; a report folder gets the usual mode (0777 less the umask).
  const mode_t process_umask = umask(0);
  umask(process_umask);
  chmod(tmpl.c_str(), 0777 & ~process_umask);
  out_ = p.string();
  staging_ = tmpl;
}

std::string OutputFolder::place(const std::string& path) const {
  std::error_code ec;
  const fs::path parent =
      fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (fs::weakly_canonical(parent, ec) == fs::weakly_canonical(out_, ec) && !ec)
    return (fs::path(staging_) / fs::path(path).filename()).string();
  return path;
}

OutputFolder::~OutputFolder() {
  std::error_code ec;
  if (!committed_) fs::remove_all(staging_, ec);
}

void OutputFolder::commit() {
  std::error_code ec;
  // The files are synced as they are closed; the folder's entries before it is moved in.
  sync_folder(staging_, out_);
  std::string old;
  if (fs::exists(out_, ec)) {
    // Move the old report aside, the new one in, then drop the old one.
    old = staging_ + ".old";
    fs::rename(out_, old, ec);
    if (ec)
      throw InputError(fmt::format("{}: cannot replace the output folder: {}", out_, ec.message()));
  }
  fs::rename(staging_, out_, ec);
  if (ec) {
    std::error_code ec2;
    if (!old.empty()) fs::rename(old, out_, ec2);
    throw InputError(fmt::format("{}: cannot move the report into place: {}", out_, ec.message()));
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
  const fs::path parent = fs::path(out_).parent_path();
  sync_folder(parent.empty() ? "." : parent.string());
}

namespace {

// A device, a pipe or a socket (what a path names, after symlinks).
bool is_special_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  return !ec && fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status);
}

// The file a --vcd path names: the path itself when it ends in .vcd or names a device or a pipe
// (e.g. /dev/full), else the path with .vcd appended.
std::string vcd_file_of(const std::string& path) {
  const bool vcd = path.size() > 4 && path.substr(path.size() - 4) == ".vcd";
  return vcd || is_special_file(path) ? path : path + ".vcd";
}

}  // namespace

#ifdef ACCELTRAN_ASAN
void restore_stack_bounds() {
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) != 0) return;
  void* stack = nullptr;
  size_t size = 0;
  const bool known = pthread_attr_getstack(&attributes, &stack, &size) == 0;
  pthread_attr_destroy(&attributes);
  if (!known) return;
  // A switch to the thread's own stack: ASan takes its bounds as the current stack again.
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, stack, size);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
}
#else
void restore_stack_bounds() {}
#endif

void check_vcd_path(const std::string& path) {
  std::error_code ec;
  const std::string file = vcd_file_of(path);
  if (fs::is_directory(path, ec) || fs::is_directory(file, ec))
    throw InputError(fmt::format("{}: --vcd names a folder; give a file name such as {}/trace.vcd",
                                 path, fs::path(path).lexically_normal().string()));
  check_output_file(file, "the VCD file");
}

void check_output_file(const std::string& file, const char* what) {
  std::error_code ec;
  if (fs::is_directory(file, ec))
    throw InputError(fmt::format("{}: cannot write {}: it is a folder", file, what));
  const fs::path parent = fs::path(file).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw InputError(
        fmt::format("{}: cannot write {}: folder {} does not exist", file, what, parent.string()));
  const bool existed = fs::exists(file, ec);
  FILE* f = std::fopen(file.c_str(), "a");
  if (!f)
    throw InputError(fmt::format("{}: cannot write {}: {}", file, what, std::strerror(errno)));
  std::fclose(f);
  if (!existed) fs::remove(file, ec);
}

VcdOutput::VcdOutput(const std::string& path, const OutputFolder& out)
    : file_(vcd_file_of(out.place(path))), shown_(vcd_file_of(path)) {
  check_vcd_path(out.place(path));
  // Beside the file (the same file system, so a full disk shows when the trace is copied), or in
  // the staging folder for a device or a pipe.
  const fs::path folder =
      is_special_file(file_) ? fs::path(out.staging()) : fs::path(file_).parent_path();
  std::string tmpl = ((folder.empty() ? fs::path(".") : folder) /
                      ("." + fs::path(file_).filename().string() + ".partial-XXXXXX.vcd"))
                         .string();
  const int descriptor = mkstemps(tmpl.data(), 4);
  if (descriptor < 0)
    throw InputError(
        fmt::format("{}: cannot write the VCD file: {}", shown_, std::strerror(errno)));
  ::close(descriptor);
  temporary_ = tmpl;
}

VcdOutput::~VcdOutput() {
  std::error_code ec;
  if (!temporary_.empty()) fs::remove(temporary_, ec);
}

void VcdOutput::finish() {
  copy_to_output_file(temporary_, file_, shown_);
  std::error_code ec;
  fs::remove(temporary_, ec);
  temporary_.clear();
}

}  // namespace acceltran::cli
