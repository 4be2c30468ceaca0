#pragma once
// `xfer eval`: a finished run's best model on a split of its data (or of another dataset).

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer eval` on `app`.
void add_eval_command(CLI::App& app);

}  // namespace xfer::cli
