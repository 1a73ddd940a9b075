// Subcommands of the `acceltran` tool. Each returns the process exit code:
// 0 success, 1 bad input or failed run (one "error: ..." line on stderr), 2 usage error.
#pragma once
#include <string>
#include <vector>

namespace acceltran::cli {

int cmd_compile(const std::vector<std::string>& args);
int cmd_simulate(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
int cmd_calibrate(const std::vector<std::string>& args);
int cmd_evaluate(const std::vector<std::string>& args);
int cmd_compare(const std::vector<std::string>& args);

}  // namespace acceltran::cli
