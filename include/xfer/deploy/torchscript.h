#pragma once
// A classifier as a TorchScript file that Python's torch.jit.load and LibTorch's torch::jit::load
// run: the forward pass traced by LibTorch's tracer (the same graph the ONNX export converts),
// kept as TorchScript, with the weights as its constants.

#include "xfer/models/classifier.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace xfer::deploy {

/// How a classifier is written as TorchScript.
struct TorchScriptOptions {
  /// Side of the square input [N, 3, size, size] float32 it was traced at (the batch may vary;
  /// other sizes run only where every layer allows them).
  int64_t input_size = 224;
  /// Extra files stored beside the code (torch.jit.load's _extra_files): name → content.
  std::map<std::string, std::string> extra_files;
};

/// Writes `model` at `file`, atomically, as a TorchScript module `xfer.Classifier` whose
/// forward(input) returns the logits [N, classes]. The model is traced as write_onnx traces it
/// (eval mode, restored afterwards). Throws IoError when the file cannot be written.
void write_torchscript(models::ClassifierImpl& model, const TorchScriptOptions& options,
                       const std::filesystem::path& file);

}  // namespace xfer::deploy
