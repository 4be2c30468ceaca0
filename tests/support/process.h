#pragma once
// Runs a program as a user would, for the CLI tests.

#include <string>
#include <vector>

namespace xfer::testing {

/// What a finished program left behind.
struct ProcessResult {
  /// Exit status (128 + signal number when killed by a signal).
  int exit_code = -1;
  /// Everything written to standard output.
  std::string out;
  /// Everything written to standard error.
  std::string err;
};

/// Runs `program` with `arguments` (no shell), waits for it and captures both streams.
ProcessResult run_process(const std::string& program, const std::vector<std::string>& arguments);

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0), for a
/// rendezvous a test starts.
int free_local_port();

/// Runs the built `xfer` with `arguments`.
ProcessResult run_xfer(const std::vector<std::string>& arguments);

}  // namespace xfer::testing
