#pragma once
// Fetching a dataset's official archive (through xfer::download::fetch: checksum, atomic cache,
// retries, mirror) and extracting it into the spec's directory, atomically (docs/data.md).

#include "xfer/data/spec.h"
#include "xfer/download/fetch.h"

#include <torch/arg.h>

#include <filesystem>
#include <string>
#include <vector>

namespace xfer::data {

/// A dataset archive as published: where it is, its checksum, and what it extracts to.
struct DatasetArchive {
  /// The official address, e.g. https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz.
  std::string url;
  /// Its MD5, 32 hex digits.
  std::string md5;
  /// The one top folder of the archive, e.g. "cifar-10-batches-bin".
  std::string folder;
  /// The files inside `folder` the dataset's reader needs, e.g. "data_batch_1.bin".
  std::vector<std::string> files;
};

/// The official archive of `format`: CIFAR-10's cifar-10-binary.tar.gz or CIFAR-100's
/// cifar-100-binary.tar.gz. Throws InvalidArgument for a format that has none (folder, MNIST,
/// Fashion-MNIST), naming the formats that have one.
DatasetArchive official_archive(DatasetFormat format);

/// The folder that holds every one of `archive.files`: `dir / archive.folder` when that folder
/// exists (as the reader looks there first), else `dir`; empty when a file is missing.
std::filesystem::path find_dataset_files(const std::filesystem::path& dir,
                                         const DatasetArchive& archive);

/// How ensure_dataset() and install_archive() download.
struct DownloadOptions {
  /// The address to download from instead of the official one (a mirror of this one archive);
  /// empty for the official address, or `$XFER_WEIGHTS_MIRROR/<file name>` when that is set. The
  /// checksum is still the official one.
  TORCH_ARG(std::string, url) = "";
  /// Called as bytes arrive, on the calling thread (see download::fetch).
  TORCH_ARG(download::Progress, progress) = {};
  /// Retries of a transient failure (see download::fetch).
  TORCH_ARG(int, retries) = 3;
};

/// Where a dataset's files are, and whether this call put them there.
struct InstalledDataset {
  /// The folder holding the files: `dir / archive.folder` after an extraction.
  std::filesystem::path folder;
  /// False when the files were all there already (nothing was fetched or written).
  bool extracted = false;
};

/// Makes sure `dir` holds `archive`'s files. A no-op, without network access, when
/// find_dataset_files() finds them. Otherwise the archive is fetched into the download cache
/// (download::fetch, MD5-checked; a cached copy is used without network access) and extracted
/// into a fresh hidden folder beside `dir / archive.folder`, whose `archive.folder` is then
/// renamed to `dir / archive.folder`: a failed extraction leaves nothing in `dir`.
/// Only plain files and folders are extracted: an absolute path, a `..` component, a symbolic
/// or hard link or any other kind of entry is refused. `dir` is created when missing.
/// Throws IoError when `dir / archive.folder` exists without all the files (it is never
/// overwritten; checked before any network access), for a failed download (download::fetch's
/// errors: HTTP status, MD5 mismatch) or a failed write; FormatError naming the entry for a
/// refused entry, naming the archive for one that is not a gzipped tar or lacks a needed file;
/// InvalidArgument for a malformed archive description.
InstalledDataset install_archive(const DatasetArchive& archive, const std::filesystem::path& dir,
                                 const DownloadOptions& options = {});

/// install_archive(official_archive(spec.format), spec.dir, options): after it,
/// read_cifar10(spec.dir) / read_cifar100(spec.dir) read the files. Throws as those two.
InstalledDataset ensure_dataset(const DatasetSpec& spec, const DownloadOptions& options = {});

}  // namespace xfer::data
