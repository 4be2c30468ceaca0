#pragma once
// A reader for the zip archives torch.save writes: entries stored uncompressed, optionally with
// zip64 records. Everything is bounds-checked against the buffer; every CRC-32 is verified.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xfer::weights::detail {

/// One entry: its name and where its bytes lie in the archive buffer (still compressed when
/// `method` is not 0).
struct ZipEntry {
  std::string name;
  size_t offset = 0;
  size_t size = 0;
  /// The zip compression method: 0 = stored, as torch.save writes every entry.
  uint16_t method = 0;
};

/// Whether `bytes` starts like a zip archive (a local file header).
bool looks_like_zip(const std::string& bytes);

/// The entries of the archive in `bytes`, in central-directory order. Throws FormatError
/// "<origin>: byte N: ..." for a truncated or malformed archive, an encrypted entry, or a CRC-32
/// mismatch of a stored entry. Compressed entries are listed (their CRC is not checked): a
/// reader refuses them when it needs their content.
std::vector<ZipEntry> read_zip_entries(const std::string& bytes, const std::string& origin);

}  // namespace xfer::weights::detail
