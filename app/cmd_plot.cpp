// acceltran plot: PNG figures from a run or sweep folder, drawn by tools/plot.py with a Python
// that has matplotlib ($ACCELTRAN_PYTHON, else /usr/bin/python3, else python3 on PATH).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "acceltran/config/input_error.hpp"
#include "commands.hpp"
#include "sweep.hpp"

#ifndef ACCELTRAN_TOOLS_DIR
#define ACCELTRAN_TOOLS_DIR "tools"
#endif

namespace acceltran::cli {

namespace {

bool has_matplotlib(const std::string& python) {
  const std::string cmd = "'" + python + "' -c 'import matplotlib' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace

int cmd_plot(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  const char* tools_env = std::getenv("ACCELTRAN_TOOLS_DIR");
  const fs::path script =
      fs::path(tools_env && *tools_env ? tools_env : ACCELTRAN_TOOLS_DIR) / "plot.py";
  if (!fs::exists(script))
    throw InputError(
        fmt::format("{}: plot script not found (set ACCELTRAN_TOOLS_DIR to the "
                    "source tree's tools/ folder)",
                    script.string()));
  std::vector<std::string> tried;
  std::string python;
  if (const char* env = std::getenv("ACCELTRAN_PYTHON"); env && *env) {
    python = env;
    if (!has_matplotlib(python))
      throw InputError(fmt::format(
          "ACCELTRAN_PYTHON={}: cannot import matplotlib with it (Debian: apt-get install "
          "python3-matplotlib and use /usr/bin/python3)",
          python));
  } else {
    for (const char* p : {"/usr/bin/python3", "python3"}) {
      tried.push_back(p);
      if (has_matplotlib(p)) {
        python = p;
        break;
      }
    }
    if (python.empty())
      throw InputError(fmt::format(
          "no Python with matplotlib found (tried {}); install python3-matplotlib (Debian: "
          "apt-get install python3-matplotlib) or set ACCELTRAN_PYTHON",
          fmt::join(tried, ", ")));
  }
  // `plot memory` runs acceltran compile: the same executable as this one.
  setenv("ACCELTRAN_EXE", sweep::self_exe().c_str(), 0);
  std::vector<std::string> argv{python, script.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::fflush(stdout);
  execvp(python.c_str(), cargv.data());
  throw InputError(fmt::format("cannot run {}: {}", python, std::strerror(errno)));
}

}  // namespace acceltran::cli
