#pragma once
// A local HTTP server for the download tests: tests/support/http_server.py serving a folder on
// 127.0.0.1 (its special paths are listed in that script), started and stopped by the test.

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace xfer::testing {

/// The server process, running from construction to destruction. It also exits by itself after
/// two minutes, so that a crashed test leaves nothing behind for long.
class LocalHttpServer {
 public:
  /// Starts the server on `root`. Throws std::runtime_error when it does not come up.
  explicit LocalHttpServer(const std::filesystem::path& root);
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  /// "http://127.0.0.1:PORT" (no trailing slash).
  std::string base_url() const;

  /// base_url() + "/" + `path`.
  std::string url(const std::string& path) const;

  /// How many requests for `path` ("/file" or "/truncated/file") the server has answered.
  int requests(const std::string& path) const;

  /// How many requests of any path the server has answered.
  int requests() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::filesystem::path log_;
};

}  // namespace xfer::testing
