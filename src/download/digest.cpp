#include "xfer/download/digest.h"

#include "detail/hasher.h"

namespace xfer::download {

std::string sha256_file(const std::filesystem::path& file) {
  return detail::hash_file(file, detail::Algorithm::kSha256);
}

std::string md5_file(const std::filesystem::path& file) {
  return detail::hash_file(file, detail::Algorithm::kMd5);
}

}  // namespace xfer::download
