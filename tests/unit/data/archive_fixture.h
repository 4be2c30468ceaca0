#pragma once
// Gzipped tar archives written at test time with libarchive, for the dataset download tests.

#include <filesystem>
#include <string>
#include <vector>

namespace xfer::testing {

/// One entry of a tar archive.
struct TarEntry {
  /// What the entry is.
  enum class Kind { kFile, kDirectory, kSymlink, kHardlink };
  /// The path stored in the archive, as given (may be absolute or hold "..": tests need both).
  std::string path;
  /// The bytes of a file.
  std::string content;
  /// The kind of entry.
  Kind kind = Kind::kFile;
  /// What a link points to.
  std::string target;
};

/// Writes `entries`, in order, as a gzipped tar (pax) archive to `file`.
void write_tar_gz(const std::filesystem::path& file, const std::vector<TarEntry>& entries);

/// The folder entry `prefix` and then every regular file under `dir`, sorted, as a file entry
/// named `prefix/<path relative to dir>`: the layout of the official CIFAR archives.
std::vector<TarEntry> tar_entries_of(const std::filesystem::path& dir, const std::string& prefix);

}  // namespace xfer::testing
