#pragma once
// Reading weight files: PyTorch checkpoints (zip and legacy `torch.save` formats) and safetensors,
// sniffed by content. Loading never executes code from the file: pickles go through xfer's own
// restricted unpickler, which only rebuilds tensors and plain containers (docs/weights.md).

#include <torch/ordered_dict.h>
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace xfer::weights {

/// Ordered name → tensor, in file order (a PyTorch `state_dict`). Tensors read from one file may
/// share storage (views with offsets and strides), exactly as they did when saved.
using StateDict = torch::OrderedDict<std::string, torch::Tensor>;

/// A whole weight file: its tensors plus what else the file holds.
struct Checkpoint {
  /// The state_dict: from a top-level `'state_dict'` or `'model'` entry when there is one, else
  /// the top-level dict itself; a `module.` prefix carried by every key (DataParallel) is removed.
  StateDict tensors;
  /// How the file was written: "pth-zip", "pth-legacy" or "safetensors".
  std::string format;
  /// The non-tensor entries (epoch, best_prec1, optimizer, ...), name → Python-like printable
  /// value, in file order.
  std::vector<std::pair<std::string, std::string>> extras;
  /// The safetensors `__metadata__` map; empty for other formats.
  std::map<std::string, std::string> metadata;
};

/// Reads a weight file of any supported format, recognised by its first bytes (not its name).
/// Throws IoError when the file cannot be read and FormatError (naming the file and the byte
/// offset) when its content is truncated, malformed, of an unknown format, or refers to a Python
/// global other than the tensor rebuilders, storage types and collections.OrderedDict.
Checkpoint read_checkpoint(const std::filesystem::path& file);

/// As read_checkpoint, on a file's content already in memory; `origin` names it in messages.
/// Never crashes on arbitrary bytes: every length is bounded before use (fuzzing entry point).
/// Throws FormatError.
Checkpoint read_checkpoint_bytes(const std::string& bytes, const std::string& origin);

/// read_checkpoint(file).tensors. Throws as read_checkpoint.
StateDict read_state_dict(const std::filesystem::path& file);

}  // namespace xfer::weights
