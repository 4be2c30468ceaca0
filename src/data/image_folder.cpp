// Mirrors torchvision 0.14 datasets/folder.py (find_classes, make_dataset) for the layout and the
// order; unlike it, files with other extensions are reported rather than silently left out.

#include "xfer/data/image_folder.h"

#include "xfer/core/cpus.h"
#include "xfer/core/error.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <set>
#include <thread>

namespace xfer::data {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool has_image_extension(const fs::path& file) {
  const std::string extension = lower(file.extension().string());
  return std::any_of(std::begin(kImageExtensions), std::end(kImageExtensions),
                     [&](const char* known) { return extension == known; });
}

std::string extension_list() {
  std::string list;
  for (const char* known : kImageExtensions) list += (list.empty() ? "" : " ") + std::string(known);
  return list;
}

std::vector<std::string> class_folders(const fs::path& root) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// torchvision walks sorted(os.walk(class_dir)) and sorted(fnames): by folder path, then name.
std::vector<fs::path> class_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (auto it =
           fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    const auto pa = a.parent_path().string();
    const auto pb = b.parent_path().string();
    return pa != pb ? pa < pb : a.filename().string() < b.filename().string();
  });
  return files;
}

struct Listing {
  std::vector<fs::path> files;
  std::vector<int64_t> labels;
};

Listing list_split(const fs::path& root, const std::vector<std::string>& classes, bool is_train) {
  const std::vector<std::string> found = class_folders(root);
  Listing listing;
  for (const auto& name : found) {
    const auto at = std::find(classes.begin(), classes.end(), name);
    if (at == classes.end()) {
      throw FormatError("folder: " + (root / name).string() + " is a class that " +
                        (root.parent_path() / "train").string() +
                        " lacks (expected the classes of train: the labels would not agree)");
    }
    const auto files = class_files(root / name);
    if (files.empty() && is_train) {
      throw FormatError("folder: " + (root / name).string() +
                        " holds no file (expected at least "
                        "one image: " +
                        extension_list() + ")");
    }
    for (const auto& file : files) {
      listing.files.push_back(file);
      listing.labels.push_back(at - classes.begin());
    }
  }
  return listing;
}

std::string error_reason(const std::string& message, const fs::path& file) {
  const std::string prefix = file.string() + ": ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

}  // namespace

std::vector<BadFile> check_image_files(const std::vector<fs::path>& files, int64_t threads,
                                       std::vector<transforms::Size>* sizes) {
  std::vector<std::string> reasons(files.size());
  std::vector<transforms::Size> found(files.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      if (!has_image_extension(files[i])) {
        const std::string ext = files[i].extension().string();
        reasons[i] = "not an image file name: extension '" + ext + "' (expected one of " +
                     extension_list() + ", in any case)";
        continue;
      }
      try {
        const transforms::Image image = transforms::decode_image(files[i]);
        found[i] = {image.height, image.width};
      } catch (const Error& e) {
        reasons[i] = error_reason(e.what(), files[i]);
      }
    }
  };
  const auto count = static_cast<size_t>(
      threads > 0 ? threads : static_cast<int64_t>(usable_cpus()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(count, files.size()); ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  std::vector<BadFile> bad;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!reasons[i].empty()) bad.push_back({files[i], reasons[i]});
  }
  if (sizes) *sizes = std::move(found);
  return bad;
}

DatasetParts read_image_folder(const fs::path& dir, const FolderOptions& options) {
  if (!fs::is_directory(dir)) {
    throw IoError("folder: " + dir.string() +
                  " is not a directory (expected DIR/<class>/<image> or "
                  "DIR/train/<class>/<image>)");
  }
  const bool has_val = fs::is_directory(dir / "val");
  const bool has_test = fs::is_directory(dir / "test");
  const bool split = fs::is_directory(dir / "train") && (has_val || has_test);
  const fs::path train_root = split ? dir / "train" : dir;
  const std::vector<std::string> classes = class_folders(train_root);
  if (classes.empty()) {
    throw FormatError("folder: " + train_root.string() + " has no class folder (expected " +
                      train_root.string() + "/<class>/<image>)");
  }
  std::vector<std::pair<Listing, Dataset*>> splits;
  DatasetParts parts;
  splits.emplace_back(list_split(train_root, classes, true), &parts.train);
  if (split && has_test) splits.emplace_back(list_split(dir / "test", classes, false), &parts.test);
  if (split && has_val) {
    splits.emplace_back(list_split(dir / "val", classes, false),
                        has_test ? &parts.val : &parts.test);
  }
  std::vector<fs::path> all;
  for (const auto& [listing, target] : splits) {
    all.insert(all.end(), listing.files.begin(), listing.files.end());
  }
  std::vector<transforms::Size> sizes;
  std::vector<BadFile> bad = check_image_files(all, options.threads, &sizes);
  if (!bad.empty() && !options.skip_bad) {
    std::string message = "folder: " + std::to_string(bad.size()) + " of " +
                          std::to_string(all.size()) + " files in " + dir.string() +
                          " cannot be used (expected every file to decode; skip_bad, --skip-bad on "
                          "the command line, leaves them out):";
    for (const auto& file : bad) message += "\n  " + file.file.string() + ": " + file.reason;
    throw FormatError(message);
  }
  std::set<fs::path> is_bad;
  for (const auto& file : bad) is_bad.insert(file.file);
  parts.min_size = {INT64_MAX, INT64_MAX};
  for (const auto& size : sizes) {
    if (size.height == 0) continue;
    parts.min_size = {std::min(parts.min_size.height, size.height),
                      std::min(parts.min_size.width, size.width)};
    parts.max_size = {std::max(parts.max_size.height, size.height),
                      std::max(parts.max_size.width, size.width)};
  }
  if (parts.max_size.height == 0) parts.min_size = {0, 0};
  for (auto& [listing, target] : splits) {
    std::vector<fs::path> files;
    std::vector<int64_t> labels;
    for (size_t i = 0; i < listing.files.size(); ++i) {
      if (is_bad.count(listing.files[i])) continue;
      files.push_back(listing.files[i]);
      labels.push_back(listing.labels[i]);
    }
    *target = Dataset::from_files("folder", classes, std::move(labels), std::move(files));
  }
  for (Dataset* empty : {&parts.val, &parts.test}) {
    if (empty->classes().empty()) *empty = Dataset::from_files("folder", classes, {}, {});
  }
  parts.bad_files = std::move(bad);
  return parts;
}

}  // namespace xfer::data
