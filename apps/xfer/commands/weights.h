#pragma once
// `xfer weights fetch|inspect|convert`: the registry's pretrained files into the cache, what a
// weight file holds, and conversion between the formats xfer writes.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer weights` and its three subcommands on `app`.
void add_weights_command(CLI::App& app);

}  // namespace xfer::cli
