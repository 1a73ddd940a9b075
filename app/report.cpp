#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "acceltran/config/output_file.hpp"
#include "acceltran/hw/compute/prune_policy.hpp"

// report.json ("The report", docs/user-guide.md): each struct's to_json lists its keys in the
// order of the file. The hw/ result structs get theirs here, beside the report that gives them
// that shape (hw/ does not depend on nlohmann); they live in the structs' namespace for ADL.
namespace acceltran {

using nlohmann::ordered_json;

void to_json(ordered_json& j, const BlockEnergy& e) {
  j = {{"dynamic", e.dynamic_nj}, {"leakage", e.leakage_nj}, {"total", e.total_nj()}};
}

void to_json(ordered_json& j, const OpReport& op) {
  j = {{"name", op.name},
       {"kind", op.kind},
       {"layer", op.layer},
       {"head", op.head},
       {"blocks", op.blocks},
       {"tiles", op.run.tiles},
       {"first_cycle", op.run.first_cycle},
       {"last_cycle", op.run.last_cycle},
       {"macs", op.macs},
       {"dense_macs", op.run.dense_macs},
       {"effectual_macs", op.run.effectual_macs},
       {"operand_bytes", op.run.operand_bytes},
       {"psum_bytes", op.run.psum_bytes},
       {"output_bytes", op.run.output_bytes},
       {"param_bytes", op.run.param_bytes},
       {"memory_load_bytes", op.run.load_bytes},
       {"spill_bytes", op.run.spill_bytes},
       {"reload_bytes", op.run.reload_bytes},
       {"store_bytes", op.run.store_bytes},
       {"energy_nj", op.energy_nj},
       {"shortest_cycles", op.shortest_cycles},
       {"critical_path_cycles", op.critical_path_cycles},
       {"ops_in_flight_at_start", op.ops_in_flight_at_start},
       {"overlap_cycles", op.overlap_cycles}};
}

void to_json(ordered_json& j, const LayerError& l) {
  j = {{"output", l.name},
       {"max_abs_error", l.max_abs},
       {"relative_error", l.relative},
       {"cosine", l.cosine}};
}

void to_json(ordered_json& j, const PrunedTensor& t) {
  j = {{"op", t.op},
       {"layer", t.layer},
       {"elements", t.elements},
       {"zeros", t.zeros},
       {"sparsity", t.sparsity()}};
}

namespace {

// The policy's name in FunctionalResult::policy (PrunePolicy::describe(): the name, a built-in
// one or the file's path, then its rules: " tau=...", " topk ...", " off" or " q:...").
std::string policy_name(const FunctionalResult& f) {
  size_t end = f.policy.size();
  for (const char* rules : {" tau=", " topk", " off", " q:", " weights:", " pooler:"})
    end = std::min(end, f.policy.find(rules));
  return f.policy.substr(0, end);
}

// A functional run's policy came from a policy file (not uniform, published or unscaled):
// --prune, --threshold and --topk did not set it.
bool policy_from_file(const FunctionalResult& f) {
  return !f.policy.empty() && !is_builtin_policy(policy_name(f));
}

// The pruning rule a functional run applied: --prune's ("dynatran tau=0.02", "topk k=8") under
// the uniform policy, else the policy by name ("policy published tau=0.05" for a built-in
// policy, "policy half.yaml" for a file; its rules are in `policy`).
std::string pruning_rule(const FunctionalResult& f) {
  if (f.policy.empty() || policy_name(f) == "uniform") return f.prune;
  return "policy " + (policy_from_file(f) ? policy_name(f) : f.policy);
}

}  // namespace

void to_json(ordered_json& j, const FunctionalResult& f) {
  j = ordered_json::object();
  j["weights"] = f.weights;
  j["synthetic_weights"] = f.synthetic;
  j["tokens"] = f.tokens;
  j["prune"] = pruning_rule(f);
  if (!policy_from_file(f)) {  // a policy file sets its own taus and K
    j["tau"] = f.tau;
    if (f.topk > 0) j["topk"] = f.topk;
  }
  j["pruned_sparsity"] = f.pruned_sparsity();
  j["pruned_elements"] = f.pruned_elements;
  j["saturated_values"] = f.saturated;
  j["dynatran_blocks"] = f.dynatran_blocks;
  j["dynatran_values_pruned"] = f.dynatran_pruned;
  j["topk_network_cycles"] = f.topk_cycles;
  j["error_vs_float_reference"] = ordered_json(f.layers);
  j["pruned_tensors"] = ordered_json(f.pruned);
  j["policy"] = f.policy;
  j["published_sparsity"] = f.published_sparsity;
  j["unpadded_sparsity"] = f.unpadded_sparsity;
  j["padding_tokens"] = f.padding_tokens;
  ordered_json classes = ordered_json::object();
  for (const auto& c : f.classes)
    classes[c.kind] = {
        {"sparsity", c.elements ? static_cast<double>(c.zeros) / c.elements : 0.0},
        {"unpadded_sparsity",
         c.unpadded_elements ? static_cast<double>(c.unpadded_zeros) / c.unpadded_elements : 0.0},
        {"elements", c.elements},
        {"zeros", c.zeros},
        {"unpadded_elements", c.unpadded_elements},
        {"unpadded_zeros", c.unpadded_zeros}};
  j["class_sparsity"] = classes;
  ordered_json tensors = ordered_json::object();
  for (const auto& [name, sparsity] : f.tensor_sparsity) tensors[name] = sparsity;
  j["tensor_sparsity"] = tensors;  // input of --sparsity-profile
}

}  // namespace acceltran

