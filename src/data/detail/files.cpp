#include "detail/files.h"

#include "xfer/core/error.h"

#include <fstream>

namespace xfer::data::detail {

std::vector<uint8_t> read_bytes(const std::filesystem::path& file, const std::string& origin) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(origin + ": cannot open " + file.string());
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(size);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    throw IoError(origin + ": read failed after " + std::to_string(in.gcount()) + " of " +
                  std::to_string(size) + " bytes of " + file.string());
  }
  return bytes;
}

std::vector<std::string> read_names(const std::filesystem::path& file, const std::string& origin) {
  std::ifstream in(file);
  if (!in) throw IoError(origin + ": cannot open " + file.string());
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r\n");
    names.push_back(line.substr(first, last - first + 1));
  }
  return names;
}

}  // namespace xfer::data::detail
