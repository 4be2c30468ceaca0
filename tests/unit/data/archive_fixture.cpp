#include "archive_fixture.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace xfer::testing {

void write_tar_gz(const std::filesystem::path& file, const std::vector<TarEntry>& entries) {
  std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(),
                                                                 archive_write_free);
  archive* a = writer.get();
  const auto check = [&](int status, const char* what) {
    if (status < ARCHIVE_WARN) {
      throw std::runtime_error(std::string("write_tar_gz: ") + what + ": " +
                               archive_error_string(a));
    }
  };
  check(archive_write_add_filter_gzip(a), "gzip");
  check(archive_write_set_format_pax_restricted(a), "pax");
  check(archive_write_open_filename(a, file.c_str()), file.c_str());
  for (const auto& item : entries) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                        archive_entry_free);
    archive_entry_set_pathname(entry.get(), item.path.c_str());
    archive_entry_set_mtime(entry.get(), 1'300'000'000, 0);
    switch (item.kind) {
      case TarEntry::Kind::kFile:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), 0644);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(item.content.size()));
        break;
      case TarEntry::Kind::kDirectory:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        archive_entry_set_perm(entry.get(), 0755);
        break;
      case TarEntry::Kind::kSymlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_set_perm(entry.get(), 0777);
        archive_entry_set_symlink(entry.get(), item.target.c_str());
        break;
      case TarEntry::Kind::kHardlink:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), 0644);
        archive_entry_set_hardlink(entry.get(), item.target.c_str());
        break;
    }
    check(archive_write_header(a, entry.get()), item.path.c_str());
    if (item.kind == TarEntry::Kind::kFile && !item.content.empty()) {
      if (archive_write_data(a, item.content.data(), item.content.size()) !=
          static_cast<la_ssize_t>(item.content.size())) {
        check(ARCHIVE_FATAL, item.path.c_str());
      }
    }
  }
  check(archive_write_close(a), "close");
}

std::vector<TarEntry> tar_entries_of(const std::filesystem::path& dir, const std::string& prefix) {
  std::vector<std::filesystem::path> files;
  for (const auto& item : std::filesystem::recursive_directory_iterator(dir)) {
    if (item.is_regular_file()) files.push_back(item.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<TarEntry> entries{{prefix + "/", "", TarEntry::Kind::kDirectory, ""}};
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    entries.push_back({prefix + "/" + std::filesystem::relative(file, dir).string(), content.str(),
                       TarEntry::Kind::kFile, ""});
  }
  return entries;
}

}  // namespace xfer::testing
