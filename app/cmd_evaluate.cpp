// acceltran evaluate: a checkpoint with its classification head over a labelled dataset, for a
// list of pruning settings; results.csv, one row per setting, and an accuracy-vs-sparsity plot.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "acceltran/config/output_file.hpp"
#include "acceltran/hw/compute/prune_policy.hpp"
#include "commands.hpp"
#include "evaluate.hpp"
#include "sweep.hpp"

#ifndef ACCELTRAN_TOOLS_DIR
#define ACCELTRAN_TOOLS_DIR "tools"
#endif

namespace acceltran::cli {

namespace fs = std::filesystem;
using evaluate::Result;
using evaluate::Setting;
using evaluate::Shared;

namespace {

constexpr const char* kUsage =
    "usage: acceltran evaluate --checkpoint DIR [--dataset FILE] [--threshold LIST] [--topk LIST]"
    " [--policy LIST] [options]\n\n"
    "Runs a BERT checkpoint with its head (sequence classification, token classification or\n"
    "masked-LM; config.json, model.safetensors, vocab.txt)\n"
    "over a labelled JSONL dataset for each pruning setting: the functional data path (Q4.16) for\n"
    "the predictions and the sparsity, the head on the host in float32, one timed simulation per\n"
    "setting for cycles and energy per sequence. Writes OUT/results.csv and\n"
    "OUT/accuracy_vs_sparsity.png; a setting whose OUT/points/<setting>/result.json was made from\n"
    "the same inputs is not run again (resumable). docs/evaluate.md.";

void add_evaluate_options(po::options_description& desc) {
  // clang-format off
  desc.add_options()
    ("checkpoint", po::value<std::string>(),
     "folder with config.json (with num_labels / id2label), model.safetensors and vocab.txt")
    ("weights", po::value<std::string>(), "the safetensors file (default: CHECKPOINT/model.safetensors)")
    ("dataset", po::value<std::string>(),
     "JSONL: input_ids (+ attention_mask, token_type_ids) or text, and label per line "
     "(labels, one per token, for token classification and masked-LM) "
     "(default: CHECKPOINT/test.jsonl)")
    ("vocab", po::value<std::string>(), "vocab.txt for text lines (default: CHECKPOINT/vocab.txt)")
    ("limit", po::value<int64_t>()->default_value(0), "the first N sequences only (0: all)")
    ("threshold", po::value<std::string>(), "DynaTran taus, a comma list (e.g. 0,0.01,0.02)")
    ("topk", po::value<std::string>(), "top-k settings: values kept per row, a comma list (1,2,4)")
    ("policy", po::value<std::string>(),
     "pruning policies, a comma list: a built-in name runs every --threshold / --topk setting "
     "under it: uniform (the default: every tensor class alike), published (the paper's "
     "DynaTran; its top-k on the attention probabilities only), unscaled; a YAML policy file "
     "(docs/dynatran.md) is one setting of its own, named policy-<file name>")
    ("out,o", po::value<std::string>()->default_value("evaluate-out"), "output folder")
    ("jobs,j", po::value<int>()->default_value(1), "settings run at once (processes)")
    ("no-plot", po::bool_switch(), "do not draw accuracy_vs_sparsity.png")
    ("help,h", "show this help");
  // clang-format on
}

std::string option_or(const po::variables_map& vm, const char* key, const std::string& dir,
                      const char* file) {
  if (vm.count(key)) return vm[key].as<std::string>();
  if (dir.empty())
    throw UsageError(fmt::format("option --{} is required without --checkpoint", key));
  return (fs::path(dir) / file).string();
}

void reject_performance_options(const po::variables_map& vm) {
  for (const char* key : {"sparsity", "weight-sparsity", "sparsity-profile", "reference-bugs",
                          "reference-fixes", "loop-order"})
    if (vm.count(key))
      throw UsageError(fmt::format(
          "option --{}: evaluate measures every tensor's sparsity from the data (hardware "
          "profile, the accelerator's loop order)",
          key));
  if (vm["profile"].as<std::string>() != "hardware" && vm["profile"].as<std::string>() != "bert")
    throw UsageError("option --profile: evaluate runs the default profile (hardware) only");
  if (vm["first-layer-only"].as<bool>() || vm["tiles-per-instruction"].as<uint64_t>() != 0)
    throw UsageError("options --first-layer-only and --tiles-per-instruction: not with evaluate");
}

// FNV-1a over the bytes of the inputs a result depends on.
std::string digest_of(const std::vector<std::string>& files, const std::string& extra) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
  };
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<char> buf(1 << 16);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
      mix(buf.data(), static_cast<size_t>(in.gcount()));
    mix("\0", 1);
  }
  mix(extra.data(), extra.size());
  return fmt::format("{:016x}", h);
}

struct Paths {
  std::string config, weights, dataset, vocab;  // vocab empty when there is none
};

