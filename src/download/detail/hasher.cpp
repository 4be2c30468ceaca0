#include "detail/hasher.h"

#include "xfer/core/error.h"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace xfer::download::detail {

struct Hasher::Context {
  EVP_MD_CTX* md = nullptr;
  ~Context() { EVP_MD_CTX_free(md); }
};

Hasher::Hasher(Algorithm algorithm) : context_(std::make_unique<Context>()) {
  context_->md = EVP_MD_CTX_new();
  const EVP_MD* type = algorithm == Algorithm::kSha256 ? EVP_sha256() : EVP_md5();
  if (context_->md == nullptr || EVP_DigestInit_ex(context_->md, type, nullptr) != 1) {
    throw IoError(std::string("download: OpenSSL cannot compute ") +
                  (algorithm == Algorithm::kSha256 ? "SHA-256" : "MD5"));
  }
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(context_->md, data, size);
}

std::string Hasher::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(context_->md, digest.data(), &size);
  static const char* const kDigits = "0123456789abcdef";
  std::string text;
  text.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    text += kDigits[digest[i] >> 4];
    text += kDigits[digest[i] & 15];
  }
  return text;
}

std::string hash_file(const std::filesystem::path& file, Algorithm algorithm) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw IoError(file.string() + ": cannot open for reading: " + std::strerror(errno));
  }
  Hasher hasher(algorithm);
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    hasher.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw IoError(file.string() + ": read failed: " + std::strerror(errno));
  return hasher.hex();
}

}  // namespace xfer::download::detail
