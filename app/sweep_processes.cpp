#include "sweep_processes.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "acceltran/config/input_error.hpp"

namespace acceltran::cli::sweep {

namespace {

// The child after fork(): /dev/null as stdin, the pipes' write ends as stdout and stderr.
void redirect_child(int out, int err) {
  const int input = open("/dev/null", O_RDONLY);
  if (input < 0 || dup2(input, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
}

// The child of start(): redirected, then exec.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, int out, int err) {
  redirect_child(out, err);
  std::vector<char*> arguments = c_arguments(argv);
  execv(argv[0].c_str(), arguments.data());
  dprintf(2, "error: cannot run %s: %s\n", argv[0].c_str(), std::strerror(errno));
  _exit(127);
}

// The child of start_forked(): redirected, then `body` in this process image; its output
// flushed, then _exit (the parent's atexit handlers and static objects are not the child's).
[[noreturn]] void forked_child(const std::function<int()>& body, int out, int err) {
  redirect_child(out, err);
  int rc = 127;
  try {
    rc = body();
  } catch (...) {
    dprintf(2, "error: the forked simulate process failed\n");
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  _exit(rc);
}

void close_pipe(int* pipe_ends) {
  for (int n = 0; n < 2; ++n)
    if (pipe_ends[n] >= 0) close(pipe_ends[n]);
}

}  // namespace

std::vector<char*> c_arguments(const std::vector<std::string>& argv) {
  std::vector<char*> arguments;
  for (const auto& a : argv) arguments.push_back(const_cast<char*>(a.c_str()));
  arguments.push_back(nullptr);
  return arguments;
}

PointProcesses::~PointProcesses() {
  for (auto& [pid, process] : running_)
    for (auto& log : process.logs)
      if (log.pipe >= 0) close(log.pipe);
}

pid_t PointProcesses::start(const std::vector<std::string>& argv, const std::string& out,
                            const std::string& err) {
  return spawn([&argv](int out_pipe, int err_pipe) { exec_child(argv, out_pipe, err_pipe); }, out,
               err);
}

pid_t PointProcesses::start_forked(const std::function<int()>& body, const std::string& out,
                                   const std::string& err) {
  return spawn([&body](int out_pipe, int err_pipe) { forked_child(body, out_pipe, err_pipe); }, out,
               err);
}

pid_t PointProcesses::spawn(const std::function<void(int, int)>& child, const std::string& out,
                            const std::string& err) {
  Process process;
  process.logs[0].file = std::make_unique<OutputFile>(out);
  process.logs[1].file = std::make_unique<OutputFile>(err);
  int pipes[2][2] = {{-1, -1}, {-1, -1}};
  for (auto& p : pipes)
    if (pipe2(p, O_CLOEXEC) != 0) {
      const int error = errno;
      close_pipe(pipes[0]);
      close_pipe(pipes[1]);
      throw InputError(fmt::format("cannot start a simulate process: {}", std::strerror(error)));
    }
  // Nothing buffered in this process may be written again by the child.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    child(pipes[0][1], pipes[1][1]);
    _exit(127);  // not reached: the child execs or exits
  }
  const int error = errno;
  close(pipes[0][1]);
  close(pipes[1][1]);
  if (pid < 0) {
    close(pipes[0][0]);
    close(pipes[1][0]);
    throw InputError(fmt::format("cannot start a simulate process: {}", std::strerror(error)));
  }
  process.logs[0].pipe = pipes[0][0];
  process.logs[1].pipe = pipes[1][0];
  running_.emplace(pid, std::move(process));
  return pid;
}

void PointProcesses::copy(Log& log, std::string* log_error) {
  char buffer[1 << 16];
  const ssize_t got = read(log.pipe, buffer, sizeof buffer);
  if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
  try {
    if (got > 0) {
      if (log.file) log.file->write(std::string_view(buffer, static_cast<size_t>(got)));
      return;
    }
    close(log.pipe);  // the process closed its end (or the pipe failed)
    log.pipe = -1;
    if (log.file) log.file->close();
    log.file.reset();
  } catch (const InputError& e) {
    log.file.reset();  // the failed file is already removed; drop the rest of the output
    if (log_error->empty()) *log_error = e.what();
  }
}

PointProcesses::Finished PointProcesses::wait_one() {
  for (;;) {
    for (auto it = running_.begin(); it != running_.end(); ++it) {
      if (it->second.logs[0].pipe >= 0 || it->second.logs[1].pipe >= 0) continue;
      Finished finished{it->first, 0, it->second.log_error};
      running_.erase(it);
      while (waitpid(finished.pid, &finished.status, 0) < 0)
        if (errno != EINTR)
          throw InputError(fmt::format("waiting for a simulate process: {}", std::strerror(errno)));
      return finished;
    }
    std::vector<pollfd> polled;
    std::vector<std::pair<Log*, std::string*>> logs;  // a polled pipe's log, its process's error
    for (auto& [pid, process] : running_)
      for (auto& log : process.logs)
        if (log.pipe >= 0) {
          polled.push_back({log.pipe, POLLIN, 0});
          logs.push_back({&log, &process.log_error});
        }
    if (polled.empty()) throw InputError("waiting for simulate processes: none is running");
    if (poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw InputError(fmt::format("waiting for simulate processes: {}", std::strerror(errno)));
    }
    for (size_t n = 0; n < polled.size(); ++n)
      if (polled[n].revents) copy(*logs[n].first, logs[n].second);
  }
}

}  // namespace acceltran::cli::sweep