Paths resolve_paths(po::variables_map& vm) {
  const std::string dir = vm.count("checkpoint") ? vm["checkpoint"].as<std::string>() : "";
  if (!dir.empty() && !fs::is_directory(dir))
    throw InputError(fmt::format("option --checkpoint: '{}' is not a folder", dir));
  Paths p;
  if (vm["model"].defaulted()) {
    if (dir.empty()) throw UsageError("option --checkpoint (or --model and --weights) is required");
    vm.at("model").value() = boost::any((fs::path(dir) / "config.json").string());
  }
  p.config = vm["model"].as<std::string>();
  p.weights = option_or(vm, "weights", dir, "model.safetensors");
  p.dataset = option_or(vm, "dataset", dir, "test.jsonl");
  if (vm.count("vocab"))
    p.vocab = vm["vocab"].as<std::string>();
  else if (!dir.empty() && fs::exists(fs::path(dir) / "vocab.txt"))
    p.vocab = (fs::path(dir) / "vocab.txt").string();
  return p;
}

void load_shared(po::variables_map& vm, const Paths& p, Shared& s) {
  const BertConfig cfg = load_bert_config(p.config);
  std::unique_ptr<WordPieceTokenizer> tok;
  if (!p.vocab.empty()) tok = std::make_unique<WordPieceTokenizer>(p.vocab);
  s.head = load_task_head(p.weights, p.config, cfg);
  DatasetOptions o;
  o.seq_len = vm["seq-len"].defaulted() ? 0 : vm["seq-len"].as<int64_t>();
  o.tokenizer = tok.get();
  o.vocab_size = cfg.vocab_size;
  o.type_vocab_size = 1;  // the data path and the float reference use token type 0
  o.max_position = cfg.max_position;
  o.num_labels = s.head.num_labels;
  o.token_labels = s.head.per_token();
  s.data = read_dataset(p.dataset, o);
  const int64_t limit = vm["limit"].as<int64_t>();
  if (limit < 0) throw UsageError(fmt::format("option --limit: value {} < 0", limit));
  if (limit > 0 && limit < s.data.size()) {
    for (auto* v : {&s.data.input_ids, &s.data.token_type_ids}) v->resize(limit);
    s.data.attention_mask.resize(limit);
    s.data.labels.resize(limit);
    if (s.head.per_token()) s.data.token_labels.resize(limit);
  }
  vm.at("seq-len").value() = boost::any(s.data.seq_len);
  s.inputs = load_inputs(vm);
  s.weights = load_bert_weights(p.weights, cfg);
  s.batches = batches_of(s.data, s.inputs.accel.batch_size);
  s.model_arg = p.config;
  s.accel_arg = vm["accel"].as<std::string>();
  if (vm.count("set")) s.accel_sets = vm["set"].as<std::vector<std::string>>();
  s.allow_outside_design_space = vm["allow-outside-design-space"].as<bool>();
  s.float_predictions = evaluate::float_predictions(s.weights, s.head, s.data);
}

// A setting in a forked child: result.json, or error.txt and exit status 1.
[[noreturn]] void child_run(const Shared& s, const Setting& st, const std::string& dir,
                            const std::string& digest) {
  int rc = 0;
  try {
    const Result r = evaluate::run_setting(s, st, dir);
    evaluate::save_result(dir, digest, r);
  } catch (const std::exception& e) {
    std::ofstream(fs::path(dir) / "error.txt") << e.what() << "\n";
    rc = 1;
  }
  std::fflush(nullptr);
  _exit(rc);
}

void progress(size_t done, size_t total, const std::string& last) {
  if (!isatty(STDERR_FILENO)) return;
  fmt::print(stderr, "\r\033[K[{}/{}] settings done{}", done, total,
             last.empty() ? "" : " (last: " + last + ")");
  if (done == total) fmt::print(stderr, "\n");
}

}  // namespace

