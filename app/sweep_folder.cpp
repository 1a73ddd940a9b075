// The sweep folder: its creation (validated as simulate validates --out), plan.json, the
// points' folders and the bounded reading of the JSON files in them.
#include <fmt/format.h>

#include <filesystem>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/output_file.hpp"
#include "common.hpp"
#include "sweep.hpp"

namespace acceltran::cli::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// plan.json grows with the points (about 300 bytes each): room for 200,000 of them.
constexpr uint64_t kMaxPlanBytes = 64ull << 20;

// Writes FOLDER/plan.json (through a temporary file, so a resumed sweep keeps its old plan when
// the write fails) and creates FOLDER/points; `shown` is the folder as errors name it.
void write_plan(const std::string& folder, const Plan& plan, const std::string& shown) {
  json j;
  j["spec"] = plan.spec;
  j["input_columns"] = plan.input_columns;
  j["points"] = json::array();
  for (const auto& p : plan.points) {
    json inputs = json::array();
    for (const auto& [k, v] : p.inputs) inputs.push_back({k, v});
    j["points"].push_back({{"index", p.index}, {"inputs", inputs}, {"args", p.args}});
  }
  std::error_code ec;
  fs::create_directories(fs::path(folder) / "points", ec);
  if (ec)
    throw InputError(fmt::format("{}: cannot create the sweep folder: {}", shown, ec.message()));
  const auto tmp = fs::path(folder) / "plan.json.tmp";
  write_output_file(tmp.string(), j.dump(1) + "\n", (fs::path(shown) / "plan.json").string());
  fs::rename(tmp, fs::path(folder) / "plan.json", ec);
  if (ec) throw InputError(fmt::format("{}/plan.json: cannot write: {}", shown, ec.message()));
}

}  // namespace

json read_json_file(const std::string& path, const char* what, uint64_t max_bytes) {
  const std::string text = read_input_file(path, max_bytes, what);
  check_json_text(text, path, max_bytes);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}: unreadable {}: {}", path, what, quoted_value(e.what())));
  }
}

void prepare_folder(const std::string& dir, const Plan& plan) {
  std::error_code ec;
  if (fs::is_regular_file(fs::path(dir) / "plan.json", ec)) {  // a sweep folder: resumed
    write_plan(dir, plan, dir);
    return;
  }
  // Refuses what simulate refuses for --out: no folder name ("/", ".", ".."), a dangling link,
  // a file, a folder holding other files. The folder is made beside it and moved into place.
  OutputFolder staged(dir);
  // What OutputFolder lets through (report files, VCD traces) is no sweep either.
  if (const fs::directory_iterator first(staged.shown(), ec);
      !ec && first != fs::directory_iterator())
    throw InputError(fmt::format(
        "{}: --out holds '{}' but no plan.json, so it is not a sweep folder; choose a new folder",
        dir, quoted_value(first->path().filename().string())));
  write_plan(staged.staging(), plan, dir);
  staged.commit();
}

Plan read_plan(const std::string& dir) {
  const auto path = fs::path(dir) / "plan.json";
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw InputError(
        fmt::format("{}: not a sweep folder (no plan.json; run `acceltran sweep "
                    "SPEC.yaml --out {}` first)",
                    dir, dir));
  const json j = read_json_file(path.string(), "sweep plan", kMaxPlanBytes);
  Plan plan;
  try {
    plan.spec = j.at("spec").get<std::string>();
    plan.input_columns = j.at("input_columns").get<std::vector<std::string>>();
    for (const auto& e : j.at("points")) {
      Point p;
      p.index = e.at("index").get<int>();
      if (p.index != static_cast<int>(plan.points.size()))
        throw InputError(fmt::format("{}: point {} is listed as point {}", path.string(),
                                     plan.points.size(), p.index));
      for (const auto& kv : e.at("inputs"))
        p.inputs.push_back({kv.at(0).get<std::string>(), kv.at(1).get<std::string>()});
      p.args = e.at("args").get<std::vector<std::string>>();
      plan.points.push_back(p);
    }
  } catch (const json::exception& e) {
    throw InputError(
        fmt::format("{}: unreadable sweep plan: {}", path.string(), quoted_value(e.what())));
  }
  return plan;
}

std::string point_dir(const std::string& dir, int index) {
  return (fs::path(dir) / "points" / fmt::format("{:04d}", index)).string();
}

json read_status(const std::string& point_folder) {
  try {
    const json status = read_json_file((fs::path(point_folder) / "status.json").string(),
                                       "point status", limits::kMaxJsonBytes);
    if (status.is_object()) return status;
  } catch (const InputError&) {
  }
  return json();
}

bool point_done(const std::string& dir, const Point& p) {
  const fs::path pd = point_dir(dir, p.index);
  std::error_code ec;
  if (!fs::exists(pd / "run" / "report.json", ec)) return false;
  const json s = read_status(pd.string());
  return s.is_object() && s.value("status", "") == "ok" &&
         s.value("args", json::array()) == json(p.args);
}

}  // namespace acceltran::cli::sweep
