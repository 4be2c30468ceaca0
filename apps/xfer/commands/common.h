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
  /// "auto", "fp32" or "bf16" (train::spellings<train::PrecisionChoice>).
  std::string precision = "fp32";
  /// "auto", "cpu", "cuda", "cuda:N".
  std::string device = "auto";
  /// --no-fuse: the frozen backbone's eager pass instead of its folded graph.
  bool no_fuse = false;
};

/// A check of an integer option: at least `minimum`. Its message names what was expected and
/// what was given ("expected an integer of at least 1, got 0"), where CLI11's PositiveNumber
/// prints a 300-digit range.
CLI::Validator at_least(int64_t minimum);

/// Adds --tta none|flip|five-crop|ten-crop (test-time augmentation) to `command`, bound to
/// `tta`.
void add_tta_option(CLI::App& command, std::string& tta);

/// The views a --tta value averages over.
struct TtaViews {
  /// Each view and its mirror (flip, ten-crop).
  bool flip = false;
  /// torchvision's FiveCrop of the resized image (five-crop, ten-crop).
  bool five_crop = false;
};

/// The views of `tta`, a value add_tta_option accepted.
TtaViews tta_views(const std::string& tta);

/// Adds --threads to `command` (every command has it).
void add_threads_option(CLI::App& command, RuntimeOptions& options);

/// Adds --threads, --precision and --device to `command` (commands that run a model, and
/// `xfer train`, which copies them into its config), with `options`' values as the defaults.
void add_runtime_options(CLI::App& command, RuntimeOptions& options);

/// Prints "note: MESSAGE" on stderr: what the library tells once, such as the fused path's
/// fallback to eager.
void print_note(const std::string& message);

/// Adds --no-fuse to `command` (commands that run a frozen backbone), bound to options.no_fuse.
void add_fuse_option(CLI::App& command, RuntimeOptions& options);

/// The runtime settings in force after applying `options`: threads set, precision and device
/// parsed. Throws InvalidArgument for a bad value.
struct Runtime {
  /// Intra-op threads in force.
  int threads = 1;
  /// --precision resolved for the device (`auto`: bf16 where it is native).
  Precision precision = Precision::kFloat32;
  /// Parsed --device.
  c10::Device device{c10::kCPU};
  /// Whether the frozen backbone runs its folded graph (infer::FrozenBackbone), i.e. not --no-fuse.
  bool fuse = true;
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

/// One line of progress on stderr: on a terminal it is redrawn in place, at most ten times a
/// second; elsewhere (logs, CI) the caller prints plain lines at the steps it chooses.
class StatusLine {
 public:
  /// Decides from stderr whether it is a terminal.
  StatusLine();
  /// Ends a line left open.
  ~StatusLine();
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  /// Whether stderr is a terminal (draw), or not (print).
  bool terminal() const { return terminal_; }
  /// On a terminal: shows `text` in place of the line, unless it was drawn less than 100 ms ago
  /// and `last` is false (the final state is always drawn).
  void draw(const std::string& text, bool last);
  /// Prints `text` as a line of its own, first ending a line drawn in place.
  void print(const std::string& text);
  /// Ends a line drawn in place, so that other output starts on a fresh line.
  void end();

 private:
  bool terminal_;
  bool open_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

/// `[####      ]`: a bar of `width` cells, filled for `done` of `total` (empty for total 0).
std::string bar(std::uint64_t done, std::uint64_t total, int width);

/// Draws download progress on stderr: a bar redrawn in place when stderr is a terminal, else a
/// plain line at every tenth of the file (every 10 MB when the size is unknown), for logs and CI.
/// Give report() to download::fetch as its progress callback.
class ProgressPrinter {
 public:
  /// A printer for the download of `label` (a file name); nothing is printed until bytes arrive.
  /// Its line is ended when it is destroyed, also when the transfer failed (the error message
  /// follows on stderr).
  explicit ProgressPrinter(std::string label);

  /// Shows that `done` of `total` bytes (0: unknown) have arrived.
  void report(std::uint64_t done, std::uint64_t total);

 private:
  std::string label_;
  StatusLine line_;
  bool started_ = false;
  bool printed_ = false;
  std::uint64_t printed_step_ = 0;
};

}  // namespace xfer::cli
