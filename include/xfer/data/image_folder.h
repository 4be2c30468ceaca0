#pragma once
// torchvision's ImageFolder layout: DIR/<class>/<image>, classes in sorted order, files found
// recursively (symlinks followed) and ordered as torchvision orders them.

#include "xfer/data/dataset.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::data {

/// The image extensions an image folder takes, compared without regard to case.
inline constexpr const char* kImageExtensions[] = {".jpg",  ".jpeg", ".png", ".bmp",
                                                   ".webp", ".tif",  ".tiff"};

/// How an image folder is read.
struct FolderOptions {
  /// Skip files that cannot be decoded (reported in DatasetParts::bad_files) instead of failing.
  bool skip_bad = false;
  /// Threads that decode the files to check them; 0 for every CPU the process may use.
  int64_t threads = 0;
};

/// Checks that each file decodes (a full decode through OpenCV, in parallel on `threads`, 0 for
/// every CPU the process may use; a file whose extension is not an image's is bad without being opened).
/// Returns the bad files with their reasons, in the order of `files`; `sizes`, when not null,
/// receives each file's size (0x0 for a bad one).
std::vector<BadFile> check_image_files(const std::vector<std::filesystem::path>& files,
                                       int64_t threads,
                                       std::vector<transforms::Size>* sizes = nullptr);

/// Reads an image folder. When `dir` holds `train/` and `val/` or `test/`, those are the splits
/// (with both val/ and test/, val/ is the validation split; with one of them, it is the test
/// split); otherwise `dir` itself is the train split. Classes are train's sub-folders, sorted
/// byte-wise as Python sorts names; files in each are taken recursively, hidden ones (".x") left
/// out, ordered by folder then name. Every other file must decode: when some do not, throws
/// FormatError listing every one and why, unless `options.skip_bad`.
/// Throws IoError when `dir` is not a folder, FormatError for no class folder, an empty class, or a
/// class in val/ or test/ that train/ lacks.
DatasetParts read_image_folder(const std::filesystem::path& dir, const FolderOptions& options);

}  // namespace xfer::data
