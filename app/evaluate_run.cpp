// One setting of `acceltran evaluate`: the data path over the dataset, the head, the sparsity
// and the timed simulation; result.json and results.csv.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acceltran/compiler/compile_limits.hpp"
#include "acceltran/config/output_file.hpp"
#include "acceltran/hw/compute/datapath.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "acceltran/hw/compute/prune_policy.hpp"
#include "acceltran/workload/float_reference.hpp"
#include "evaluate.hpp"
#include "sweep.hpp"
#include "sweep_processes.hpp"

namespace acceltran::cli::evaluate {

namespace fs = std::filesystem;

namespace {

constexpr double kQ416 = 65536.0;  // Q4.16 words per unit

// The tensor class of a pruned op: its name without the layer and head ("L0.H1.qk" -> "qk").
std::string op_class(const std::string& name) {
  std::string s = name;
  for (char prefix : {'L', 'H'})
    if (s.size() > 1 && s[0] == prefix && std::isdigit(static_cast<unsigned char>(s[1]))) {
      const size_t dot = s.find('.');
      if (dot != std::string::npos) s = s.substr(dot + 1);
    }
  return s;
}

struct Tally {
  uint64_t zeros = 0, elements = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> per_class;  // zeros, elements
  std::map<std::string, std::pair<double, double>> per_tensor;     // zeros, elements
};

// Counts sequence `seq`'s predictions against its labels and the float reference's.
void tally_items(const Shared& s, int64_t seq, const std::vector<int64_t>& pred, Result& r) {
  const std::vector<int64_t> labels = item_labels(s.data, s.head, seq);
  const std::vector<int64_t>& ref = s.float_predictions[static_cast<size_t>(seq)];
  const bool confusion = s.head.kind != HeadKind::masked_lm;
  if (confusion && r.confusion.empty())
    r.confusion.assign(static_cast<size_t>(s.head.num_labels * s.head.num_labels), 0);
  for (size_t i = 0; i < pred.size(); ++i) {
    r.correct += pred[i] == labels[i];
    r.agree_with_float += pred[i] == ref[i];
    if (confusion) ++r.confusion[static_cast<size_t>(labels[i] * s.head.num_labels + pred[i])];
  }
  r.items += static_cast<int64_t>(pred.size());
  ++r.sequences;
}

// One batch through the data path: predictions of its real rows and the zero counts.
void run_batch(const Shared& s, const Program& prog, const Setting& setting, const DatasetBatch& b,
               Result& r, Tally& t) {
  FunctionalInput in;
  in.weights = &s.weights;
  in.prune = setting.prune;
  in.policy = setting.policy;
  in.tokens_source = s.data.source;
  in.tokens.assign(b.input_ids.begin(), b.input_ids.begin() + b.real);
  in.attention_mask.assign(b.attention_mask.begin(), b.attention_mask.begin() + b.real);
  Datapath dp(prog, in);
  StandalonePruner post(in.prune);
  run_datapath(dp, post);
  const std::vector<int32_t>& hidden = dp.values(dp.layer_outputs().back());
  const auto h = static_cast<size_t>(s.weights.config.hidden);
  const auto row = static_cast<size_t>(s.data.seq_len) * h;
  std::vector<float> rows(row);
  const double pooler_tau = setting.policy.pooler_tau();
  for (int64_t q = 0; q < b.real; ++q) {
    for (size_t i = 0; i < row; ++i)
      rows[i] = static_cast<float>(hidden[static_cast<size_t>(q) * row + i] / kQ416);
    const int64_t seq = b.first + q;
    const std::vector<int32_t> none;
    const std::vector<int64_t> pred = s.head.predict(
        rows.data(), s.head.per_token() ? s.data.token_labels[static_cast<size_t>(seq)] : none,
        pooler_tau);
    if (!s.head.per_token() && setting.policy.count_pooler) {  // the published count's tenth
      const std::vector<float> dense = s.head.sequence.pooler.dense(rows.data(), pooler_tau);
      const auto zeros = static_cast<uint64_t>(std::count(dense.begin(), dense.end(), 0.0f));
      t.zeros += zeros;
      t.elements += h;
      t.per_class["pooler"].first += zeros;
      t.per_class["pooler"].second += h;
    }
    tally_items(s, seq, pred, r);
  }
  for (const Op& op : prog.ops) {
    if (!op.prune) continue;
    const OpValues& v = dp.op_values()[op.id];
    t.zeros += v.zeros;
    t.elements += v.elements;
    auto& c = t.per_class[op_class(op.name)];
    c.first += v.zeros;
    c.second += v.elements;
  }
  for (const Tensor& x : prog.tensors) {
    auto& p = t.per_tensor[x.name];
    p.first += dp.tensor_sparsity(x.id) * static_cast<double>(x.elements());
    p.second += static_cast<double>(x.elements());
  }
}

Program compile_for(const Shared& s, int64_t batch) {
  Inputs in = s.inputs;
  in.compile.batch = batch;
  in.compile.seq_len = s.data.seq_len;
  in.accel.batch_size = static_cast<int>(batch);
  return compile_within_limits(in.model, in.accel, in.tech, in.compile);
}

// The timed run of one full batch from the measured sparsities: cycles and energy per sequence.
void timed_run(const Shared& s, const std::string& dir, const Tally& t, Result& r) {
  nlohmann::json profile;
  for (const auto& [name, ze] : t.per_tensor)
    profile["tensor_sparsity"][name] = ze.second > 0 ? std::min(ze.first / ze.second, 1.0) : 0.0;
  const std::string profile_path = (fs::path(dir) / "sparsity_profile.json").string();
  write_output_file(profile_path, profile.dump(1) + "\n");
  const int64_t batch = s.inputs.accel.batch_size;
  std::vector<std::string> argv{sweep::self_exe(),
                                "simulate",
                                "--model",
                                s.model_arg,
                                "--accel",
                                s.accel_arg,
                                "--seq-len",
                                std::to_string(s.data.seq_len),
                                "--batch",
                                std::to_string(batch),
                                "--sparsity-profile",
                                profile_path,
                                "--out",
                                (fs::path(dir) / "simulate").string()};
  for (const std::string& kv : s.accel_sets) argv.insert(argv.end(), {"--set", kv});
  if (s.allow_outside_design_space) argv.push_back("--allow-outside-design-space");
  sweep::PointProcesses procs;
  const std::string out = (fs::path(dir) / "simulate.stdout.txt").string();
  const std::string err = (fs::path(dir) / "simulate.stderr.txt").string();
  procs.start(argv, out, err);
  const sweep::PointProcesses::Finished f = procs.wait_one();
  if (!WIFEXITED(f.status) || WEXITSTATUS(f.status) != 0)
    throw InputError(fmt::format("{}: the timed simulation failed (see {})", r.key, err));
  std::ifstream in(fs::path(dir) / "simulate" / "report.json");
  const nlohmann::json rep = nlohmann::json::parse(in);
  r.batch_cycles = rep.at("cycles").get<uint64_t>();
  r.cycles_per_sequence = static_cast<double>(r.batch_cycles) / static_cast<double>(batch);
  r.energy_per_sequence_mj = rep.at("energy_per_seq_mj").get<double>();
}

}  // namespace

std::vector<std::vector<int64_t>> float_predictions(const BertWeights& weights,
                                                    const TaskHead& head, const Dataset& data) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t i = 0; i < data.size(); ++i) {
    const auto& ids = data.input_ids[static_cast<size_t>(i)];
    const int64_t length = data.length(i);
    const std::vector<int32_t> real(ids.begin(), ids.begin() + length);
    const ReferenceResult ref = run_float_reference(weights, real);
    std::vector<int32_t> labels;  // the real tokens' (padding is never labelled)
    if (head.per_token()) {
      const auto& all = data.token_labels[static_cast<size_t>(i)];
      labels.assign(all.begin(), all.begin() + length);
    }
    out.push_back(head.predict(ref.hidden.back().data.data(), labels));
  }
  return out;
}

