#include "support/paths.h"

#include <cstdlib>
#include <random>
#include <system_error>
#include <vector>

namespace xfer::testing {
namespace {

// Removes the temp directories this process made, at exit.
struct TempDirs {
  std::vector<std::filesystem::path> made;
  ~TempDirs() {
    std::error_code ignored;
    for (const auto& dir : made) std::filesystem::remove_all(dir, ignored);
  }
};

TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}

}  // namespace

std::filesystem::path fixtures_dir() { return XFER_FIXTURES_DIR; }

std::filesystem::path shared_dir() { return XFER_SHARED_DIR; }

std::filesystem::path xfer_binary() { return XFER_BINARY; }

std::filesystem::path temp_dir(const std::string& tag) {
  std::random_device random;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("xfer-test-" + tag + "-" + std::to_string(random()));
  std::filesystem::create_directories(dir);
  temp_dirs().made.push_back(dir);
  return dir;
}

}  // namespace xfer::testing
