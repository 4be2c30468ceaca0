#pragma once
// Reader of the reference files that tools/make_parity_references.py writes into
// tests/fixtures/parity (format in docs/parity.md), and their comparison with computed tensors.

#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace xfer::testing {

/// One state_dict entry as torchvision lists it.
struct ReferenceKey {
  /// Dotted key (`layer1.0.bn1.running_var`).
  std::string name;
  /// torch's dtype name without `torch.` (`float32`, `int64`).
  std::string dtype;
  /// Sizes; empty for a scalar.
  std::vector<int64_t> shape;
};

/// A reference tensor: its shape, sums over all elements, and all or a sample of its values.
struct ReferenceTensor {
  /// Sizes; empty for a scalar.
  std::vector<int64_t> shape;
  /// Sum of all elements, in double.
  double sum = 0;
  /// Sum of the absolute values of all elements, in double.
  double abs_sum = 0;
  /// Row-major flat index of each of `values` (0, 1, ... when the file holds every value).
  std::vector<int64_t> indices;
  /// The stored values (float32 printed with 9 significant digits).
  std::vector<double> values;
};

/// The content of one reference file.
struct Reference {
  /// Architecture name as the registry spells it (or `fill`).
  std::string model;
  /// `eval`, `train`, `train_without_dropout` (dropouts in eval mode) or `none`.
  std::string mode;
  /// Construction options beyond the default: `transform_input`, `no_aux_logits`.
  std::vector<std::string> options;
  /// Shape of the closed-form input batch [N,3,H,W].
  std::vector<int64_t> input;
  /// The state_dict's entries in torchvision's order.
  std::vector<ReferenceKey> keys;
  /// Tensors by label: `logits`, `output:<module path>`, `buffer:<key>`, `fill:<key>`, `images`.
  std::map<std::string, ReferenceTensor> tensors;
  /// For training-mode GoogLeNet: the module path whose output stands at each auxiliary position
  /// of torchvision's GoogLeNetOutputs.
  std::vector<std::string> aux_order;

  /// The tensor labelled `label`. Throws InvalidArgument naming the file's model when absent.
  const ReferenceTensor& tensor(const std::string& label) const;
};

/// Parses the reference file at `path`. Throws IoError when it cannot be read, FormatError (with
/// the line number) for a line that does not follow the format.
Reference read_reference(const std::filesystem::path& path);

/// Success when `actual` has the reference's shape, every stored value is within rtol relative to
/// itself plus rtol times the largest stored magnitude (the scale of the tensor) absolute, and its
/// sum and abs_sum are within rtol * abs_sum. The failure message is all_close_at's (worst element
/// and its index) when an element differs, else the sum that does.
::testing::AssertionResult matches_reference(const torch::Tensor& actual,
                                             const ReferenceTensor& expected, double rtol);

}  // namespace xfer::testing
