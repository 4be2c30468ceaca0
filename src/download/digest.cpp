#include "xfer/download/digest.h"

#include "detail/hasher.h"

namespace xfer::download {

Sha256::Sha256() : hasher_(std::make_unique<detail::Hasher>(detail::Algorithm::kSha256)) {}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) { hasher_->update(data, size); }

std::string Sha256::hex() { return hasher_->hex(); }

std::string sha256_file(const std::filesystem::path& file) {
  return detail::hash_file(file, detail::Algorithm::kSha256);
}

std::string md5_file(const std::filesystem::path& file) {
  return detail::hash_file(file, detail::Algorithm::kMd5);
}

}  // namespace xfer::download
