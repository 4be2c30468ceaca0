#pragma once
// Where tests find their inputs: the committed fixtures, the sibling shared/ folder, the built CLI.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace xfer::testing {

/// tests/fixtures in the source tree.
std::filesystem::path fixtures_dir();

/// ../shared beside the project root (data and real weights); may not exist.
std::filesystem::path shared_dir();

/// The built `xfer` program.
std::filesystem::path xfer_binary();

/// A fresh empty directory under the system temp folder, removed when the process exits.
std::filesystem::path temp_dir(const std::string& tag);

}  // namespace xfer::testing

/// Skips the current test with a message when `path` (under ../shared) is absent.
#define XFER_REQUIRE_SHARED(path)                                                           \
  do {                                                                                      \
    if (!std::filesystem::exists(path)) {                                                   \
      GTEST_SKIP() << "needs " << (path) << " (../shared is absent: a user checkout has none)"; \
    }                                                                                       \
  } while (0)
