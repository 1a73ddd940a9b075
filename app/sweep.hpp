// acceltran sweep: design-space exploration over accelerator keys (--set) and simulate options.
// A sweep folder DIR holds plan.json (every point's inputs and simulate arguments),
// points/NNNN/ (one `acceltran simulate` process each: report.json, stdout.txt, stderr.txt,
// status.json), results.csv and pareto.csv.
#pragma once
#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace acceltran::cli {

// Parses the options of `sweep` and `plot` with one positional option; --help prints usage
// and the options (*rc 0); a usage error or a failed `check` prints one error line (*rc 2).
// Returns false when the caller should return *rc.
bool parse_cli(const std::vector<std::string>& args,
               const boost::program_options::options_description& desc, const char* positional,
               const std::string& usage, boost::program_options::variables_map& vm, int* rc,
               const std::function<void()>& check = {});

}  // namespace acceltran::cli

namespace acceltran::cli::sweep {

struct Point {
  int index = 0;
  // Input columns in order: model, accelerator, then each swept or fixed key as written in the
  // spec ("pe", "main_memory.type", "sparsity" for the option --sparsity).
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::string> args;  // arguments of `acceltran simulate`, without --out
};

struct Plan {
  std::string spec;  // the spec file it came from
  std::vector<std::string> input_columns;
  std::vector<std::string> option_keys;  // the spec's simulate options ("--sparsity"), not saved
  std::vector<Point> points;
};

// Reads a sweep spec (InputError naming the file and key when malformed).
Plan read_spec(const std::string& path);
// Checks that every option the spec uses is one `exe simulate --help` lists (InputError naming
// the key and the options otherwise), so a typo fails once instead of at every point.
void check_options(const Plan& plan, const std::string& exe);
// Writes DIR/plan.json. DIR is a sweep folder (resumed) or a new one, refused as simulate
// refuses its --out ("/", ".", a file, a folder of other files) and also when it holds a report:
// a new sweep folder is made beside DIR and moved into place with its plan.json and points/.
void prepare_folder(const std::string& dir, const Plan& plan);
Plan read_plan(const std::string& dir);  // InputError when DIR holds no sweep
// A JSON file of a sweep folder, read within `max_bytes` and the nesting limit (InputError
// naming the file otherwise; `what` names the kind of file, e.g. "sweep plan").
nlohmann::json read_json_file(const std::string& path, const char* what, uint64_t max_bytes);
// A point folder's status.json, or null when it is absent or unreadable.
nlohmann::json read_status(const std::string& point_folder);

std::string point_dir(const std::string& dir, int index);
// The point's simulate arguments as run in `point_folder`: a relative output path (--vcd,
// --dump-outputs) is made a file of that folder (its subfolders created), so that points never
// share one file; read_spec refuses an absolute one that two points would share.
std::vector<std::string> point_args(const Point& point, const std::string& point_folder);
// A point is done when its status.json says ok for the same simulate arguments.
bool point_done(const std::string& dir, const Point& p);

// Runs the points (indices into plan.points) with up to `jobs` simulate processes at once.
// Each point's outcome goes to its status.json. Returns the number of failed points. When a
// point's files cannot be written (a full disk), no further point is started; the running ones
// are waited for and the write error is thrown (InputError).
struct RunOptions {
  int jobs = 1;
  bool progress = true;
  std::string exe;  // the acceltran executable
  // Each point a fork of this process running `simulate` (no exec of exe, no loading again);
  // false: exec exe per point.
  bool fork_points = true;
};
int run_points(const std::string& dir, const Plan& plan, const std::vector<int>& indices,
               const RunOptions& opts);

// Writes DIR/results.csv and DIR/pareto.csv from whatever points are done; prints a summary
// and the points still missing. Returns the number of points that failed or are missing.
struct CollectSummary {
  int points = 0, ok = 0, failed = 0, missing = 0, pareto = 0;
  int first_failed = -1;    // the lowest failed point
  std::string first_error;  // its error
};
CollectSummary collect(const std::string& dir, bool print);

// Throws InputError when points failed (their count and the first one's error) or are missing.
void check_outcome(const std::string& dir, const CollectSummary& summary);

// Parses "0-9,12,15-17" into indices.
std::vector<int> parse_index_list(const std::string& text, int count);
std::string index_list(const std::vector<int>& indices);

// The absolute path of the running executable (/proc/self/exe).
std::string self_exe();

// Slurm back end: writes DIR/slurm/sweep.sbatch (a job array, each task a chunk of points)
// and submits it with sbatch unless dry_run. Returns the exit code.
struct SlurmOptions {
  std::vector<std::string> sbatch_options;  // passed through as #SBATCH lines
  int points_per_task = 0;                  // 0: at most 100 array tasks
  bool dry_run = false;
};
int submit_slurm(const std::string& dir, const Plan& plan, const std::vector<int>& indices,
                 const SlurmOptions& opts);

}  // namespace acceltran::cli::sweep
