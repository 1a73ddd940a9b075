// acceltran: command-line front end of the AccelTran SystemC/TLM-2.0 simulator.
#include <fmt/format.h>
#include <systemc>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/input_text.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace {

constexpr const char* kUsage = R"(usage: acceltran <command> [options]

AccelTran-SC: a SystemC/TLM-2.0 model of the AccelTran sparsity-aware transformer accelerator.

commands:
  compile    lower a transformer to the tiled instruction stream (statistics, text form)
  simulate   run a transformer on an accelerator and report cycles, energy, power, area
  sweep      run a set of simulations over a design-space grid (local or Slurm)
  plot       draw PNG figures from a simulate or sweep output folder
  calibrate  find the DynaTran threshold tau that reaches a target sparsity
  evaluate   accuracy, sparsity, cycles and energy of a checkpoint over a dataset per setting
  compare    a run's throughput and energy ratios against baseline devices (docs/compare.md)

`acceltran <command> --help` lists the options of a command with their defaults.
)";

}  // namespace

int sc_main(int argc, char* argv[]) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    fmt::print("acceltran {}\n", ACCELTRAN_VERSION);
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "compile") return acceltran::cli::cmd_compile(args);
    if (cmd == "simulate") return acceltran::cli::cmd_simulate(args);
    if (cmd == "sweep") return acceltran::cli::cmd_sweep(args);
    if (cmd == "plot") return acceltran::cli::cmd_plot(args);
    if (cmd == "calibrate") return acceltran::cli::cmd_calibrate(args);
    if (cmd == "evaluate") return acceltran::cli::cmd_evaluate(args);
    if (cmd == "compare") return acceltran::cli::cmd_compare(args);
  } catch (const acceltran::cli::UsageError& e) {
    fmt::print(stderr, "error: {}\n", acceltran::printable_message(e.what()));
    return 2;
  } catch (const acceltran::InputError& e) {
    fmt::print(stderr, "error: {}\n", acceltran::printable_message(e.what()));
    return 1;
  } catch (const std::bad_alloc&) {
    // The stack is unwound (partial outputs removed) and the memory freed before this prints.
    fmt::print(stderr,
               "error: out of memory in `acceltran {}`: the run needs more memory than this "
               "process may use (ulimit -v?); use a smaller model, a shorter --seq-len or a "
               "larger --tiles-per-instruction\n",
               cmd);
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", acceltran::printable_message(e.what()));
    return 1;
  }
  fmt::print(stderr,
             "error: unknown command '{}'; commands: compile, simulate, sweep, plot, calibrate, "
             "evaluate, compare\n",
             acceltran::quoted_value(cmd));
  return 2;
}

// libsystemc supplies a main() that prints the copyright banner before sc_main runs; this one
// takes precedence, silences the banner (unless the user asks for it) and hands over to the
// SystemC kernel's own entry point, which calls sc_main above.
int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
