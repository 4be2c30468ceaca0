#pragma once
// Reading weight files: PyTorch checkpoints (zip and legacy `torch.save` formats) and safetensors,
// sniffed by content. Loading never executes code from the file: pickles go through xfer's own
// restricted unpickler, which only rebuilds tensors and plain containers (docs/weights.md).

// types.h first: LibTorch 1.13's ordered_dict.h uses TORCH_CHECK without including it, so it
// compiles only after a header that does (without the precompiled headers, XFER_PCH=OFF).
#include <torch/types.h>
#include <torch/ordered_dict.h>

#include <filesystem>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace xfer::weights {

/// Ordered name → tensor, in file order (a PyTorch `state_dict`). Tensors read from one file may
/// share storage (views with offsets and strides), exactly as they did when saved.
using StateDict = torch::OrderedDict<std::string, torch::Tensor>;

/// How torch saved a quantized tensor (`_rebuild_qtensor`). xfer gives the tensor as its integer
/// representation (torch's `int_repr()`: int8 for qint8, uint8 for quint8, int32 for qint32, same
/// shape and strides); its real value is (q - zero_point) * scale, per tensor or per channel.
struct Quantization {
  /// "per_tensor_affine", "per_channel_affine" or "per_channel_affine_float_qparams".
  std::string scheme;
  /// per_tensor_affine: the scale and zero point.
  double scale = 0.0;
  int64_t zero_point = 0;
  /// per_channel_*: one scale ([C] float64, or float32 for _float_qparams) and one zero point
  /// ([C] int64 or float32) per index of dimension `axis`.
  torch::Tensor scales;
  torch::Tensor zero_points;
  int64_t axis = 0;
};

/// A whole weight file: every tensor it holds, the model's weights among them, and what else the
/// file holds.
struct Checkpoint {
  /// The model's weights, ready for load_into: the tensors of `all_tensors` under
  /// `weights_prefix`, with that prefix removed. The prefix is the first of the entries
  /// `state_dict`, `model_state_dict`, `model`, `net` that holds tensors, plus `model.` for a
  /// PyTorch Lightning checkpoint whose every weight lies under it, plus `module.` when every key
  /// carries it (DataParallel). With none of those entries, the whole file except the entries
  /// named `optim*` or `*scheduler*` that are containers (optimizer and scheduler state).
  /// safetensors files have no entries: all their tensors, unless convert_checkpoint wrote where
  /// the weights lie in `__metadata__["xfer.weights"]`.
  StateDict tensors;
  /// What was removed from the keys of `all_tensors` to give those of `tensors`, e.g.
  /// "net.module." or "state_dict."; empty when nothing was.
  std::string weights_prefix;
  /// The top-level entries left out of `tensors` as training state ("optimizer", "scheduler")
  /// when the file has no weights entry.
  std::vector<std::string> training_state;
  /// Every tensor of the file, in file order, keyed by its path from the top: dict keys, list and
  /// tuple indices and object attributes joined with '.' ("optimizer.state.0.exp_avg"), as
  /// Python's keys print them; a pickled nn.Module contributes its state_dict() keys. numpy
  /// arrays are tensors here too. Tensors that shared a storage still share it.
  StateDict all_tensors;
  /// The dtype of a tensor of `all_tensors` as the file names it, where the tensor holds the same
  /// bits in another dtype because LibTorch 1.13 has none of that name: "qint8", "quint8",
  /// "qint32" (quantized, see `quantized`), "uint16", "uint32", "uint64" (held as int16, int32,
  /// int64). Keyed like all_tensors; absent for every other tensor.
  std::map<std::string, std::string> file_dtypes;
  /// The quantization of each quantized tensor of `all_tensors`, keyed like it.
  std::map<std::string, Quantization> quantized;
  /// Keys of `all_tensors` that were numpy arrays in the pickle.
  std::vector<std::string> numpy_arrays;
  /// How the file was written: "pth-zip", "pth-legacy" or "safetensors".
  std::string format;
  /// Everything else the file holds, leaf by leaf, path → Python-like printable value (at most
  /// about 200 characters), in file order: numbers, strings, None, containers that hold no
  /// tensor (one entry each: "optimizer.param_groups" = "[{'lr': 0.1, ...}]"), argparse
  /// Namespaces without tensors, torch.device and dtype values. These are not carried by
  /// conversions.
  std::vector<std::pair<std::string, std::string>> extras;
  /// The safetensors `__metadata__` map; empty for other formats.
  std::map<std::string, std::string> metadata;
};

/// Reads a weight file of any supported format, recognised by its first bytes (not its name).
/// Throws IoError when the file cannot be read and FormatError (naming the file and the byte
/// offset) when its content is truncated, malformed, of an unknown format, a TorchScript archive,
/// or refers to a Python global outside the few xfer interprets (docs/weights.md): "refused: the
/// pickle needs global 'utils.Vocab', which is not a tensor type (a user class: ...)".
Checkpoint read_checkpoint(const std::filesystem::path& file);

/// As read_checkpoint, on a file's content already in memory; `origin` names it in messages.
/// Never crashes on arbitrary bytes: every length is bounded before use (fuzzing entry point).
/// Throws FormatError.
Checkpoint read_checkpoint_bytes(const std::string& bytes, const std::string& origin);

/// torch's name of a dtype without "torch.": "float32", "float16", "bfloat16", "float64",
/// "int64", "int32", "int16", "int8", "uint8", "bool" (others as LibTorch prints them).
std::string dtype_name(torch::ScalarType dtype);

/// read_checkpoint(file).tensors. Throws as read_checkpoint.
StateDict read_state_dict(const std::filesystem::path& file);

}  // namespace xfer::weights
