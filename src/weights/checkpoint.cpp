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
  if (detail::looks_like_zip(bytes) || (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == 0x80)) {
    return read_pth_bytes(bytes, origin);
  }
  if (looks_like_safetensors(bytes)) return read_safetensors_bytes(bytes, origin);
  throw FormatError(origin + ": byte 0: unknown weight format (expected a zip or legacy .pth "
                    "from torch.save, or safetensors)");
}

Checkpoint read_checkpoint(const std::filesystem::path& file) {
  return read_checkpoint_bytes(read_file(file), file.string());
}

StateDict read_state_dict(const std::filesystem::path& file) {
  return read_checkpoint(file).tensors;
}

}  // namespace xfer::weights