namespace acceltran::cli {

using nlohmann::ordered_json;

void to_json(ordered_json& j, const ReportInputs& in) {
  j = {{"model", in.model},
       {"model_source", in.model_source},
       {"accelerator", in.accelerator},
       {"accelerator_source", in.accelerator_source},
       {"profile", to_string(in.profile)},
       {"seq_len", in.seq_len},
       {"batch", in.batch},
       {"activation_sparsity", in.activation_sparsity},
       {"weight_sparsity", in.weight_sparsity},
       {"loop_order", in.loop_order},
       {"version", in.version}};
  if (in.profile == Profile::reference) {
    j["reference_bugs"] = in.reference_bugs;
    j["reference_fixes"] = in.reference_fixes;
  }
  if (!in.sparsity_profile_source.empty())
    j["sparsity_profile"] = {{"file", in.sparsity_profile_source},
                             {"tensor_sparsity", in.sparsity_profile}};
  j["model_fingerprint"] = in.model_fingerprint;
  if (!in.program.empty()) j["program"] = in.program;
  // Settings as [key, value] pairs: arrays stay out of report.csv and a sweep's columns.
  auto pairs = [](const std::vector<Setting>& settings) {
    ordered_json list = ordered_json::array();
    for (const Setting& s : settings)
      list.push_back({s.key, s.number ? ordered_json::parse(s.value) : ordered_json(s.value)});
    return list;
  };
  j["accelerator_settings"] = pairs(in.accelerator_settings);
  j["technology_source"] = in.technology_source;
  j["technology"] = pairs(in.technology_settings);
  j["run_options"] = in.run_options;
  j["models_dir"] = in.models_dir;
  j["working_directory"] = in.working_directory;
  j["command_line"] = in.command_line;
}

namespace {

// One transformer layer's ops summed (layer -1: the embeddings).
struct LayerReport {
  int layer = -1;
  OpRunStats run;  // first and last cycle over its ops, the other counts summed
  double energy_nj = 0;
};

void to_json(ordered_json& j, const LayerReport& l) {
  j = {{"layer", l.layer},
       {"first_cycle", l.run.first_cycle},
       {"last_cycle", l.run.last_cycle},
       {"effectual_macs", l.run.effectual_macs},
       {"operand_bytes", l.run.operand_bytes},
       {"psum_bytes", l.run.psum_bytes},
       {"output_bytes", l.run.output_bytes},
       {"memory_load_bytes", l.run.load_bytes},
       {"spill_bytes", l.run.spill_bytes},
       {"energy_nj", l.energy_nj}};
}

// In layer order; a layer's memory_load_bytes counts its loads and re-loads.
std::vector<LayerReport> layer_reports(const std::vector<OpReport>& ops) {
  std::map<int, LayerReport> layers;
  for (const auto& op : ops) {
    LayerReport& l = layers[op.layer];
    l.layer = op.layer;
    l.run.first_cycle = std::min(l.run.first_cycle, op.run.first_cycle);
    l.run.last_cycle = std::max(l.run.last_cycle, op.run.last_cycle);
    l.run.dense_macs += op.run.dense_macs;
    l.run.effectual_macs += op.run.effectual_macs;
    l.run.operand_bytes += op.run.operand_bytes;
    l.run.psum_bytes += op.run.psum_bytes;
    l.run.output_bytes += op.run.output_bytes;
    l.run.load_bytes += op.run.load_bytes + op.run.reload_bytes;
    l.run.spill_bytes += op.run.spill_bytes;
    l.energy_nj += op.energy_nj;
  }
  std::vector<LayerReport> in_order;
  for (auto& [layer, l] : layers) in_order.push_back(l);
  return in_order;
}

// Per opcode that the program uses: program, issued and completed instruction counts (null
// when the program is empty).
ordered_json instruction_counts(const SimResult& r) {
  ordered_json j;
  for (int n = 0; n < kOpcodeCount; ++n) {
    if (r.program[n] == 0) continue;
    j[to_string(static_cast<Opcode>(n))] = {
        {"program", r.program[n]}, {"issued", r.issued[n]}, {"completed", r.completed[n]}};
  }
  return j;
}

// The critical path, the achievable bound, the efficiencies against them and the ops' overlap
// (docs/user-guide.md, "The report").
void add_critical_path_json(ordered_json& j, const SimResult& r) {
  j["critical_path"] = {{"cycles", r.critical_path_cycles},
                        {"memory_cycles", r.critical_path_memory_cycles},
                        {"op_count", r.critical_path_ops.size()},
                        {"ops", r.critical_path_ops}};
  j["achievable_bound"] = {{"cycles", r.achievable_bound_cycles},
                           {"limit", r.achievable_bound_limit}};
  j["efficiency_vs_critical_path"] = r.efficiency_vs_critical_path;
  j["efficiency_vs_achievable_bound"] = r.efficiency_vs_achievable_bound;
  j["op_overlap"] = {{"ops_in_flight_average", r.ops_in_flight_average},
                     {"overlapped_op_cycles", r.overlapped_op_cycles}};
  j["efficiency_loss"] = {{"cycles", r.efficiency_loss.cycles},
                          {"cause", r.efficiency_loss.cause},
                          {"detail", r.efficiency_loss.detail}};
}

}  // namespace

// The run's figures after its inputs; the nested structs through their to_json.
ordered_json report_json(const SimResult& r, const ReportInputs& in) {
  ordered_json j;
  j["inputs"] = in;
  j["finished"] = r.finished;
  if (!r.deadlock.empty()) j["deadlock"] = r.deadlock;
  j["cycles"] = r.cycles;
  j["clock_mhz"] = r.clock_mhz;
  j["latency_us"] = r.latency_us;
  j["throughput_seq_per_s"] = r.throughput_seq_per_s;
  ordered_json energy;
  energy["total"] = r.energy_total_nj;
  for (const auto& [name, block] : r.energy) energy[name] = block;
  j["energy_nj"] = energy;
  j["energy_per_seq_mj"] = r.energy_per_seq_mj;
  j["power_w"] = {{"average", r.power_average_w}, {"peak", r.power_peak_w}};
  ordered_json area_mm2;
  for (const auto& [name, um2] : r.area_um2) area_mm2[name] = um2 * 1e-6;
  j["area_mm2"] = area_mm2;
  j["utilization"] = r.utilization;
  j["stall_cycles"] = r.stall_cycles;
  j["memory"] = r.memory;
  j["compute"] = r.compute;
  j["instructions"] = instruction_counts(r);
  j["tiles_dispatched"] = r.tiles_dispatched;
  j["tile_job_transactions"] = r.dispatches;
  j["bounds_cycles"] = r.bounds_cycles;
  j["efficiency"] = r.efficiency;
  add_critical_path_json(j, r);
  j["layers"] = ordered_json(layer_reports(r.ops));
  j["ops"] = ordered_json(r.ops);
  if (r.functional.enabled) j["functional"] = r.functional;
  return j;
}

namespace {
// The lines after "efficiency": the critical path, the achievable bound and the efficiencies
// against both (docs/performance.md, "Bounds").
void print_critical_path(const SimResult& r) {
  fmt::print("\n  critical path: {:.0f} cycles ({:.0f} of main-memory transfers), {} ops",
             r.critical_path_cycles, r.critical_path_memory_cycles, r.critical_path_ops.size());
  if (!r.critical_path_ops.empty())
    fmt::print(" from {} to {}", r.critical_path_ops.front(), r.critical_path_ops.back());
  fmt::print(
      "\n  achievable bound: {:.0f} cycles ({}, the largest of the critical path and the "
      "bounds)",
      r.achievable_bound_cycles, r.achievable_bound_limit);
  fmt::print(
      "\n  efficiency vs the achievable bound {:.3f}, vs the critical path {:.3f}; ops in "
      "flight {:.2f} on average",
      r.efficiency_vs_achievable_bound, r.efficiency_vs_critical_path, r.ops_in_flight_average);
  fmt::print("\n  efficiency loss: {:.0f} cycles over the achievable bound, cause {}: {}",
             r.efficiency_loss.cycles, r.efficiency_loss.cause, r.efficiency_loss.detail);
}
}  // namespace

namespace {
// The replayed per-tensor sparsities, two to a line.
void print_sparsity_profile(const ReportInputs& in) {
  if (in.sparsity_profile.empty()) return;
  fmt::print("  sparsity profile (tensor, sparsity):");
  size_t column = 0;
  for (const auto& [name, sparsity] : in.sparsity_profile) {
    if (column++ % 2 == 0) fmt::print("\n   ");
    fmt::print(" {:<28} {:.3f}", name, sparsity);
  }
  fmt::print("\n");
}
}  // namespace

void print_report(const SimResult& r, const ReportInputs& in, double wall) {
  const std::string sparsity =
      r.functional.enabled
          ? fmt::format("functional, sparsity measured: {:.3f} of the pruned tensors",
                        r.functional.pruned_sparsity())
      : !in.sparsity_profile_source.empty()
          ? fmt::format("sparsity per tensor from {}, {} tensors", in.sparsity_profile_source,
                        in.sparsity_profile.size())
          : fmt::format("activation sparsity {:.2f}, weight sparsity {:.2f}",
                        in.activation_sparsity, in.weight_sparsity);
  fmt::print("AccelTran-SC {} — {} on {} (profile {}, batch {}, sequence {}, {})\n", in.version,
             in.model, in.accelerator, to_string(in.profile), in.batch, in.seq_len, sparsity);
  print_sparsity_profile(in);
  if (!r.finished) fmt::print("  DID NOT FINISH: {}\n", r.deadlock);
  fmt::print("  cycles              {:>16}   ({:.3f} us at {:g} MHz)\n", r.cycles, r.latency_us,
             r.clock_mhz);
  fmt::print("  throughput          {:>16.1f}   sequences/s\n", r.throughput_seq_per_s);
  fmt::print("  energy              {:>16.1f}   nJ total, {:.6f} mJ per sequence\n",
             r.energy_total_nj, r.energy_per_seq_mj);
  fmt::print("  power               {:>16.3f}   W average, {:.3f} W peak\n", r.power_average_w,
             r.power_peak_w);
  double area = 0;
  for (const auto& [n, v] : r.area_um2)
    if (n == "total") area = v;
  fmt::print("  area                {:>16.2f}   mm2 (compute + buffers)\n\n", area * 1e-6);
  fmt::print("  energy by block (nJ)        dynamic        leakage      share\n");
  for (const auto& [name, e] : r.energy)
    fmt::print("    {:<18} {:>14.1f} {:>14.1f} {:>9.1f} %\n", name, e.dynamic_nj, e.leakage_nj,
               r.energy_total_nj > 0 ? 100 * e.total_nj() / r.energy_total_nj : 0.0);
  fmt::print("\n  utilization:");
  for (const auto& [k, v] : r.utilization) fmt::print("  {} {:.1f} %", k, 100 * v);
  fmt::print("\n  stall cycles:");
  for (const auto& [k, v] : r.stall_cycles) fmt::print("  {} {}", k, v);
  fmt::print("\n  bounds (cycles):");
  for (const auto& [k, v] : r.bounds_cycles)
    if (v > 0) fmt::print("  {} {:.0f}", k, v);
  fmt::print("\n  efficiency: {:.3f} (largest bound / cycles)", r.efficiency);
  print_critical_path(r);
  auto mem = [&](const char* k) { return r.memory.count(k) ? r.memory.at(k) : 0.0; };
  fmt::print(
      "\n  memory: {:.0f} B read, {:.0f} B written, {:.2f} GB/s achieved of {:.2f}, row hits "
      "{:.0f} / misses {:.0f}, spills {:.0f}\n",
      mem("bytes_read"), mem("bytes_written"), mem("achieved_bandwidth_gbps"),
      mem("peak_bandwidth_gbps"), mem("row_hits"), mem("row_misses"), mem("spills"));
  uint64_t total = 0, done = 0;
  for (int n = 0; n < kOpcodeCount; ++n) {
    total += r.program[n];
    done += r.completed[n];
  }
  fmt::print("  instructions: {} of {} completed, {} tiles in {} tile-job transactions\n", done,
             total, r.tiles_dispatched, r.dispatches);
  if (r.functional.enabled) {
    const FunctionalResult& f = r.functional;
    fmt::print("  functional: {} weights ({}), tokens {}, {}\n",
               f.synthetic ? "synthetic" : "checkpoint", f.weights, f.tokens, pruning_rule(f));
    fmt::print("    sparsity of pruned tensors {:.4f} ({} values), {} values saturated\n",
               f.pruned_sparsity(), f.pruned_elements, f.saturated);
    fmt::print(
        "    policy {}: sparsity {:.4f} without padding, {:.4f} published count ({} "
        "padding tokens)\n",
        f.policy, f.unpadded_sparsity, f.published_sparsity, f.padding_tokens);
    std::string line = "     ";
    for (const auto& c : f.classes)
      line += fmt::format(" {} {:.3f}", c.kind,
                          c.unpadded_elements ? static_cast<double>(c.unpadded_zeros) /
                                                    static_cast<double>(c.unpadded_elements)
                                              : 0.0);
    fmt::print("{}\n", line);
    fmt::print("    error vs the float32 reference    max |err|   relative     cosine\n");
    for (const auto& l : f.layers)
      fmt::print("      {:<30} {:>10.3g} {:>10.3g} {:>10.6f}\n", l.name, l.max_abs, l.relative,
                 l.cosine);
  }
  fmt::print("  simulated in {:.3f} s wall time\n", wall);
}

namespace {
// One row per op (SCALE-Sim style layer report), the ops of report.json; the last four columns
// are the op's bounds and overlap (docs/user-guide.md, "The report").
std::string ops_csv(const std::vector<OpReport>& ops) {
  std::string out =
      "op,kind,layer,head,blocks,tiles,first_cycle,last_cycle,macs,dense_macs,effectual_macs,"
      "operand_bytes,psum_bytes,output_bytes,param_bytes,memory_load_bytes,spill_bytes,"
      "reload_bytes,store_bytes,energy_nj,shortest_cycles,critical_path_cycles,"
      "ops_in_flight_at_start,overlap_cycles\n";
  for (const auto& op : ops)
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3f},{:.0f},"
        "{:.0f},{},{}\n",
        op.name, op.kind, op.layer, op.head, op.blocks, op.run.tiles, op.run.first_cycle,
        op.run.last_cycle, op.macs, op.run.dense_macs, op.run.effectual_macs, op.run.operand_bytes,
        op.run.psum_bytes, op.run.output_bytes, op.run.param_bytes, op.run.load_bytes,
        op.run.spill_bytes, op.run.reload_bytes, op.run.store_bytes, op.energy_nj,
        op.shortest_cycles, op.critical_path_cycles, op.ops_in_flight_at_start, op.overlap_cycles);
  return out;
}

