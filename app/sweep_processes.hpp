// The simulate processes of a sweep, their stdout and stderr piped into the point's log files
// (stdout.txt, stderr.txt) through OutputFile: every write checked, the files fsynced, and a
// failed write (a full disk) an error naming the file instead of a silently cut log.
#pragma once
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acceltran/config/output_file.hpp"

namespace acceltran::cli::sweep {

// argv as main() gets it: pointers into the strings, then a null pointer.
std::vector<char*> c_arguments(const std::vector<std::string>& argv);

class PointProcesses {
 public:
  PointProcesses() = default;
  PointProcesses(const PointProcesses&) = delete;
  PointProcesses& operator=(const PointProcesses&) = delete;
  ~PointProcesses();  // closes the pipes of processes not waited for

  // Starts argv[0] with argv, stdin from /dev/null, stdout and stderr into the files `out` and
  // `err`. Throws InputError when a log file cannot be created or the process cannot start.
  pid_t start(const std::vector<std::string>& argv, const std::string& out, const std::string& err);
  // As start, but the child is a fork of this process that runs `body` and exits with its
  // result, without exec: the executable, its libraries and what this process has read are
  // already loaded (docs/performance.md, "Sweeps"). `body` runs in the child only.
  pid_t start_forked(const std::function<int()>& body, const std::string& out,
                     const std::string& err);

  // Copies the processes' output into their logs until one has closed both pipes, waits for it
  // and returns how it ended. A log that cannot be written is removed and the rest of its
  // output dropped; `log_error` says why (empty when both logs were written).
  struct Finished {
    pid_t pid = 0;
    int status = 0;  // as waitpid gives it
    std::string log_error;
  };
  Finished wait_one();

  bool empty() const { return running_.empty(); }

 private:
  struct Log {
    int pipe = -1;                     // read end; -1 once the process closed its end
    std::unique_ptr<OutputFile> file;  // null once written (or failed)
  };
  struct Process {
    Log logs[2];            // stdout, stderr
    std::string log_error;  // the first write to a log that failed
  };
  pid_t spawn(const std::function<void(int, int)>& child, const std::string& out,
              const std::string& err);
  static void copy(Log& log, std::string* log_error);
  std::map<pid_t, Process> running_;
};

}  // namespace acceltran::cli::sweep