std::vector<int64_t> item_labels(const Dataset& data, const TaskHead& head, int64_t i) {
  if (!head.per_token()) return {data.labels[static_cast<size_t>(i)]};
  std::vector<int64_t> out;
  for (int32_t l : data.token_labels[static_cast<size_t>(i)])
    if (l != kIgnoredLabel) out.push_back(l);
  return out;
}

Result run_setting(const Shared& s, const Setting& setting, const std::string& dir) {
  Result r;
  r.key = setting.key;
  r.prune = setting.prune;
  r.policy = setting.policy_name;
  r.policy_file = setting.policy_file;
  fs::create_directories(dir);
  const int64_t batch = s.inputs.accel.batch_size;
  const Program full = compile_for(s, batch);
  Tally t;
  for (const DatasetBatch& b : s.batches) {
    if (b.real == batch) {
      run_batch(s, full, setting, b, r, t);
    } else {
      const Program tail = compile_for(s, b.real);
      run_batch(s, tail, setting, b, r, t);
    }
  }
  r.sparsity = t.elements ? static_cast<double>(t.zeros) / static_cast<double>(t.elements) : 0;
  for (const auto& [cls, ze] : t.per_class)
    r.class_sparsity[cls] = ze.second ? static_cast<double>(ze.first) / ze.second : 0;
  timed_run(s, dir, t, r);
  return r;
}

}  // namespace acceltran::cli::evaluate
