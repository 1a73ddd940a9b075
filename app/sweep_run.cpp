// Runs sweep points: one `acceltran simulate` process per point (one SystemC elaboration per
// process), up to N at once, with a progress bar and ETA on stderr. A point's process is a fork
// of the sweep process that runs `simulate` without exec (docs/performance.md, "Sweeps").
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/output_file.hpp"
#include "sweep.hpp"
#include "sweep_processes.hpp"

// The executable's entry point (app/main.cpp), run by a forked point process.
extern "C" int sc_main(int argc, char* argv[]);

namespace acceltran::cli::sweep {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw InputError("cannot find the acceltran executable (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

namespace {

struct Running {
  int index;
  Clock::time_point start;
};

// Starts `exe simulate ARGS --out DIR/points/NNNN/run` (a fork of this process, or exec of exe)
// with its stdout and stderr copied into DIR/points/NNNN/stdout.txt and stderr.txt (simulate
// owns its --out folder as a whole).
pid_t start_point(const std::string& dir, const Point& p, const std::string& exe, bool fork_points,
                  PointProcesses& processes) {
  const std::string pd = point_dir(dir, p.index);
  std::error_code ec;
  fs::create_directories(pd, ec);
  fs::remove(fs::path(pd) / "status.json", ec);
  fs::remove_all(fs::path(pd) / "run", ec);
  {
    json j{{"index", p.index}, {"args", p.args}};
    for (const auto& [k, v] : p.inputs) j["inputs"][k] = v;
    write_output_file((fs::path(pd) / "point.json").string(), j.dump(2) + "\n");
  }
  std::vector<std::string> argv{exe, "simulate"};
  const std::vector<std::string> args = point_args(p, pd);
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--out");
  argv.push_back(pd + "/run");
  if (!fork_points) return processes.start(argv, pd + "/stdout.txt", pd + "/stderr.txt");
  // The forked child runs the command line as the executable's own entry point would.
  return processes.start_forked(
      [argv] {
        std::vector<char*> arguments = c_arguments(argv);
        return sc_main(static_cast<int>(argv.size()), arguments.data());
      },
      pd + "/stdout.txt", pd + "/stderr.txt");
}

// The point's error: its "error:" lines on stderr, else how it ended.
std::string point_error(const std::string& pd, int status) {
  std::ifstream file(pd + "/stderr.txt");
  std::string head(1 << 20, '\0');  // the errors come first; a runaway log is not read whole
  file.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(file.gcount()));
  std::istringstream in(head);
  std::string line, errors;
  while (std::getline(in, line)) {
    // A progress bar may precede the message on the same line.
    auto at = line.find("error: ");
    if (at == std::string::npos) continue;
    errors += (errors.empty() ? "" : " | ") + line.substr(at + 7);
  }
  if (!errors.empty()) return errors;
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("exit code {} (see {}/stderr.txt)", WEXITSTATUS(status), pd);
}

// The point's status.json: ok when simulate exited 0 with a report and both logs were written
// (a point whose log was lost runs again next time).
void finish_point(const std::string& dir, const Point& p, int status, double wall_s,
                  const std::string& log_error) {
  const std::string pd = point_dir(dir, p.index);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                  fs::exists(fs::path(pd) / "run" / "report.json") && log_error.empty();
  json s{{"status", ok ? "ok" : "failed"},
         {"exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1},
         {"wall_s", wall_s},
         {"args", p.args}};
  if (!ok) s["error"] = log_error.empty() ? point_error(pd, status) : log_error;
  const auto tmp = fs::path(pd) / "status.json.tmp";
  write_output_file(tmp.string(), s.dump(2) + "\n", (fs::path(pd) / "status.json").string());
  std::error_code ec;
  fs::rename(tmp, fs::path(pd) / "status.json", ec);
  if (ec) throw InputError(fmt::format("{}/status.json: cannot write: {}", pd, ec.message()));
}

std::string duration(double s) {
  if (s < 60) return fmt::format("{:.0f} s", s);
  if (s < 3600)
    return fmt::format("{}m{:02d}s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return fmt::format("{}h{:02d}m", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
}

class Progress {
 public:
  Progress(size_t total, bool enabled)
      : total_(total), enabled_(enabled), tty_(isatty(STDERR_FILENO)), t0_(Clock::now()) {}
  void update(size_t done, int failed) {
    if (!enabled_ || !tty_ || total_ == 0) return;  // none in logs (stderr not a terminal)
    const double el = std::chrono::duration<double>(Clock::now() - t0_).count();
    const std::string eta =
        done == 0 ? "?" : duration(el / static_cast<double>(done) * (total_ - done));
    const int width = 30;
    const int filled = static_cast<int>(width * done / total_);
    fmt::print(stderr, "\r[{}{}] {}/{} points{}, {} elapsed, ETA {}{}", std::string(filled, '#'),
               std::string(width - filled, '.'), done, total_,
               failed ? fmt::format(", {} failed", failed) : "", duration(el), eta,
               done < total_ ? "   " : "\n");
  }

 private:
  size_t total_;
  bool enabled_, tty_;
  Clock::time_point t0_;
};

}  // namespace

int run_points(const std::string& dir, const Plan& plan, const std::vector<int>& indices,
               const RunOptions& opts) {
  const int jobs = std::max(1, opts.jobs);
  PointProcesses processes;
  std::map<pid_t, Running> running;
  size_t next = 0, done = 0;
  int failed = 0;
  std::string write_error;  // the first point file that could not be written: stop starting
  Progress bar(indices.size(), opts.progress);
  bar.update(0, 0);
  while (done < indices.size() && (write_error.empty() || !running.empty())) {
    while (write_error.empty() && next < indices.size() &&
           static_cast<int>(running.size()) < jobs) {
      const int idx = indices[next++];
      try {
        running[start_point(dir, plan.points.at(idx), opts.exe, opts.fork_points, processes)] = {
            idx, Clock::now()};
      } catch (const InputError& e) {
        write_error = e.what();
      }
    }
    if (running.empty()) break;
    const PointProcesses::Finished finished = processes.wait_one();
    if (write_error.empty()) write_error = finished.log_error;
    auto it = running.find(finished.pid);
    if (it == running.end()) continue;
    const double wall = std::chrono::duration<double>(Clock::now() - it->second.start).count();
    const Point& p = plan.points.at(it->second.index);
    try {
      finish_point(dir, p, finished.status, wall, finished.log_error);
    } catch (const InputError& e) {
      if (write_error.empty()) write_error = e.what();
    }
    if (!point_done(dir, p)) ++failed;
    running.erase(it);
    bar.update(++done, failed);
  }
  if (!write_error.empty()) {
    if (opts.progress && isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
    throw InputError(write_error);
  }
  return failed;
}

}  // namespace acceltran::cli::sweep
