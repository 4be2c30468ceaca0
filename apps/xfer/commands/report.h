#pragma once
// `xfer report RUN`: the pictures of a run directory drawn from its files, then report.html.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer report` on `app`.
void add_report_command(CLI::App& app);

}  // namespace xfer::cli
