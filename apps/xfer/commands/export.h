#pragma once
// `xfer export`: a trained run's best model (or a zoo model with pretrained weights) as an ONNX
// file that ONNX Runtime, OpenCV DNN and other runtimes run, or as TorchScript.

#include <CLI/CLI.hpp>

namespace xfer::cli {

/// Registers `xfer export` on `app`.
void add_export_command(CLI::App& app);

}  // namespace xfer::cli
