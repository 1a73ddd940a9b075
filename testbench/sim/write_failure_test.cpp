// Output files that cannot be written (a full disk, /dev/full, a missing folder, a dangling
// --out symlink): one `error:` line naming the file and the reason, a non-zero exit, and no
// partial file or `.partial` folder left behind (docs/user-guide.md, "Errors and exit codes").
#include <sys/mount.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../compiler/test_util.hpp"

namespace fs = std::filesystem;
using testutil::run_cli;
using testutil::TempDir;

namespace {

// The lines of `text` holding "error:".
int error_lines(const std::string& text) {
  int count = 0;
  for (size_t at = text.find("error:"); at != std::string::npos; at = text.find("error:", at + 1))
    ++count;
  return count;
}

// Names in `folder` (not recursive) holding ".partial".
std::vector<std::string> partial_entries(const fs::path& folder) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec))
    if (e.path().filename().string().find(".partial") != std::string::npos)
      found.push_back(e.path().filename().string());
  return found;
}

// One error line with every expected substring, exit code 1, nothing partial in `folder`.
void check_failed(const testutil::RunResult& r, const std::vector<std::string>& expected,
                  const fs::path& folder) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK(error_lines(r.err) == 1);
  for (const auto& e : expected) CHECK(r.err.find(e) != std::string::npos);
  CHECK(partial_entries(folder).empty());
}

// A 1 MiB tmpfs at `path`, filled but for about `free_bytes`; unmounted at the end.
struct FullFileSystem {
  fs::path path;
  bool mounted = false;
  FullFileSystem(const fs::path& where, size_t free_bytes) : path(where) {
    fs::create_directories(path);
    mounted = mount("tmpfs", path.c_str(), "tmpfs", 0, "size=1m") == 0;
    if (!mounted) return;
    std::ofstream(path / "spare", std::ios::binary) << std::string(free_bytes, 'x');
    std::ofstream filler(path / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) filler.flush();
    filler.close();
    fs::remove(path / "spare");
  }
  ~FullFileSystem() {
    if (mounted) umount(path.c_str());
  }
};

}  // namespace

TEST_CASE("write failure: simulate --out and compile -o on a full file system", "[write]") {
  TempDir d;
  FullFileSystem full(d.path / "full", 8192);
  if (!full.mounted) {
    WARN("cannot mount a tmpfs here (" << std::strerror(errno) << "): full-disk case skipped");
    return;
  }
  const auto out = full.path / "o";
  auto r = run_cli("simulate --out " + out.string());
  check_failed(r, {out.string() + "/report", "No space left on device"}, full.path);
  CHECK_FALSE(fs::exists(out));
  CHECK(r.out.find("report: ") == std::string::npos);  // the run did not claim a report

  const auto program = full.path / "program.txt";
  r = run_cli("compile -o " + program.string());
  check_failed(r, {program.string(), "No space left on device"}, full.path);
  CHECK_FALSE(fs::exists(program));

  // The VCD (436 kB) does not fit: no trace and no report, the old report stays.
  const auto vcd = full.path / "t.vcd";
  r = run_cli("simulate --vcd " + vcd.string() + " --out " + (d.path / "o").string());
  check_failed(r, {vcd.string(), "No space left on device"}, full.path);
  CHECK_FALSE(fs::exists(vcd));
  CHECK_FALSE(fs::exists(d.path / "o"));
  CHECK(partial_entries(d.path).empty());

  // A sweep whose points cannot be written says why on its error line (here the first point's
  // status.json), not "2 missing".
  const auto spec = d.write("spec.yaml", "grid: {pe: [64, 128]}\n");
  r = run_cli("sweep " + spec + " -j 1 --no-progress --out " + (full.path / "s").string());
  check_failed(r, {"points/0000/", "No space left on device"}, full.path);
}

TEST_CASE("write failure: --vcd /dev/full and compile -o /dev/full", "[write]") {
  TempDir d;
  const auto out = d.path / "o";
  auto r = run_cli("simulate --vcd /dev/full --out " + out.string());
  check_failed(r, {"/dev/full: cannot write: No space left on device"}, d.path);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists("/dev/full.vcd"));

  r = run_cli("compile -o /dev/full");
  check_failed(r, {"/dev/full: cannot write: No space left on device"}, d.path);
}

TEST_CASE("write failure: --dump-outputs into a missing folder fails before the run", "[write]") {
  TempDir d;
  const auto out = d.path / "o";
  const auto npy = d.path / "no" / "such" / "h.npy";
  auto r = run_cli("simulate --functional --seq-len 16 --dump-outputs " + npy.string() + " --out " +
                   out.string());
  check_failed(r, {npy.string(), "folder " + (d.path / "no" / "such").string()}, d.path);
  CHECK(r.out.find("cycles") == std::string::npos);  // refused before the simulation
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("write failure: a dangling --out symlink is refused before the run", "[write]") {
  TempDir d;
  const auto link = d.path / "o";
  fs::create_symlink(d.path / "gone" / "target", link);
  auto r = run_cli("simulate --out " + link.string());
  check_failed(r, {link.string(), "symbolic link", "does not exist"}, d.path);
  CHECK(r.out.find("cycles") == std::string::npos);  // refused before the simulation
  CHECK(fs::is_symlink(link));                       // left as it was
}

TEST_CASE("output folder: the usual mode, and empty staging folders of killed runs removed",
          "[write]") {
  TempDir d;
  const auto out = d.path / "o";
  fs::create_directory(d.path / ".o.partial-killed");  // a run killed before it wrote anything
  fs::create_directory(d.path / ".o.partial-busy");    // one with files: left alone
  std::ofstream(d.path / ".o.partial-busy" / "report.json") << "{}";
  const mode_t process_umask = umask(022);
  const auto r = run_cli("simulate --out " + out.string());
  umask(process_umask);
  REQUIRE(r.exit_code == 0);
  const auto permissions = fs::status(out).permissions();
  CHECK((permissions & fs::perms::group_read) != fs::perms::none);  // not 0700 (mkdtemp's)
  CHECK((permissions & fs::perms::others_exec) != fs::perms::none);
  CHECK_FALSE(fs::exists(d.path / ".o.partial-killed"));
  CHECK(fs::exists(d.path / ".o.partial-busy" / "report.json"));
}
