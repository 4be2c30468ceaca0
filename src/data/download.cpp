#include "xfer/data/download.h"

#include "xfer/core/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

namespace xfer::data {
namespace {

constexpr const char* kHaveArchives = "cifar10 and cifar100";

// A single file or folder name: no separator, not "." or "..".
bool is_plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

std::string file_name_of(const std::string& url) {
  const std::string path = url.substr(0, url.find_first_of("?#"));
  return path.substr(path.rfind('/') + 1);
}

void check_description(const DatasetArchive& archive) {
  const std::string where = "dataset archive " + archive.url + ": ";
  if (archive.url.empty()) throw InvalidArgument("dataset archive: expected a URL, got none");
  if (!is_plain_name(archive.folder)) {
    throw InvalidArgument(where + "expected its top folder as a plain name, got '" +
                          archive.folder + "'");
  }
  if (archive.files.empty()) {
    throw InvalidArgument(where + "expected the names of the files it holds, got none");
  }
  for (const auto& file : archive.files) {
    if (!is_plain_name(file)) {
      throw InvalidArgument(where + "expected plain file names, got '" + file + "'");
    }
  }
}

void sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    ::close(fd);
  }
}

// A fresh hidden folder beside the final one; removed with whatever is left in it.
class TemporaryFolder {
 public:
  TemporaryFolder(const std::filesystem::path& dir, const std::string& name) {
    std::string pattern = (dir / ("." + name + ".part-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw IoError("dataset download: cannot create a temporary folder in " + dir.string() + ": " +
                    std::strerror(errno));
    }
    path_ = pattern;
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The entry's path relative to the extraction folder, "." components dropped; throws
// FormatError for an absolute path or a ".." component.
std::filesystem::path safe_relative_path(const std::string& name, const std::string& origin) {
  if (name.empty()) throw FormatError(origin + ": an entry has an empty name");
  if (name.front() == '/') {
    throw FormatError(origin + ": entry '" + name +
                      "' has an absolute path; refused (expected paths inside the archive's "
                      "folder)");
  }
  std::filesystem::path relative;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('/', start), name.size());
    const std::string part = name.substr(start, end - start);
    if (part == "..") {
      throw FormatError(origin + ": entry '" + name +
                        "' has a '..' component, which would write outside the folder; refused");
    }
    if (!part.empty() && part != ".") relative /= part;
    start = end + 1;
  }
  return relative;
}

std::string kind_of(mode_t type) {
  switch (type) {
    case AE_IFLNK:
      return "a symbolic link";
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a FIFO";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "an entry of unknown type";
  }
}

// An open file descriptor, closed at the end of the scope.
struct Descriptor {
  explicit Descriptor(int opened) : fd(opened) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
};

// Copies the current entry's data to a new file `target`, synced to disk.
void write_entry(archive* reader, const std::filesystem::path& target, const std::string& name,
                 const std::string& origin) {
  const Descriptor out(
      ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (out.fd < 0) {
    throw IoError(origin + ": cannot create " + target.string() + ": " + std::strerror(errno));
  }
  std::vector<char> buffer(1 << 16);
  while (true) {
    const la_ssize_t got = archive_read_data(reader, buffer.data(), buffer.size());
    if (got == 0) break;
    if (got < 0) {
      throw FormatError(origin + ": entry '" + name +
                        "' does not read: " + archive_error_string(reader));
    }
    for (la_ssize_t written = 0; written < got;) {
      const ssize_t n =
          ::write(out.fd, buffer.data() + written, static_cast<size_t>(got - written));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw IoError(origin + ": cannot write " + target.string() + ": " + std::strerror(errno));
      }
      written += n;
    }
  }
  if (fsync(out.fd) != 0) {
    throw IoError(origin + ": cannot write " + target.string() + ": " + std::strerror(errno));
  }
}

