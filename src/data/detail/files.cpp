#include "detail/files.h"

#include "xfer/core/error.h"

#include <fstream>

namespace xfer::data::detail {

std::vector<uint8_t> read_bytes(const std::filesystem::path& file, const std::string& origin) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(origin + ": cannot open " + file.string());
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(size);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    throw IoError(origin + ": read failed after " + std::to_string(in.gcount()) + " of " +
                  std::to_string(size) + " bytes of " + file.string());
  }
  return bytes;
}

}  // namespace xfer::data::detail
