#pragma once
// `xfer data inspect SPEC`: classes, counts per split and class, image sizes, bad files.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers the `xfer data` command group on `app`.
void add_data_command(CLI::App& app);

}  // namespace xfer::cli
