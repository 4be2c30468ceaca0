#pragma once
// The environment a `xfer weights fetch` test gives the xfer it starts.

#include "support/paths.h"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace xfer::testing {

/// Sets XFER_HOME to a fresh cache folder and XFER_WEIGHTS_MIRROR to `mirror` (unset when
/// empty) for the child processes of this test; unsets both at the end of the scope.
class FetchEnvironment {
 public:
  explicit FetchEnvironment(const std::string& mirror) : cache_(temp_dir("cli-cache")) {
    setenv("XFER_HOME", cache_.c_str(), 1);
    if (mirror.empty()) {
      unsetenv("XFER_WEIGHTS_MIRROR");
    } else {
      setenv("XFER_WEIGHTS_MIRROR", mirror.c_str(), 1);
    }
  }
  ~FetchEnvironment() {
    unsetenv("XFER_HOME");
    unsetenv("XFER_WEIGHTS_MIRROR");
  }
  FetchEnvironment(const FetchEnvironment&) = delete;
  FetchEnvironment& operator=(const FetchEnvironment&) = delete;

  /// The cache folder.
  const std::filesystem::path& cache() const { return cache_; }

  /// Whether nothing at all is in the cache folder.
  bool cache_empty() const { return std::filesystem::is_empty(cache_); }

 private:
  std::filesystem::path cache_;
};

}  // namespace xfer::testing
