#pragma once
// `xfer forward`: a forward pass of every model (or the ones named) on a random batch.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer forward` on `app`.
void add_forward_command(CLI::App& app);

}  // namespace xfer::cli
