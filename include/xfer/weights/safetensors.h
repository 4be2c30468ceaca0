#pragma once
// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header of name → {dtype, shape, data_offsets} plus an optional
// `__metadata__` string map, then one block of raw little-endian tensor data.

#include "xfer/weights/checkpoint.h"

#include <filesystem>
#include <map>
#include <string>

namespace xfer::weights {

/// Parses a safetensors file held in memory (dtypes F32, F16, BF16, F64, I64, I32, I16, I8, U8,
/// BOOL, and U16, U32, U64 held as int16, int32, int64 with Checkpoint::file_dtypes naming them),
/// tensors in the order of their data in the file (empty tensors at one offset by name).
/// Offsets must lie in the data block, match shape × dtype size and tile it without overlap or
/// gap. A `__metadata__` entry "xfer.quantized" (written by convert_checkpoint) gives back the
/// quantization of the tensors it names. Throws FormatError naming `origin` and the byte offset.
Checkpoint read_safetensors_bytes(const std::string& bytes, const std::string& origin);

/// Writes `tensors` (any strides, any device; saved contiguous) with `metadata` as
/// `__metadata__`, their data in the order given (which read_safetensors_bytes returns). A tensor
/// that `file_dtypes` names "uint16", "uint32" or "uint64" (and that holds those bits as int16,
/// int32, int64) is written as U16, U32, U64. The file appears whole or not at all. Throws
/// InvalidArgument for an undefined tensor, an unsupported dtype or the reserved name
/// `__metadata__`; IoError when writing fails.
void write_safetensors(const std::filesystem::path& file, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       const std::map<std::string, std::string>& file_dtypes = {});

}  // namespace xfer::weights
