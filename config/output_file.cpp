#include "acceltran/config/output_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "acceltran/config/input_error.hpp"

namespace acceltran {

namespace {

// fsync's answer for files that cannot be synced (pipes, character devices, some file systems).
bool sync_not_supported(int error) {
  return error == EINVAL || error == EROFS || error == ENOTSUP;
}

}  // namespace

OutputFile::OutputFile(const std::string& path, const std::string& shown)
    : path_(path), shown_(shown.empty() ? path : shown) {
  descriptor_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (descriptor_ < 0)
    throw InputError(fmt::format("{}: cannot open for writing: {}", shown_, std::strerror(errno)));
  struct stat info {};
  regular_ = ::fstat(descriptor_, &info) == 0 && S_ISREG(info.st_mode);
}

OutputFile::~OutputFile() {
  if (descriptor_ < 0) return;
  ::close(descriptor_);
  if (regular_) ::unlink(path_.c_str());
}

void OutputFile::fail(const char* action, int error) {
  if (descriptor_ >= 0) ::close(descriptor_);
  descriptor_ = -1;
  if (regular_) ::unlink(path_.c_str());
  throw InputError(fmt::format("{}: cannot {}: {}", shown_, action, std::strerror(error)));
}

void OutputFile::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(descriptor_, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail("write", written < 0 ? errno : ENOSPC);
    bytes.remove_prefix(static_cast<size_t>(written));
  }
}

void OutputFile::close() {
  if (::fsync(descriptor_) != 0 && !sync_not_supported(errno)) fail("write", errno);
  const int descriptor = std::exchange(descriptor_, -1);
  if (::close(descriptor) != 0) fail("write", errno);
}

void write_output_file(const std::string& path, std::string_view bytes, const std::string& shown) {
  OutputFile file(path, shown);
  file.write(bytes);
  file.close();
}

void copy_to_output_file(const std::string& from, const std::string& to, const std::string& shown) {
  const int source = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (source < 0) throw InputError(fmt::format("{}: cannot read: {}", from, std::strerror(errno)));
  try {
    OutputFile file(to, shown);
    std::vector<char> buffer(1 << 20);
    for (;;) {
      const ssize_t got = ::read(source, buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw InputError(fmt::format("{}: cannot read: {}", from, std::strerror(errno)));
      if (got == 0) break;
      file.write(std::string_view(buffer.data(), static_cast<size_t>(got)));
    }
    file.close();
  } catch (...) {
    ::close(source);
    throw;
  }
  ::close(source);
}

void sync_folder(const std::string& path, const std::string& shown) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int error = descriptor < 0 ? errno : 0;
  if (descriptor >= 0 && ::fsync(descriptor) != 0 && !sync_not_supported(errno)) error = errno;
  if (descriptor >= 0) ::close(descriptor);
  if (error)
    throw InputError(fmt::format("{}: cannot sync the folder: {}", shown.empty() ? path : shown,
                                 std::strerror(error)));
}

}  // namespace acceltran
