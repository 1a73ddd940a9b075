// Report output of `acceltran simulate`: the readable summary, report.json, report.csv and
// timeline.csv.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acceltran/hw/accelerator.hpp"

// report.json's objects for the run's result structs (keys in the file's order; app/report.cpp).
namespace acceltran {
void to_json(nlohmann::ordered_json& j, const BlockEnergy& e);
void to_json(nlohmann::ordered_json& j, const OpReport& op);
void to_json(nlohmann::ordered_json& j, const LayerError& l);
void to_json(nlohmann::ordered_json& j, const PrunedTensor& t);
void to_json(nlohmann::ordered_json& j, const FunctionalResult& f);
}  // namespace acceltran

namespace acceltran::cli {

struct ReportInputs {
  std::string model, model_source, accelerator, accelerator_source, version;
  Profile profile = Profile::hardware;
  int64_t seq_len = 0, batch = 0;
  double activation_sparsity = 0, weight_sparsity = 0;
  std::string loop_order;
  // Reference profile: the --reference-bugs and --reference-fixes names of the run.
  std::vector<std::string> reference_bugs, reference_fixes;
  // --sparsity-profile: the file and its per-tensor sparsities (empty: the two global ones).
  std::string sparsity_profile_source;
  std::map<std::string, double> sparsity_profile;
  // The resolved inputs (docs/user-guide.md, "Reproducing a run"): what `simulate
  // --from-report` checks before it runs the command line again.
  std::string model_fingerprint, program, technology_source, models_dir, working_directory;
  std::vector<Setting> accelerator_settings, technology_settings;
  nlohmann::ordered_json run_options;  // in-order, memory model, ... with "auto" resolved
  // The command as given, without --out and --progress (where the report goes and how the run
  // shows itself, not what it reports): runs that differ only there give identical reports.
  std::vector<std::string> command_line;
};

void to_json(nlohmann::ordered_json& j, const ReportInputs& in);  // report.json "inputs"
nlohmann::ordered_json report_json(const SimResult& r, const ReportInputs& in);
void print_report(const SimResult& r, const ReportInputs& in, double wall_seconds);
// Writes DIR/report.json, DIR/report.csv, DIR/ops.csv, DIR/timeline.csv (creates DIR) through
// OutputFile; InputError naming the file (under `shown_dir` when given, e.g. the --out folder
// for its staging folder) if the folder or a file cannot be written.
void write_report_files(const std::string& dir, const SimResult& r, const ReportInputs& in,
                        const std::string& shown_dir = "");

}  // namespace acceltran::cli
