#pragma once
// `xfer demo`: the main job, offline — a multi-stage transfer on Fashion-MNIST.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer demo` on `app`.
void add_demo_command(CLI::App& app);

}  // namespace xfer::cli
