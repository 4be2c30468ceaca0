#pragma once
// `xfer models`: the zoo as a table.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer models` on `app`.
void add_models_command(CLI::App& app);

}  // namespace xfer::cli
