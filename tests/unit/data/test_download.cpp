// Dataset archives: fetched from a local HTTP server (tests/support/http_server.py), extracted
// atomically, read by the CIFAR readers; bad archives and failed downloads leave nothing behind.

#include "archive_fixture.h"
#include "fixtures.h"
#include "support/http_server.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/data/cifar.h"
#include "xfer/data/download.h"
#include "xfer/download/digest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace data = xfer::data;
using xfer::testing::LocalHttpServer;
using xfer::testing::TarEntry;
using xfer::testing::temp_dir;

// Every entry of `dir`, recursively, relative to it, sorted; empty when `dir` does not exist.
std::vector<std::string> tree(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  if (!std::filesystem::exists(dir)) return names;
  for (const auto& item : std::filesystem::recursive_directory_iterator(dir)) {
    names.push_back(std::filesystem::relative(item.path(), dir).string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A fresh download cache (XFER_HOME) and no mirror for the scope of a test.
class DatasetDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = temp_dir("dataset-cache");
    setenv("XFER_HOME", cache_.c_str(), 1);
    unsetenv("XFER_WEIGHTS_MIRROR");
    served_ = temp_dir("dataset-served");
    server_.emplace(served_);
    dest_ = temp_dir("dataset-dest") / "data";
  }
  void TearDown() override { unsetenv("XFER_HOME"); }

  // The official CIFAR-10 description, pointing at `name` on the server, with its actual MD5.
  data::DatasetArchive cifar10_archive(const std::vector<TarEntry>& entries,
                                       const std::string& name = "cifar-10-binary.tar.gz") {
    xfer::testing::write_tar_gz(served_ / name, entries);
    auto archive = data::official_archive(data::DatasetFormat::kCifar10);
    archive.url = server_->url(name);
    archive.md5 = xfer::download::md5_file(served_ / name);
    return archive;
  }

  // The entries of the official layout: 5 × 20 train records, 20 test records, a readme.
  std::vector<TarEntry> cifar10_entries() {
    const auto source = temp_dir("cifar10-source");
    xfer::testing::write_cifar10(source, 20, 20);
    std::ofstream(source / "readme.html") << "<html>test archive</html>\n";
    return xfer::testing::tar_entries_of(source, "cifar-10-batches-bin");
  }

  std::filesystem::path cache_;
  std::filesystem::path served_;
  std::optional<LocalHttpServer> server_;
  std::filesystem::path dest_;
};

TEST(OfficialArchive, CifarArchivesAreTheIssuesAndOtherFormatsHaveNone) {
  const auto cifar10 = data::official_archive(data::DatasetFormat::kCifar10);
  EXPECT_EQ(cifar10.url, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
  EXPECT_EQ(cifar10.md5, "c32a1d4ab5d03f1284b67883e8d87530");
  EXPECT_EQ(cifar10.folder, "cifar-10-batches-bin");
  EXPECT_EQ(cifar10.files.size(), 7u);
  const auto cifar100 = data::official_archive(data::DatasetFormat::kCifar100);
  EXPECT_EQ(cifar100.url, "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz");
  EXPECT_EQ(cifar100.md5, "03b5dce01913d631647c71ecec9e9cb8");
  EXPECT_EQ(cifar100.folder, "cifar-100-binary");
  EXPECT_THROW_WITH(data::official_archive(data::DatasetFormat::kFolder), xfer::InvalidArgument,
                    "folder has no official archive");
  EXPECT_THROW_WITH(data::ensure_dataset(data::parse_dataset_spec("mnist:/tmp")),
                    xfer::InvalidArgument, "expected a dataset with one: cifar10 and cifar100");
}

TEST_F(DatasetDownload, DownloadsExtractsAndTheReaderReadsIt) {
  const auto archive = cifar10_archive(cifar10_entries());
  std::vector<std::uint64_t> progress;
  const auto installed = data::install_archive(
      archive, dest_, data::DownloadOptions().progress([&](std::uint64_t done, std::uint64_t) {
        progress.push_back(done);
      }));
  EXPECT_TRUE(installed.extracted);
  EXPECT_EQ(installed.folder, dest_ / "cifar-10-batches-bin");
  EXPECT_FALSE(progress.empty());
  // Only the archive's folder is left in DIR: the temporary folder is gone.
  EXPECT_EQ(tree(dest_), (std::vector<std::string>{
                             "cifar-10-batches-bin",
                             "cifar-10-batches-bin/batches.meta.txt",
                             "cifar-10-batches-bin/data_batch_1.bin",
                             "cifar-10-batches-bin/data_batch_2.bin",
                             "cifar-10-batches-bin/data_batch_3.bin",
                             "cifar-10-batches-bin/data_batch_4.bin",
                             "cifar-10-batches-bin/data_batch_5.bin",
                             "cifar-10-batches-bin/readme.html",
                             "cifar-10-batches-bin/test_batch.bin",
                         }));
  const auto parts = data::read_cifar10(dest_);
  EXPECT_EQ(parts.train.size(), 100);
  EXPECT_EQ(parts.test.size(), 20);
  EXPECT_EQ(parts.train.classes().front(), "airplane");
  const auto image = parts.train.image(41);
  EXPECT_EQ(image.at(3, 5, 2), xfer::testing::fixture_pixel(41, 3, 5, 2));
  EXPECT_EQ(parts.train.label(41), 1);
  EXPECT_TRUE(std::filesystem::exists(cache_ / "cifar-10-binary.tar.gz"));
  EXPECT_EQ(server_->requests(), 1);

  // Again: the files are there, so nothing is fetched (not even from the cache) or written.
  std::filesystem::remove(cache_ / "cifar-10-binary.tar.gz");
  const auto again = data::install_archive(archive, dest_);
  EXPECT_FALSE(again.extracted);
  EXPECT_EQ(again.folder, dest_ / "cifar-10-batches-bin");
  EXPECT_EQ(server_->requests(), 1);
  EXPECT_TRUE(std::filesystem::is_empty(cache_));
}

TEST_F(DatasetDownload, CifarHundredArchiveExtractsForItsReader) {
  const auto source = temp_dir("cifar100-source");
  xfer::testing::write_cifar100(source, 20, 20);
  xfer::testing::write_tar_gz(served_ / "cifar-100-binary.tar.gz",
                              xfer::testing::tar_entries_of(source, "cifar-100-binary"));
  auto archive = data::official_archive(data::DatasetFormat::kCifar100);
  archive.url = server_->url("cifar-100-binary.tar.gz");
  archive.md5 = xfer::download::md5_file(served_ / "cifar-100-binary.tar.gz");
  const auto installed = data::install_archive(archive, dest_);
  EXPECT_TRUE(installed.extracted);
  EXPECT_EQ(installed.folder, dest_ / "cifar-100-binary");
  const auto parts = data::read_cifar100(dest_);
  EXPECT_EQ(parts.train.size(), 20);
  EXPECT_EQ(parts.test.classes().size(), 100u);
}

TEST_F(DatasetDownload, FilesAlreadyPresentNeedNoNetwork) {
  // Directly in DIR, as a user may have unpacked them by hand.
  xfer::testing::write_cifar10(dest_, 2, 2);
  auto archive = data::official_archive(data::DatasetFormat::kCifar10);
  archive.url = server_->url("cifar-10-binary.tar.gz");  // not even served
  const auto installed = data::install_archive(archive, dest_);
  EXPECT_FALSE(installed.extracted);
  EXPECT_EQ(installed.folder, dest_);
  // The official description too: ensure_dataset() never reaches the Internet here.
  const auto official = data::ensure_dataset(data::parse_dataset_spec("cifar10:" + dest_.string()));
  EXPECT_FALSE(official.extracted);
  EXPECT_EQ(server_->requests(), 0);
  EXPECT_TRUE(std::filesystem::is_empty(cache_));
}

TEST_F(DatasetDownload, WrongMd5LeavesNothingBehind) {
  auto archive = cifar10_archive(cifar10_entries());
  archive.md5 = "0123456789abcdef0123456789abcdef";
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::IoError, "MD5 mismatch: got ");
  EXPECT_FALSE(std::filesystem::exists(dest_));
  EXPECT_TRUE(tree(cache_).empty());
}

TEST_F(DatasetDownload, HttpNotFoundLeavesNothingBehind) {
  auto archive = data::official_archive(data::DatasetFormat::kCifar10);
  archive.url = server_->url("cifar-10-binary.tar.gz");  // nothing served under that name
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::IoError, "HTTP status 404");
  EXPECT_FALSE(std::filesystem::exists(dest_));
  EXPECT_TRUE(tree(cache_).empty());
  EXPECT_EQ(server_->requests(), 1);  // a 404 is not retried
}

