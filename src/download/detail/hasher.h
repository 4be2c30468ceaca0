#pragma once
// An incremental digest over OpenSSL's EVP interface, so that a download is hashed while it is
// written instead of being read back.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace xfer::download::detail {

/// The digests the downloader checks.
enum class Algorithm { kSha256, kMd5 };

/// Hashes bytes fed in any number of pieces.
class Hasher {
 public:
  /// A hasher with nothing fed yet. Throws IoError when OpenSSL cannot set up `algorithm`.
  explicit Hasher(Algorithm algorithm);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  /// Feeds `size` bytes at `data`.
  void update(const void* data, std::size_t size);

  /// The digest of everything fed, in lowercase hex. Call it once, after the last update.
  std::string hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

/// The digest of the whole content of `file` in lowercase hex. Throws IoError naming the file.
std::string hash_file(const std::filesystem::path& file, Algorithm algorithm);

}  // namespace xfer::download::detail
