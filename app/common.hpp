// Options and input loading shared by the subcommands.
#pragma once
#include <boost/program_options.hpp>
#include <string>

#include "compiler.hpp"
#include "config.hpp"
#include "model.hpp"

namespace acceltran::cli {

namespace po = boost::program_options;

struct Inputs {
  Technology tech;
  DesignSpace space;
  AcceleratorConfig accel;
  ModelDesc model;
  CompileOptions compile;
};

// --model, --accel, --profile, --seq-len, --batch, --sparsity, --weight-sparsity,
// --loop-order, --tiles-per-instruction, --models-dir, --allow-outside-design-space
void add_input_options(po::options_description& desc);
Inputs load_inputs(const po::variables_map& vm);

// Parses args against desc; prints help (returns 0 via *exit_code) or a usage error (2).
// Returns false when the caller should return *exit_code.
bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const char* usage, po::variables_map& vm, int* exit_code);

}  // namespace acceltran::cli
