// results.csv (one wide row per point) and pareto.csv from a sweep folder.
// Metric columns are every value of the points' report.json, flattened to dotted names
// (cycles, throughput_seq_per_s, energy_per_seq_mj, power_w.average, area_mm2.total,
// utilization.*, memory.bytes_read, ...), so fields added to the report later flow in.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/output_file.hpp"
#include "sweep.hpp"

namespace acceltran::cli::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Per-instruction counts are bookkeeping, not design metrics.
const std::set<std::string> kSkipped{"instructions", "deadlock"};
// The metrics a reader looks for first, in this order; the rest follow in report order.
const std::vector<std::string> kFirst{
    "cycles",          "latency_us",   "throughput_seq_per_s", "energy_per_seq_mj",
    "power_w.average", "power_w.peak", "area_mm2.total"};
// Pareto objectives: throughput (max), energy per sequence (min), area (min).
const char* kThroughput = "throughput_seq_per_s";
const char* kEnergy = "energy_per_seq_mj";
const char* kArea = "area_mm2.total";

void flatten(const std::string& prefix, const json& v, std::vector<std::string>& order,
             std::map<std::string, std::string>& out) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (prefix.empty() && kSkipped.count(it.key())) continue;
      flatten(prefix.empty() ? it.key() : prefix + "." + it.key(), *it, order, out);
    }
    return;
  }
  std::string s;
  if (v.is_string())
    s = v.get<std::string>();
  else if (v.is_array() || v.is_null())
    return;
  else
    s = v.dump();
  if (!out.count(prefix)) order.push_back(prefix);
  out[prefix] = s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return q + "\"";
}

struct Row {
  std::map<std::string, std::string> cells;
  bool ok = false;
  double throughput = 0, energy = 0, area = 0;
  bool has_objectives = false;
};

bool dominates(const Row& a, const Row& b) {
  const bool no_worse = a.throughput >= b.throughput && a.energy <= b.energy && a.area <= b.area;
  const bool better = a.throughput > b.throughput || a.energy < b.energy || a.area < b.area;
  return no_worse && better;
}

void write_csv(const fs::path& path, const std::vector<std::string>& columns,
               const std::vector<const Row*>& rows) {
  std::string out;
  for (size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + csv_field(columns[c]);
  out += "\n";
  for (const Row* r : rows) {
    for (size_t c = 0; c < columns.size(); ++c) {
      auto it = r->cells.find(columns[c]);
      out += (c ? "," : "") + (it == r->cells.end() ? std::string() : csv_field(it->second));
    }
    out += "\n";
  }
  const auto tmp = fs::path(path.string() + ".tmp");
  write_output_file(tmp.string(), out, path.string());
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw InputError(fmt::format("{}: cannot write: {}", path.string(), ec.message()));
}

enum class PointState { missing, failed, ok };

// Fills a point's row from its folder: status, error, wall time, and the metrics of its
// report.json (new metric names appended to `metric_order`).
PointState read_point(const std::string& dir, const Point& p, Row& row,
                      std::vector<std::string>& metric_order) {
  row.cells["point"] = fmt::format("{:04d}", p.index);
  for (const auto& [k, v] : p.inputs) row.cells[k] = v;
  const fs::path point_folder = point_dir(dir, p.index);
  const json status = read_status(point_folder.string());
  // A status written for other arguments is an older spec's: the point is still to run.
  const bool current = status.is_object() && status.value("args", json::array()) == json(p.args);
  if (!current) {
    row.cells["status"] = "missing";
    return PointState::missing;
  }
  row.cells["wall_s"] = fmt::format("{:.3f}", status.value("wall_s", 0.0));
  if (status.value("status", "") != "ok") {
    row.cells["status"] = "failed";
    row.cells["error"] = status.value("error", "");
    return PointState::failed;
  }
  json report;
  try {
    report = read_json_file((point_folder / "run" / "report.json").string(), "report",
                            limits::kMaxJsonBytes);
  } catch (const InputError& e) {
    row.cells["status"] = "failed";
    row.cells["error"] = e.what();
    return PointState::failed;
  }
  row.ok = true;
  row.cells["status"] = "ok";
  std::map<std::string, std::string> metrics;
  flatten("", report, metric_order, metrics);
  for (auto& [k, v] : metrics)
    if (!row.cells.count(k)) row.cells[k] = v;
  try {
    row.throughput = std::stod(metrics.at(kThroughput));
    row.energy = std::stod(metrics.at(kEnergy));
    row.area = std::stod(metrics.at(kArea));
    row.has_objectives = report.value("finished", false);
  } catch (const std::exception&) {
  }
  return PointState::ok;
}

// The finished points no other finished point dominates.
std::vector<const Row*> pareto_front(const std::vector<Row>& rows) {
  std::vector<const Row*> front;
  for (const auto& r : rows) {
    if (!r.ok || !r.has_objectives) continue;
    bool dominated = false;
    for (const auto& q : rows)
      if (&q != &r && q.ok && q.has_objectives && dominates(q, r)) {
        dominated = true;
        break;
      }
    if (!dominated) front.push_back(&r);
  }
  return front;
}

void print_collect_summary(const std::string& dir, size_t points, const CollectSummary& sum,
                           const std::vector<Row>& rows, const std::vector<int>& missing) {
  fmt::print(
      "sweep {}: {} points, {} ok, {} failed, {} missing; {} on the Pareto front "
      "(throughput max, energy per sequence min, area min)\n",
      dir, points, sum.ok, sum.failed, sum.missing, sum.pareto);
  // Points failing for the same reason (a typo in the spec) are listed once.
  std::vector<std::pair<std::string, std::vector<int>>> by_error;
  for (size_t n = 0; n < rows.size(); ++n) {
    if (rows[n].cells.at("status") != "failed") continue;
    std::string e = rows[n].cells.count("error") ? rows[n].cells.at("error") : "";
    // The accelerator's source names the point's own overrides: group without them.
    if (auto at = e.find(" (--set "); at != std::string::npos)
      if (auto end = e.find("): ", at); end != std::string::npos) e.erase(at, end + 1 - at);
    auto it =
        std::find_if(by_error.begin(), by_error.end(), [&](const auto& g) { return g.first == e; });
    if (it == by_error.end()) it = by_error.insert(by_error.end(), {e, {}});
    it->second.push_back(static_cast<int>(n));
  }
  for (const auto& [error, failed_points] : by_error)
    fmt::print("  failed {} {}: {}\n", failed_points.size() == 1 ? "point" : "points",
               index_list(failed_points), error);
  if (!missing.empty()) fmt::print("  missing points: {}\n", index_list(missing));
  fmt::print("  results: {0}/results.csv, {0}/pareto.csv\n", dir);
}

}  // namespace

