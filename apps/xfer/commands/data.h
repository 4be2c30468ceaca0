#pragma once
// `xfer data inspect SPEC`: classes, counts per split and class, image sizes, bad files.
// `xfer data download SPEC`: the official CIFAR archive, fetched and extracted into DIR.

#include "xfer/data/download.h"
#include "xfer/data/spec.h"

#include <CLI/CLI.hpp>

#include <string>

namespace xfer::cli {

/// Registers the `xfer data` command group on `app`.
void add_data_command(CLI::App& app);

/// data::ensure_dataset(spec) with a download progress bar on stderr, and a line saying where it
/// extracted the archive (nothing is printed when the files were there); `url` (may be empty) is
/// the --data-url mirror of the archive. For every command with a --download flag. Throws as
/// data::ensure_dataset.
data::InstalledDataset download_dataset(const data::DatasetSpec& spec, const std::string& url);

}  // namespace xfer::cli
