#pragma once
// Checksums of files, as the downloader checks them: SHA-256 for weights, MD5 for the dataset
// archives whose publishers give only that.

#include <filesystem>
#include <string>

namespace xfer::download {

/// SHA-256 of the whole content of `file`, 64 lowercase hex digits. Throws IoError naming the
/// file and the system's reason when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

/// MD5 of the whole content of `file`, 32 lowercase hex digits. Throws IoError naming the file
/// and the system's reason when it cannot be read.
std::string md5_file(const std::filesystem::path& file);

}  // namespace xfer::download