CollectSummary collect(const std::string& dir, bool print) {
  const Plan plan = read_plan(dir);
  std::vector<std::string> columns{"point", "status", "error", "wall_s"};
  for (const auto& c : plan.input_columns)
    if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
  std::vector<std::string> metric_order;
  std::vector<Row> rows(plan.points.size());
  std::vector<int> missing;
  CollectSummary sum;
  sum.points = static_cast<int>(plan.points.size());
  for (const auto& p : plan.points) {
    switch (read_point(dir, p, rows[p.index], metric_order)) {
      case PointState::missing:
        missing.push_back(p.index);
        ++sum.missing;
        break;
      case PointState::failed:
        if (sum.failed++ == 0) {
          sum.first_failed = p.index;
          sum.first_error = rows[p.index].cells["error"];
        }
        break;
      case PointState::ok:
        ++sum.ok;
        break;
    }
  }
  for (const auto& k : kFirst)
    if (std::find(metric_order.begin(), metric_order.end(), k) != metric_order.end())
      columns.push_back(k);
  for (const auto& k : metric_order)
    if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);

  std::vector<const Row*> all;
  for (const auto& r : rows) all.push_back(&r);
  const std::vector<const Row*> front = pareto_front(rows);
  sum.pareto = static_cast<int>(front.size());
  write_csv(fs::path(dir) / "results.csv", columns, all);
  write_csv(fs::path(dir) / "pareto.csv", columns, front);
  if (print) print_collect_summary(dir, plan.points.size(), sum, rows, missing);
  return sum;
}

void check_outcome(const std::string& dir, const CollectSummary& summary) {
  const std::string missing =
      summary.missing ? fmt::format(
                            "{} of {} points missing (not run, or their status could not "
                            "be written)",
                            summary.missing, summary.points)
                      : "";
  if (summary.failed)
    throw InputError(fmt::format(
        "{}{} of {} points failed{}; the first, point {:04d}: {} (see "
        "{}/results.csv)",
        summary.ok == 0 ? "every point of the sweep failed: " : "", summary.failed, summary.points,
        summary.missing ? ", " + missing : "", summary.first_failed, summary.first_error, dir));
  if (summary.missing) throw InputError(fmt::format("{} (see {}/results.csv)", missing, dir));
}

}  // namespace acceltran::cli::sweep
