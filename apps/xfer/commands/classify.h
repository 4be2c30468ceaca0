#pragma once
// `xfer predict` and `xfer classify`: the top-k classes of image files, under a run's best model
// or under a zoo model with pretrained weights (both through xfer::Classifier).

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer predict` on `app`.
void add_predict_command(CLI::App& app);

/// Registers `xfer classify` on `app`.
void add_classify_command(CLI::App& app);

}  // namespace xfer::cli