int cmd_evaluate(const std::vector<std::string>& args) {
  po::options_description desc = option_group("");
  add_input_options(desc);
  po::options_description ev = option_group("Evaluation");
  add_evaluate_options(ev);
  desc.add(ev);
  po::variables_map vm;
  int rc = 0;
  if (!parse_args(args, desc, kUsage, vm, &rc)) return rc;
  reject_performance_options(vm);
  const int jobs = vm["jobs"].as<int>();
  if (jobs < 1 || jobs > 256)
    throw UsageError(fmt::format("option --jobs: value {} outside [1, 256]", jobs));
  std::vector<Setting> settings =
      evaluate::settings_from(vm.count("threshold") ? vm["threshold"].as<std::string>() : "",
                              vm.count("topk") ? vm["topk"].as<std::string>() : "");
  settings =
      evaluate::apply_policies(vm.count("policy") ? vm["policy"].as<std::string>() : "", settings);
  if (settings.empty())
    throw UsageError(
        "options --threshold and --topk: give at least one setting (e.g. "
        "--threshold 0)");
  const Paths paths = resolve_paths(vm);
  Shared s;
  load_shared(vm, paths, s);
  const std::string out = vm["out"].as<std::string>();
  fs::create_directories(fs::path(out) / "points");
  std::vector<std::string> files{paths.config, paths.weights, paths.dataset};
  if (!paths.vocab.empty()) files.push_back(paths.vocab);
  const std::string digest =
      digest_of(files, fmt::format("{}|{}|{}|{}|{}|{}", ACCELTRAN_VERSION, s.accel_arg,
                                   fmt::join(s.accel_sets, ","), s.data.seq_len,
                                   s.inputs.accel.batch_size, vm["limit"].as<int64_t>()));
  std::vector<Result> results;
  const int failed = evaluate::run_all(s, settings, out, digest, jobs, results);
  evaluate::write_csv((fs::path(out) / "results.csv").string(), results, s);
  fmt::print(
      "evaluate: {} head, {} sequences of length {} ({}), batch {} on {}, {} settings -> {}\n",
      head_kind_name(s.head.kind), s.data.size(), s.data.seq_len, s.data.source,
      s.inputs.accel.batch_size, s.inputs.accel.name, results.size(),
      (fs::path(out) / "results.csv").string());
  for (const Result& r : results)
    fmt::print("  {:<16} accuracy {:.4f}  sparsity {:.4f}  {:.0f} cycles/seq  {:.4g} mJ/seq\n",
               r.key, static_cast<double>(r.correct) / std::max<int64_t>(r.items, 1), r.sparsity,
               r.cycles_per_sequence, r.energy_per_sequence_mj);
  if (failed > 0)
    throw InputError(fmt::format("{} of {} settings failed (see {}/points/*/error.txt)", failed,
                                 settings.size(), out));
  if (!vm["no-plot"].as<bool>()) evaluate::plot(out);
  return 0;
}

namespace evaluate {

int run_all(const Shared& s, const std::vector<Setting>& settings, const std::string& out,
            const std::string& digest, int jobs, std::vector<Result>& results) {
  std::vector<Result> done(settings.size());
  std::vector<bool> have(settings.size(), false);
  std::map<pid_t, size_t> running;
  size_t next = 0, finished = 0;
  int failed = 0;
  auto dir_of = [&](size_t i) { return (fs::path(out) / "points" / settings[i].key).string(); };
  // A setting's result also depends on its policy (a policy file may change between runs).
  std::vector<std::string> digests;
  for (const Setting& st : settings)
    digests.push_back(digest_of({}, digest + policy_yaml(st.policy)));
  for (size_t i = 0; i < settings.size(); ++i)
    if (load_result(dir_of(i), digests[i], done[i])) have[i] = true, ++finished;
  progress(finished, settings.size(), "");
  while (finished < settings.size()) {
    while (next < settings.size() && (have[next] || static_cast<int>(running.size()) < jobs)) {
      if (have[next]) {
        ++next;
        continue;
      }
      fs::create_directories(dir_of(next));
      fs::remove(fs::path(dir_of(next)) / "error.txt");
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid < 0) throw InputError("evaluate: cannot start a process (fork failed)");
      if (pid == 0) child_run(s, settings[next], dir_of(next), digests[next]);
      running[pid] = next++;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 || !running.count(pid)) continue;
    const size_t i = running[pid];
    running.erase(pid);
    ++finished;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        load_result(dir_of(i), digests[i], done[i])) {
      have[i] = true;
    } else {
      ++failed;
      std::ifstream err(fs::path(dir_of(i)) / "error.txt");
      std::string why;
      std::getline(err, why);
      fmt::print(stderr, "{}error: setting {}: {}\n", isatty(STDERR_FILENO) ? "\n" : "",
                 settings[i].key, why.empty() ? "the process ended abnormally" : why);
    }
    progress(finished, settings.size(), settings[i].key);
  }
  for (size_t i = 0; i < settings.size(); ++i)
    if (have[i]) results.push_back(done[i]);
  return failed;
}

void plot(const std::string& out) {
  const char* tools_env = std::getenv("ACCELTRAN_TOOLS_DIR");
  const fs::path script =
      fs::path(tools_env && *tools_env ? tools_env : ACCELTRAN_TOOLS_DIR) / "plot_evaluate.py";
  const char* py_env = std::getenv("ACCELTRAN_PYTHON");
  const std::string python = py_env && *py_env ? py_env : "/usr/bin/python3";
  const std::string png = (fs::path(out) / "accuracy_vs_sparsity.png").string();
  const std::string cmd = fmt::format("'{}' '{}' '{}' '{}'", python, script.string(),
                                      (fs::path(out) / "results.csv").string(), png);
  if (!fs::exists(script) || std::system(cmd.c_str()) != 0)
    fmt::print(stderr,
               "note: no plot drawn ({} with matplotlib needed; set ACCELTRAN_PYTHON, "
               "ACCELTRAN_TOOLS_DIR, or give --no-plot)\n",
               python);
  else
    fmt::print("  plot: {}\n", png);
}

}  // namespace evaluate

}  // namespace acceltran::cli
