// Output files written whole or not at all: every write and the close are checked, the file is
// fsynced, and a failure removes the partial file and throws an InputError naming the file and
// the OS reason (e.g. "out/report.csv: cannot write: No space left on device").
#pragma once
#include <string>
#include <string_view>

namespace acceltran {

class OutputFile {
 public:
  // Creates or truncates `path`; `shown` is the name errors give (default: `path`), e.g. the
  // user's --out folder for a file written into its staging folder.
  explicit OutputFile(const std::string& path, const std::string& shown = "");
  ~OutputFile();  // not closed: the partial file is removed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(std::string_view bytes);
  void close();  // fsync (regular files) and close

 private:
  [[noreturn]] void fail(const char* action, int error);

  std::string path_, shown_;
  int descriptor_ = -1;
  bool regular_ = false;
};

// Writes `bytes` to `path` through an OutputFile.
void write_output_file(const std::string& path, std::string_view bytes,
                       const std::string& shown = "");

// Copies the file `from` to `to` through an OutputFile (in pieces).
void copy_to_output_file(const std::string& from, const std::string& to,
                         const std::string& shown = "");

// fsyncs a folder, so that the files created in it (or a rename into it) survive a crash.
void sync_folder(const std::string& path, const std::string& shown = "");

}  // namespace acceltran
