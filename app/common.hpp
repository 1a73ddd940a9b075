// Options and input loading shared by the subcommands.
#pragma once
#include <boost/program_options.hpp>
#include <map>
#include <string>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/config/input_limits.hpp"
#include "acceltran/workload/model.hpp"

namespace acceltran::cli {

namespace po = boost::program_options;

// A wrong command line (an option value out of range, options that exclude each other): the
// tool prints it as one error line and exits 2, where a bad input file or a failed run exits 1.
class UsageError : public InputError {
 public:
  using InputError::InputError;
};

struct Inputs {
  Technology tech;
  DesignSpace space;
  AcceleratorConfig accel;
  ModelDesc model;
  CompileOptions compile;  // compile.published: --reference-bugs and --reference-fixes
};

// --sparsity-profile: tensor name -> sparsity from a functional run's report.json.
std::map<std::string, double> load_sparsity_profile(const std::string& path);

// The --help text of --reference-bugs or --reference-fixes, from the switch table.
std::string switch_help(SwitchFamily family);

// The width of --help: $COLUMNS, else the terminal's, else 80 (at least 40).
unsigned help_width();
// A titled group of options (its caption heads it in --help).
po::options_description option_group(const std::string& caption);
// The --help text: `usage`, then the options by group, wrapped to help_width() at spaces
// (a word is never cut).
std::string help_text(const std::string& usage, const po::options_description& desc);

// In three groups: --model, --accel, --profile, --seq-len, --batch, --sparsity, --weight-sparsity,
// --loop-order, --tiles-per-instruction, --models-dir, --allow-outside-design-space
void add_input_options(po::options_description& desc);
// Loads and checks the inputs: cheap (YAML and JSON files), so that every option is checked
// before heavy work (a functional run's weights).
Inputs load_inputs(const po::variables_map& vm);
// --seq-len and --batch into in.compile, --batch checked against the accelerator's design space
// (UsageError). load_inputs calls it; a functional run again after --tokens has set them.
void load_run_shape(const po::variables_map& vm, Inputs& in);

// Parses args against desc; prints help (returns 0 via *exit_code) or a usage error (2).
// Returns false when the caller should return *exit_code.
bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const char* usage, po::variables_map& vm, int* exit_code);

// The --out folder of a run, replaced as a whole: outputs are written into a fresh folder beside
// it (".NAME.partial-XXXXXX"), which commit() renames into place. Until then, and when the run
// fails, the old folder stays untouched; the partial folder is removed unless committed.
// A folder that holds anything but report files and VCD traces is refused (never deleted).
class OutputFolder {
 public:
  explicit OutputFolder(const std::string& out);  // throws InputError naming the folder
  ~OutputFolder();
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  const std::string& staging() const { return staging_; }
  const std::string& shown() const { return out_; }  // the folder as errors name it
  // Where to write an output the user asked for at `path`: inside the staging folder when
  // `path` is in the --out folder (so it is replaced with the report), else `path` itself.
  std::string place(const std::string& path) const;
  void commit();

 private:
  std::string out_, staging_;
  bool committed_ = false;
};

// Call right after simulate() returns, before anything may throw. SystemC's coroutine switches
// leave AddressSanitizer believing the thread runs on the last coroutine's stack, so the next
// exception is a false stack-buffer-underflow in __asan_handle_no_return that aborts the tool:
// the error is never printed and no clean-up runs. This gives ASan the thread's own stack
// again. Nothing without AddressSanitizer.
void restore_stack_bounds();

// Checks that a VCD trace can be written at `path` before a run starts (SystemC opens it only
// when the simulation starts): not a folder, its folder exists and the file can be created.
void check_vcd_path(const std::string& path);

// Checks before a run that `file` can be written (`what`, e.g. "the VCD file", names it in the
// error): not a folder, its folder exists and the file can be created.
void check_output_file(const std::string& file, const char* what);

// The --vcd trace of a run. SystemC writes its trace file without checking the writes, so the
// tracer writes a temporary file beside the one asked for (in the staging folder for a device
// or a pipe such as /dev/full), and finish() copies it there through OutputFile: a full disk
// or a failed write is an error naming the file, and no partial trace is left behind.
class VcdOutput {
 public:
  // `path` as given to --vcd (".vcd" is appended unless it ends so or names a device or pipe);
  // inside the --out folder it is written into the staging folder. Throws InputError.
  VcdOutput(const std::string& path, const OutputFolder& out);
  ~VcdOutput();  // removes the temporary file
  VcdOutput(const VcdOutput&) = delete;
  VcdOutput& operator=(const VcdOutput&) = delete;
  const std::string& trace_path() const { return temporary_; }  // for the tracer
  const std::string& shown() const { return shown_; }
  void finish();  // after the tracer has closed its file

 private:
  std::string file_, shown_, temporary_;
};

}  // namespace acceltran::cli
