#pragma once
// Writing a Checkpoint in another format: every tensor under its key path, or only the model's
// weights, with what the target format cannot hold reported rather than dropped in silence.

#include "xfer/weights/checkpoint.h"

#include <torch/arg.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace xfer::weights {

/// How convert_checkpoint chooses what to write.
struct ConvertOptions {
  /// Write only Checkpoint::tensors (the model's weights, unwrapped, under their load_into keys)
  /// instead of Checkpoint::all_tensors (everything, under its key path in the file).
  TORCH_ARG(bool, model_only) = false;
};

/// What convert_checkpoint wrote and what it did not carry.
struct ConvertReport {
  /// "safetensors" or "pth".
  std::string format;
  /// Tensors written, per-channel quantization parameters included.
  size_t written = 0;
  /// The paths of Checkpoint::extras: values that are not tensors, which weight files cannot hold.
  std::vector<std::string> not_tensors;
  /// With model_only: the keys of all_tensors that are not the model's weights.
  std::vector<std::string> outside_weights;
  /// Tensors written in the dtype that holds their bits because the output cannot name theirs,
  /// key → dtype in the input ("qint8": its scale and zero point are lost; "uint16", ...). Only
  /// for .pth outputs: .safetensors keeps both.
  std::vector<std::pair<std::string, std::string>> without_their_dtype;
  /// Quantized tensors written as their integer representation with their quantization in
  /// `__metadata__["xfer.quantized"]` (.safetensors outputs).
  std::vector<std::string> quantized;
  /// Keys of the input's safetensors `__metadata__` that a .pth output cannot hold.
  std::vector<std::string> metadata_not_carried;
};

/// Writes `checkpoint` to `file`; the extension chooses the format. ".safetensors": the tensors,
/// the input's `__metadata__`, unsigned dtypes as U16/U32/U64, and each quantized tensor as its
/// integer representation with its quantization in `__metadata__["xfer.quantized"]` (JSON; the
/// per-channel scales and zero points as tensors `<key>.q_scales`, `<key>.q_zero_points`), which
/// read_checkpoint gives back. ".pth": write_pth, which holds tensors only. The file appears whole
/// or not at all. Throws InvalidArgument for another extension or when there is no tensor to
/// write (naming what the file holds instead), IoError when writing fails.
ConvertReport convert_checkpoint(const Checkpoint& checkpoint, const std::filesystem::path& file,
                                 const ConvertOptions& options = {});

}  // namespace xfer::weights
