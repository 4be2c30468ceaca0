#pragma once
// `xfer eval` and `xfer predict`: a finished run's best model on a split, or on image files.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer eval` on `app`.
void add_eval_command(CLI::App& app);

/// Registers `xfer predict` on `app`.
void add_predict_command(CLI::App& app);

}  // namespace xfer::cli
