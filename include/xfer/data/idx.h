#pragma once
// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian
// header (magic 0x0000TTDD: type 0x08 = uint8, DD dimensions; then each dimension as a 32-bit
// count) followed by the data; files gzipped or not.

#include "xfer/data/dataset.h"
#include "xfer/data/spec.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::data {

/// The uint8 array of an IDX file.
struct IdxArray {
  /// The dimensions (N for labels; N, rows, columns for images).
  std::vector<int64_t> dims;
  /// The elements, row-major.
  std::vector<uint8_t> data;
};

/// The magic number of an IDX file of uint8 images (N × rows × columns).
inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
/// The magic number of an IDX file of uint8 labels (N).
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;

/// Parses IDX bytes that must carry `magic`. `origin` names the file in errors, `item` what one
/// entry is ("image", "label"). Throws FormatError for a wrong magic, a truncated header or a
/// truncated entry, naming the offset, what was expected and what was found.
IdxArray parse_idx(const std::vector<uint8_t>& bytes, uint32_t magic, const std::string& origin,
                   const std::string& item);

/// The most bytes a gzip stream may inflate to (1 GiB; Fashion-MNIST's largest file is 47 MB).
inline constexpr size_t kMaxInflatedBytes = size_t{1} << 30;

/// `raw` gunzipped when it is a gzip stream (by its first two bytes, 1f 8b), else `raw` as it is.
/// `origin` names the file in errors. Throws FormatError for a corrupt or truncated stream, or one
/// that inflates to more than kMaxInflatedBytes (stopped there, before allocating more).
std::vector<uint8_t> gunzip_if_gzip(std::vector<uint8_t> raw, const std::string& origin);

/// The whole content of `file`, gunzipped when it is gzip (by its bytes, not its name).
/// Throws IoError when it cannot be read, else as gunzip_if_gzip.
std::vector<uint8_t> read_maybe_gzip(const std::filesystem::path& file, const std::string& origin);

/// Reads MNIST or Fashion-MNIST (`format`) from `dir`: train-{images-idx3,labels-idx1}-ubyte and
/// t10k-… as train and test, each with or without `.gz`. Images stay grey (1 channel); the
/// transforms' ToTensor replicates them to 3. Classes are torchvision's names.
/// Throws IoError for a missing file, FormatError for a malformed one or counts that disagree.
DatasetParts read_idx_dataset(const std::filesystem::path& dir, DatasetFormat format);

}  // namespace xfer::data
