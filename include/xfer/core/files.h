#pragma once
// Writing a file so that it appears whole or not at all, and reading one whole: for weights,
// checkpoints, run files and pictures alike.

#include <filesystem>
#include <string_view>

namespace xfer {

/// Writes `content` to a temporary file in `file`'s directory, fsyncs it and renames it over
/// `file`; on any failure the temporary is removed and `file` is left as it was.
/// Throws IoError naming the file and the system's reason.
void write_file_atomically(const std::filesystem::path& file, std::string_view content);

/// The whole content of `file`. Throws IoError naming the file and the system's reason.
std::string read_file(const std::filesystem::path& file);

}  // namespace xfer
