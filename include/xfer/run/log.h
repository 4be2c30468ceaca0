#pragma once
// A run's account: each line goes to the caller's sink (a terminal, say) and to the run
// directory's log.txt.

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace xfer::run {

/// Lines of a run's account, to a sink and to log.txt. Lines logged before open() (while the data
/// and weights are checked, before the run directory exists) are kept and written then.
class RunLog {
 public:
  /// A log that passes every line to `sink` (may be empty) and keeps it for a file.
  explicit RunLog(std::function<void(const std::string&)> sink);

  /// Appends the kept lines to `file`, and every later line. Throws IoError when it cannot be
  /// opened for appending.
  void open(const std::filesystem::path& file);
  /// No file will be written (a rank other than 0): what is kept is dropped, and nothing more is.
  void without_file();
  /// Logs one line (without its line break).
  void operator()(const std::string& line);

 private:
  std::ofstream out_;
  std::vector<std::string> pending_;
  std::function<void(const std::string&)> sink_;
  bool discard_ = false;
};

}  // namespace xfer::run
