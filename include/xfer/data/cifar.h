#pragma once
// The official CIFAR-10 and CIFAR-100 binary formats
// (https://www.cs.toronto.edu/~kriz/cifar.html): records of label byte(s) then 3072 pixel bytes,
// the red plane, the green plane, the blue plane, each 32×32 row-major.

#include "xfer/data/dataset.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::data {

/// The records of one CIFAR batch file, pixels converted to HWC.
struct CifarBatch {
  /// N × 32 × 32 × 3 bytes, RGB interleaved.
  std::vector<uint8_t> pixels;
  /// The label of each record (CIFAR-100: the fine label).
  std::vector<int64_t> labels;
  /// CIFAR-100's coarse label of each record; empty for CIFAR-10.
  std::vector<int64_t> coarse_labels;
};

/// Parses the bytes of a batch file: records of 3073 bytes (CIFAR-10: label, pixels) or 3074
/// (CIFAR-100: coarse label, fine label, pixels). `origin` names the file in errors ("cifar10:
/// data_batch_1.bin"). Throws FormatError for an empty file, a truncated last record or a label
/// out of range, naming the record, its offset, what was expected and what was found.
CifarBatch parse_cifar_batch(const std::vector<uint8_t>& bytes, const std::string& origin,
                             bool cifar100);

/// Parses the text of a class-name file (batches.meta.txt, fine_label_names.txt,
/// coarse_label_names.txt): one name per line, lines split at '\n', blank lines skipped, spaces,
/// tabs and '\r' around a name trimmed. Returns exactly `expected` names, each non-empty, in file
/// order. `origin` names the file in errors ("cifar10: batches.meta.txt"). Throws FormatError
/// when the file holds another number of names.
std::vector<std::string> parse_cifar_class_names(const std::string& text,
                                                 const std::string& origin, int64_t expected);

/// Reads CIFAR-10 from `dir` (or `dir/cifar-10-batches-bin`, as the archive extracts):
/// data_batch_1..5.bin as train, test_batch.bin as test, batches.meta.txt for the 10 names.
/// Throws IoError for a missing file, FormatError for a malformed one.
DatasetParts read_cifar10(const std::filesystem::path& dir);

/// Reads CIFAR-100 from `dir` (or `dir/cifar-100-binary`): train.bin and test.bin, the 100 fine
/// names of fine_label_names.txt as classes and the 20 of coarse_label_names.txt as coarse classes.
/// Throws IoError for a missing file, FormatError for a malformed one.
DatasetParts read_cifar100(const std::filesystem::path& dir);

}  // namespace xfer::data
