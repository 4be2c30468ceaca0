#pragma once
// Reads tests/fixtures/transforms/references.txt (written by tools/make_transform_references.py)
// and rebuilds the closed-form images it was made from.

#include "xfer/transforms/image.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace xfer::testing {

/// One reference output: an HWC uint8 image (`is_tensor` false) or a CHW float32 tensor.
struct Reference {
  bool is_tensor = false;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

/// Every case of the references file by name. Fails the test when the file is missing.
std::map<std::string, Reference> load_references();

/// The 23x31 RGB pattern of the script: (7y + 13x + 71c + (xy mod 31)) mod 256.
transforms::Image pattern_image();
/// The 19x26 grey image of the script: (5y + 11x + (xy mod 17)) mod 256.
transforms::Image grey_image();
/// The 23x31 RGB image of narrow range of the script: 60 + (7y + 13x + 71c + (xy mod 31)) mod 120.
transforms::Image dim_image();
/// The 16x16 RGB ramp holding every byte value: (16y + x + 85c) mod 256.
transforms::Image ramp_image();

/// Compares an image with a uint8 reference: same shape, and no byte more than `tolerance` off.
/// On failure names the worst element (y, x, c) with both values and the count over tolerance.
::testing::AssertionResult images_match(const transforms::Image& actual, const Reference& expected,
                                        int tolerance);

/// Compares CHW floats with a float32 reference bit for bit; names the first mismatch.
::testing::AssertionResult tensors_match(const std::vector<float>& actual, int64_t channels,
                                         int64_t height, int64_t width, const Reference& expected);

}  // namespace xfer::testing
