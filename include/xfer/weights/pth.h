#pragma once
// PyTorch `.pth` files: the zip format of torch >= 1.6 and the legacy format before it.

#include "xfer/weights/checkpoint.h"

#include <filesystem>
#include <string>

namespace xfer::weights {

/// Parses a `.pth` file held in memory, zip or legacy format ("pth-zip" / "pth-legacy" in the
/// result's format). `origin` names the file in messages. Throws FormatError naming `origin`, the
/// part (e.g. `archive/data.pkl`) and the byte offset of the first problem found.
Checkpoint read_pth_bytes(const std::string& bytes, const std::string& origin);

/// Writes `tensors` as a zip-format `.pth` holding a `collections.OrderedDict`, which Python's
/// `torch.load(file, weights_only=True)` reads and `model.load_state_dict` accepts. Each tensor is
/// saved contiguous in its own storage, on the CPU, with its dtype (float32, float16, bfloat16,
/// float64, int64, int32, int16, int8, uint8, bool). The file appears whole or not at all.
/// Throws InvalidArgument for an undefined tensor or another dtype, IoError when writing fails.
void write_pth(const std::filesystem::path& file, const StateDict& tensors);

}  // namespace xfer::weights
