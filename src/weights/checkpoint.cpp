#include "xfer/weights/checkpoint.h"

#include "xfer/core/files.h"
#include "detail/zip_archive.h"
#include "xfer/core/error.h"
#include "xfer/weights/pth.h"
#include "xfer/weights/safetensors.h"

namespace xfer::weights {
namespace {

// A safetensors file opens with its header length and then the header's '{'.
bool looks_like_safetensors(const std::string& bytes) {
  if (bytes.size() < 9 || bytes[8] != '{') return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  return n <= bytes.size() - 8;
}

}  // namespace

Checkpoint read_checkpoint_bytes(const std::string& bytes, const std::string& origin) {
  // Safetensors before the pickle: one file in 256 has a header length whose first byte is 0x80,
  // a pickle's PROTO opcode; a pickle's next bytes are opcodes, which make a length far past the
  // file, so no pickle passes for safetensors.
  if (!detail::looks_like_zip(bytes) && looks_like_safetensors(bytes)) {
    return read_safetensors_bytes(bytes, origin);
  }
  const bool tar = bytes.size() >= 512 && bytes.compare(257, 5, "ustar") == 0;  // torch < 0.1.10
  if (detail::looks_like_zip(bytes) || (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == 0x80) ||
      tar) {
    return read_pth_bytes(bytes, origin);
  }
  throw FormatError(origin + ": byte 0: unknown weight format (expected a zip or legacy .pth "
                    "from torch.save, or safetensors)");
}

Checkpoint read_checkpoint(const std::filesystem::path& file) {
  return read_checkpoint_bytes(read_file(file), file.string());
}

std::string dtype_name(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat64: return "float64";
    case torch::kInt64: return "int64";
    case torch::kInt32: return "int32";
    case torch::kInt16: return "int16";
    case torch::kInt8: return "int8";
    case torch::kUInt8: return "uint8";
    case torch::kBool: return "bool";
    default: return c10::toString(dtype);
  }
}

StateDict read_state_dict(const std::filesystem::path& file) {
  return read_checkpoint(file).tensors;
}

}  // namespace xfer::weights
