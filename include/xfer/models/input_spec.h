#pragma once
// How images must be prepared for a model. A header of its own, without LibTorch, so that the run
// directory's model.json (xfer/run/files.h) can hold one.

#include "xfer/core/interpolation.h"

#include <array>
#include <cstdint>

namespace xfer::models {

/// How images must be prepared for a model: resize the shorter side to `resize` with
/// `interpolation`, center-crop to `size`, scale to [0,1] and normalise by `mean`/`std` (per RGB
/// channel).
struct InputSpec {
  /// Side of the square crop the model sees.
  int64_t size = 224;
  /// Shorter side after the resize that precedes the crop.
  int64_t resize = 256;
  /// Per-channel mean subtracted after scaling to [0,1].
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  /// Per-channel standard deviation divided by after the mean.
  std::array<double, 3> std{0.229, 0.224, 0.225};
  /// Filter of the resize (torchvision's weights name theirs: most bilinear, EfficientNet's and
  /// a few others bicubic).
  Interpolation interpolation = Interpolation::kBilinear;
};

}  // namespace xfer::models
