#pragma once
// Options shared by every command that runs a model, and the helpers that apply them.

#include "xfer/core/runtime.h"

#include <CLI/CLI.hpp>

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

}  // namespace xfer::cli
