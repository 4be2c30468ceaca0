#pragma once
// Options shared by every command that runs a model, and the helpers that apply them.

#include "xfer/core/runtime.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace xfer::cli {

/// --threads, --precision, --device as the user gave them.
struct RuntimeOptions {
  /// 0 = every hardware thread.
  int threads = 0;
  /// "fp32" or "bf16".
  std::string precision = "fp32";
  /// "auto", "cpu", "cuda", "cuda:N".
  std::string device = "auto";
};

/// Adds --threads to `command` (every command has it).
void add_threads_option(CLI::App& command, RuntimeOptions& options);

/// Adds --threads, --precision and --device to `command` (commands that run a model).
void add_runtime_options(CLI::App& command, RuntimeOptions& options);

/// The runtime settings in force after applying `options`: threads set, precision and device
/// parsed. Throws InvalidArgument for a bad value.
struct Runtime {
  /// Intra-op threads in force.
  int threads = 1;
  /// Parsed --precision.
  Precision precision = Precision::kFloat32;
  /// Parsed --device.
  c10::Device device{c10::kCPU};
};

/// Applies `options` to the process (threads) and parses the rest.
Runtime apply(const RuntimeOptions& options);

/// Thrown by a command to end xfer with `code` when what went wrong is already printed (the
/// workers of `xfer train --nproc` print their own errors); main() returns it.
struct ExitStatus {
  /// The process's exit status.
  int code = 1;
};

/// `bytes` as "12.3 MB" (decimal megabytes, one digit after the point).
std::string megabytes(std::uint64_t bytes);

/// Draws download progress on stderr: a bar redrawn in place when stderr is a terminal, else a
/// plain line at every tenth of the file (every 10 MB when the size is unknown), for logs and CI.
/// Give report() to download::fetch as its progress callback.
class ProgressPrinter {
 public:
  /// A printer for the download of `label` (a file name); nothing is printed until bytes arrive.
  explicit ProgressPrinter(std::string label);
  ProgressPrinter(const ProgressPrinter&) = delete;
  ProgressPrinter& operator=(const ProgressPrinter&) = delete;
  /// Ends the bar's line, also when the transfer failed (the error message follows on stderr).
  ~ProgressPrinter();

  /// Shows that `done` of `total` bytes (0: unknown) have arrived.
  void report(std::uint64_t done, std::uint64_t total);

 private:
  void draw_bar(std::uint64_t done, std::uint64_t total);
  void print_step(std::uint64_t done, std::uint64_t total);

  std::string label_;
  bool terminal_;
  bool started_ = false;
  bool printed_ = false;
  std::uint64_t printed_step_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace xfer::cli