// Extracts every entry of the gzipped tar `file` under `into`, which holds nothing else.
void extract(const std::filesystem::path& file, const std::filesystem::path& into,
             const std::string& origin) {
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(),
                                                                archive_read_free);
  if (!reader) throw IoError(origin + ": libarchive cannot start a reader");
  archive_read_support_filter_gzip(reader.get());
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_filename(reader.get(), file.c_str(), 1 << 16) != ARCHIVE_OK) {
    throw FormatError(origin + ": not a gzipped tar archive (" + file.string() +
                      "): " + archive_error_string(reader.get()));
  }
  archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) {
      throw FormatError(origin + ": not a gzipped tar archive, or a damaged one (" + file.string() +
                        "): " + archive_error_string(reader.get()));
    }
    const char* raw = archive_entry_pathname(entry);
    const std::string name = raw == nullptr ? "" : raw;
    const auto relative = safe_relative_path(name, origin);
    if (archive_entry_hardlink(entry) != nullptr) {
      throw FormatError(origin + ": entry '" + name + "' is a hard link to '" +
                        archive_entry_hardlink(entry) +
                        "'; refused (expected plain files and folders)");
    }
    const mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR) {
      throw FormatError(origin + ": entry '" + name + "' is " + kind_of(type) +
                        "; refused (expected plain files and folders)");
    }
    const auto target = into / relative;
    std::error_code error;
    std::filesystem::create_directories(type == AE_IFDIR ? target : target.parent_path(), error);
    if (error) {
      throw IoError(origin + ": cannot create the folder of entry '" + name + "' in " +
                    into.string() + ": " + error.message());
    }
    if (type == AE_IFREG) {
      if (relative.empty()) throw FormatError(origin + ": entry '" + name + "' names no file");
      write_entry(reader.get(), target, name, origin);
    }
  }
}

}  // namespace

DatasetArchive official_archive(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kCifar10:
      return {"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
              "c32a1d4ab5d03f1284b67883e8d87530",
              "cifar-10-batches-bin",
              {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
               "data_batch_5.bin", "test_batch.bin", "batches.meta.txt"}};
    case DatasetFormat::kCifar100:
      return {"https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
              "03b5dce01913d631647c71ecec9e9cb8",
              "cifar-100-binary",
              {"train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"}};
    default:
      throw InvalidArgument("download: " + format_name(format) +
                            " has no official archive to download (expected a dataset with one: " +
                            kHaveArchives + ")");
  }
}

std::filesystem::path find_dataset_files(const std::filesystem::path& dir,
                                         const DatasetArchive& archive) {
  std::error_code error;
  const auto nested = dir / archive.folder;
  const auto root = std::filesystem::is_directory(nested, error) ? nested : dir;
  for (const auto& file : archive.files) {
    if (!std::filesystem::is_regular_file(root / file, error)) return {};
  }
  return root;
}

InstalledDataset install_archive(const DatasetArchive& archive, const std::filesystem::path& dir,
                                 const DownloadOptions& options) {
  check_description(archive);
  if (auto found = find_dataset_files(dir, archive); !found.empty()) return {found, false};
  const std::string origin = file_name_of(archive.url);
  const auto target = dir / archive.folder;
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::symlink_status(target, error))) {
    std::string missing;
    for (const auto& file : archive.files) {
      if (!std::filesystem::is_regular_file(target / file, error)) {
        missing += (missing.empty() ? "" : ", ") + file;
      }
    }
    throw IoError(origin + ": " + target.string() + " exists but lacks " + missing +
                  " (expected all of the archive's files there); it is left as it is: remove it "
                  "to download the archive again");
  }
  const auto file = download::fetch({archive.url, "", archive.md5, ""}, options.progress(),
                                    options.retries(), options.url());
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw IoError(origin + ": cannot create the dataset folder " + dir.string() + ": " +
                  error.message());
  }
  const TemporaryFolder temporary(dir, archive.folder);
  extract(file, temporary.path(), origin);
  const auto extracted = temporary.path() / archive.folder;
  for (const auto& name : archive.files) {
    if (!std::filesystem::is_regular_file(extracted / name, error)) {
      throw FormatError(origin + ": the archive lacks " + archive.folder + "/" + name +
                        " (expected the files of the dataset in its folder " + archive.folder +
                        "/)");
    }
  }
  std::filesystem::rename(extracted, target, error);
  if (error) {
    // Another process may have installed the same archive meanwhile.
    if (auto found = find_dataset_files(dir, archive); !found.empty()) return {found, false};
    throw IoError(origin + ": cannot rename " + extracted.string() + " to " + target.string() +
                  ": " + error.message());
  }
  sync_folder(dir);
  return {target, true};
}

InstalledDataset ensure_dataset(const DatasetSpec& spec, const DownloadOptions& options) {
  return install_archive(official_archive(spec.format), spec.dir, options);
}

}  // namespace xfer::data