// Flat key,value rows of report.json.
std::string report_csv(const ordered_json& j) {
  std::string out = "key,value\n";
  std::function<void(const std::string&, const ordered_json&)> flat = [&](const std::string& k,
                                                                          const ordered_json& v) {
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it)
        flat(k.empty() ? it.key() : k + "." + it.key(), *it);
    } else if (v.is_array()) {
      return;  // per-op and per-layer rows: ops.csv
    } else if (v.is_string()) {
      std::string s = v.get<std::string>();
      for (char& c : s)
        if (c == '\n' || c == ',') c = ' ';
      out += k + "," + s + "\n";
    } else {
      out += k + "," + v.dump() + "\n";
    }
  };
  flat("", j);
  return out;
}

std::string timeline_csv(const std::vector<TimelineSample>& timeline) {
  std::string out =
      "cycle,mac_lanes_util,softmax_util,layer_norm_util,dma_util,activation_buffer_bytes,"
      "weight_buffer_bytes,mask_buffer_bytes,power_w\n";
  for (const auto& s : timeline)
    out += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{},{},{},{:.6f}\n", s.cycle, s.lanes_util,
                       s.softmax_util, s.layer_norm_util, s.dma_util, s.activation_bytes,
                       s.weight_bytes, s.mask_bytes, s.power_w);
  return out;
}
}  // namespace

void write_report_files(const std::string& dir, const SimResult& r, const ReportInputs& in,
                        const std::string& shown_dir) {
  namespace fs = std::filesystem;
  const fs::path shown = shown_dir.empty() ? fs::path(dir) : fs::path(shown_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw InputError(fmt::format("{}: cannot create the output folder: {}", shown.string(),
                                 ec ? ec.message() : "not a folder"));
  const ordered_json j = report_json(r, in);
  const std::pair<const char*, std::string> files[] = {{"report.json", j.dump(2) + "\n"},
                                                       {"report.csv", report_csv(j)},
                                                       {"ops.csv", ops_csv(r.ops)},
                                                       {"timeline.csv", timeline_csv(r.timeline)}};
  for (const auto& [name, text] : files)
    write_output_file((fs::path(dir) / name).string(), text, (shown / name).string());
}

}  // namespace acceltran::cli
