#pragma once
// `xfer classify`: the top-k classes of images under a model with pretrained weights.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer classify` on `app`.
void add_classify_command(CLI::App& app);

}  // namespace xfer::cli
