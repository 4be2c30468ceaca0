#include "xfer/core/files.h"

#include "xfer/core/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace xfer {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what, int err) {
  throw IoError("cannot write '" + file.string() + "': " + what + ": " + std::strerror(err));
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view content) {
  std::filesystem::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  std::string pattern = (dir / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) fail(file, "creating a temporary in '" + dir.string() + "'", errno);
  auto abandon = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    ::unlink(name.data());
    fail(file, what, err);
  };
  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("writing");
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  // mkstemp creates 0600; a weight file is an ordinary user file.
  if (::fchmod(fd, 0644) != 0) abandon("setting permissions");
  if (::fsync(fd) != 0) abandon("syncing");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(name.data());
    fail(file, "closing", err);
  }
  if (::rename(name.data(), file.c_str()) != 0) {
    int err = errno;
    ::unlink(name.data());
    fail(file, "renaming the temporary into place", err);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    // Makes the rename durable; a failure here cannot undo the complete file already in place.
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError("cannot open '" + file.string() + "': " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) throw IoError("cannot read '" + file.string() + "': not a regular file");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (in.gcount() != size) {
    throw IoError("cannot read '" + file.string() + "': expected " + std::to_string(size) +
                  " bytes, got " + std::to_string(in.gcount()));
  }
  return bytes;
}

}  // namespace xfer