TEST_F(DatasetDownload, MirrorUrlOverridesTheOfficialAddress) {
  auto archive = cifar10_archive(cifar10_entries(), "mirrored.tar.gz");
  const std::string mirror = archive.url;
  archive.url = server_->url("status/500/cifar-10-binary.tar.gz");
  const auto installed =
      data::install_archive(archive, dest_, data::DownloadOptions().url(mirror).retries(0));
  EXPECT_TRUE(installed.extracted);
  EXPECT_EQ(server_->requests("/mirrored.tar.gz"), 1);
  EXPECT_EQ(server_->requests(), 1);
  // Cached under the official file name, whatever the mirror calls it.
  EXPECT_TRUE(std::filesystem::exists(cache_ / "cifar-10-binary.tar.gz"));
}

TEST_F(DatasetDownload, DotDotEntryIsRefused) {
  auto entries = cifar10_entries();
  entries.push_back({"cifar-10-batches-bin/../../evil", "gotcha", TarEntry::Kind::kFile, ""});
  const auto archive = cifar10_archive(entries);
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::FormatError,
                    "entry 'cifar-10-batches-bin/../../evil' has a '..' component");
  EXPECT_TRUE(tree(dest_).empty());
  EXPECT_FALSE(std::filesystem::exists(dest_.parent_path() / "evil"));
  EXPECT_FALSE(std::filesystem::exists(dest_.parent_path().parent_path() / "evil"));
  // The archive is the one asked for (its MD5 matched), so it stays cached; asking again gives
  // the same answer without a second download.
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::FormatError, "../evil");
  EXPECT_EQ(server_->requests(), 1);
}

