// Slurm back end of `acceltran sweep`: one job array, each array task runs a chunk of points
// with `acceltran sweep worker`; `acceltran sweep collect` gathers the results afterwards.
#include <fmt/format.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "acceltran/config/input_error.hpp"
#include "acceltran/config/output_file.hpp"
#include "sweep.hpp"

namespace acceltran::cli::sweep {

namespace fs = std::filesystem;

namespace {

// Single-quoted for bash.
std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

int submit_slurm(const std::string& dir_in, const Plan& plan, const std::vector<int>& indices,
                 const SlurmOptions& opts) {
  const std::string dir = fs::absolute(dir_in).lexically_normal().string();
  (void)plan;
  if (indices.empty()) {
    fmt::print("sweep {}: every point is done; nothing to submit\n", dir);
    return 0;
  }
  const int per_task =
      opts.points_per_task > 0
          ? opts.points_per_task
          : static_cast<int>((indices.size() + 99) / 100);  // at most 100 array tasks
  std::vector<std::string> chunks;
  for (size_t n = 0; n < indices.size(); n += per_task) {
    std::vector<int> chunk(indices.begin() + n,
                           indices.begin() + std::min(indices.size(), n + per_task));
    chunks.push_back(index_list(chunk));
  }
  const fs::path sdir = fs::path(dir) / "slurm";
  std::error_code ec;
  fs::create_directories(sdir, ec);
  if (ec) throw InputError(fmt::format("{}: cannot create: {}", sdir.string(), ec.message()));
  const fs::path script = sdir / "sweep.sbatch";
  {
    std::ostringstream out;
    out << "#!/bin/bash\n"
        << "# AccelTran-SC sweep of " << plan.spec << ": " << indices.size() << " points in "
        << chunks.size() << " array tasks of up to " << per_task << " point(s).\n"
        << "# Submit: sbatch " << script.string() << "\n"
        << "# Then:   acceltran sweep collect " << dir << "\n"
        << "#SBATCH --job-name=acceltran-sweep\n"
        << fmt::format("#SBATCH --array=0-{}\n", chunks.size() - 1) << "#SBATCH --ntasks=1\n"
        << "#SBATCH --cpus-per-task=1\n"
        << "#SBATCH --output=" << (sdir / "task-%A_%a.out").string() << "\n";
    for (auto o : opts.sbatch_options) {
      if (o.rfind("-", 0) != 0) o = "--" + o;
      out << "#SBATCH " << o << "\n";
    }
    out << "set -euo pipefail\n"
        << "chunks=(";
    for (const auto& c : chunks) out << " " << c;
    out << " )\n"
        << "exec " << sh_quote(self_exe()) << " sweep worker " << sh_quote(dir)
        << " --points \"${chunks[$SLURM_ARRAY_TASK_ID]}\" -j \"${SLURM_CPUS_PER_TASK:-1}\"\n";
    write_output_file(script.string(), out.str());
  }
  fs::permissions(script, fs::perms::owner_exec, fs::perm_options::add, ec);
  if (opts.dry_run) {
    fmt::print("wrote {} ({} points in {} array tasks); not submitted (--dry-run)\n",
               script.string(), indices.size(), chunks.size());
    return 0;
  }
  const std::string cmd = "sbatch --parsable " + sh_quote(script.string()) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw InputError("cannot run sbatch");
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int rc = pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  for (size_t at = out.find('\n'); at != std::string::npos; at = out.find('\n', at))
    out.replace(at, 1, " | ");  // one error line
  if (rc != 0 || out.empty()) {
    const bool missing = WIFEXITED(rc) && WEXITSTATUS(rc) == 127;
    throw InputError(fmt::format("sbatch {}: {}", script.string(),
                                 missing ? "sbatch not found (is Slurm installed? --dry-run "
                                           "writes the script only)"
                                         : out));
  }
  const std::string job = out.substr(0, out.find(';'));
  write_output_file((sdir / "job_id").string(), job + "\n");
  fmt::print(
      "submitted job array {} ({} points in {} tasks): {}\n"
      "when it has finished: acceltran sweep collect {}\n",
      job, indices.size(), chunks.size(), script.string(), dir);
  return 0;
}

}  // namespace acceltran::cli::sweep
