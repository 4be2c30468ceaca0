#pragma once
// The reference tensors of tests/fixtures/weights/expected.txt (the model weights of each fixture,
// written by tools/make_weight_fixtures.py) and expected_layouts.txt (every tensor under its key
// path, written by tools/make_checkpoint_fixtures.py), from Python's torch.

#include <torch/types.h>

#include <string>
#include <vector>

namespace xfer::testing {

/// One tensor as Python saw it: dtype name ("float32", "qint8", "uint16"), shape and values as
/// float64 (quantized: its int_repr()).
struct ExpectedTensor {
  std::string file;
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<double> values;
};

/// Every line of expected.txt.
std::vector<ExpectedTensor> expected_tensors();

/// The lines of expected.txt for one fixture, in its order.
std::vector<ExpectedTensor> expected_tensors(const std::string& file);

/// The lines of expected_layouts.txt for one fixture, in its order.
std::vector<ExpectedTensor> expected_layout_tensors(const std::string& file);

/// The torch dtype named as Python prints it ("float32", "bfloat16", "bool", ...).
c10::ScalarType dtype_named(const std::string& name);

}  // namespace xfer::testing