TEST_F(DatasetDownload, PlainDotDotEntryIsRefused) {
  auto entries = cifar10_entries();
  entries.insert(entries.begin(), {"../evil", "gotcha", TarEntry::Kind::kFile, ""});
  EXPECT_THROW_WITH(data::install_archive(cifar10_archive(entries), dest_), xfer::FormatError,
                    "cifar-10-binary.tar.gz: entry '../evil'");
  EXPECT_TRUE(tree(dest_).empty());
  EXPECT_FALSE(std::filesystem::exists(dest_.parent_path() / "evil"));
}

TEST_F(DatasetDownload, AbsoluteSymlinkAndHardLinkEntriesAreRefused) {
  const std::vector<std::pair<TarEntry, std::string>> cases{
      {{"/tmp/xfer-evil-absolute", "gotcha", TarEntry::Kind::kFile, ""},
       "entry '/tmp/xfer-evil-absolute' has an absolute path"},
      {{"cifar-10-batches-bin/link", "", TarEntry::Kind::kSymlink, "/etc/passwd"},
       "entry 'cifar-10-batches-bin/link' is a symbolic link"},
      {{"cifar-10-batches-bin/hard", "", TarEntry::Kind::kHardlink,
        "cifar-10-batches-bin/test_batch.bin"},
       "entry 'cifar-10-batches-bin/hard' is a hard link"},
  };
  for (const auto& [bad, message] : cases) {
    auto entries = cifar10_entries();
    entries.push_back(bad);
    const auto dest = temp_dir("dataset-refused");
    EXPECT_THROW_WITH(data::install_archive(cifar10_archive(entries), dest), xfer::FormatError,
                      message);
    EXPECT_TRUE(tree(dest).empty()) << message;
    std::filesystem::remove(cache_ / "cifar-10-binary.tar.gz");
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/xfer-evil-absolute"));
}

TEST_F(DatasetDownload, ArchiveWithoutANeededFileOrNotATarIsAFormatError) {
  auto entries = cifar10_entries();
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const TarEntry& e) {
                                 return e.path == "cifar-10-batches-bin/test_batch.bin";
                               }),
                entries.end());
  EXPECT_THROW_WITH(data::install_archive(cifar10_archive(entries), dest_), xfer::FormatError,
                    "the archive lacks cifar-10-batches-bin/test_batch.bin");
  EXPECT_TRUE(tree(dest_).empty());

  std::ofstream(served_ / "html.tar.gz") << "<html>Moved</html>\n";
  auto archive = data::official_archive(data::DatasetFormat::kCifar10);
  archive.url = server_->url("html.tar.gz");
  archive.md5 = xfer::download::md5_file(served_ / "html.tar.gz");
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::FormatError,
                    "html.tar.gz: not a gzipped tar archive");
  EXPECT_TRUE(tree(dest_).empty());
}

TEST_F(DatasetDownload, IncompleteFolderIsNeverOverwritten) {
  std::filesystem::create_directories(dest_ / "cifar-10-batches-bin");
  std::ofstream(dest_ / "cifar-10-batches-bin" / "data_batch_1.bin") << "mine";
  const auto archive = cifar10_archive(cifar10_entries());
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::IoError,
                    "cifar-10-batches-bin exists but lacks data_batch_2.bin, data_batch_3.bin");
  EXPECT_EQ(server_->requests(), 0);  // checked before any network access
  EXPECT_EQ(tree(dest_), (std::vector<std::string>{"cifar-10-batches-bin",
                                                   "cifar-10-batches-bin/data_batch_1.bin"}));
}

TEST_F(DatasetDownload, MalformedDescriptionIsRefusedBeforeAnyNetworkAccess) {
  auto archive = data::official_archive(data::DatasetFormat::kCifar10);
  archive.url = server_->url("cifar-10-binary.tar.gz");
  archive.folder = "../up";
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::InvalidArgument,
                    "expected its top folder as a plain name, got '../up'");
  archive.folder = "cifar-10-batches-bin";
  archive.md5 = "not-an-md5";
  EXPECT_THROW_WITH(data::install_archive(archive, dest_), xfer::InvalidArgument, "is not an MD5");
  EXPECT_EQ(server_->requests(), 0);
}

}  // namespace
