#pragma once
// Checksums of files, as the downloader checks them: SHA-256 for weights, MD5 for the dataset
// archives whose publishers give only that.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace xfer::download {

namespace detail {
class Hasher;
}

/// SHA-256 of bytes fed in any number of pieces: identities of weights and data for caches.
class Sha256 {
 public:
  /// A digest with nothing fed yet. Throws IoError when OpenSSL cannot set it up.
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  /// Feeds `size` bytes at `data`.
  void update(const void* data, std::size_t size);
  /// Feeds the bytes of `text`.
  void update(const std::string& text) { update(text.data(), text.size()); }
  /// The digest of everything fed, 64 lowercase hex digits. Call it once, after the last update.
  std::string hex();

 private:
  std::unique_ptr<detail::Hasher> hasher_;
};

/// SHA-256 of the whole content of `file`, 64 lowercase hex digits. Throws IoError naming the
/// file and the system's reason when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

/// MD5 of the whole content of `file`, 32 lowercase hex digits. Throws IoError naming the file
/// and the system's reason when it cannot be read.
std::string md5_file(const std::filesystem::path& file);

}  // namespace xfer::download
