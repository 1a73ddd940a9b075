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

// --model, --accel, --profile, --seq-len, --batch, --sparsity, --weight-sparsity,
// --loop-order, --tiles-per-instruction, --models-dir, --allow-outside-design-space
void add_input_options(po::options_description& desc);
Inputs load_inputs(const po::variables_map& vm);

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
  // Where to write an output the user asked for at `path`: inside the staging folder when
  // `path` is in the --out folder (so it is replaced with the report), else `path` itself.
  std::string place(const std::string& path) const;
  void commit();

 private:
  std::string out_, staging_;
  bool committed_ = false;
};

// Checks that a VCD trace can be written at `path` before a run starts (SystemC opens it only
// when the simulation starts): not a folder, its folder exists and the file can be created.
void check_vcd_path(const std::string& path);

}  // namespace acceltran::cli
