#pragma once
// Small file helpers shared by the dataset readers.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::data::detail {

/// The bytes of `file`. Throws IoError naming `origin` and the file when it cannot be read.
std::vector<uint8_t> read_bytes(const std::filesystem::path& file, const std::string& origin);

}  // namespace xfer::data::detail
