#pragma once
// `xfer maps`: feature maps of named layers of a model for one image, one PNG per layer.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer maps` on `app`.
void add_maps_command(CLI::App& app);

}  // namespace xfer::cli
