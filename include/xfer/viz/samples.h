#pragma once
// A grid of test images with their true and predicted labels, mistakes first.

#include "xfer/run/files.h"
#include "xfer/transforms/image.h"

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::viz {

/// One test image and what the model said of it.
struct Sample {
  /// The image as the dataset holds it (uint8 RGB or grey, any size).
  transforms::Image image;
  /// True class.
  int64_t label = 0;
  /// Predicted class.
  int64_t predicted = 0;
  /// Probability of the predicted class.
  double probability = 0;
};

/// How the samples grid is laid out.
struct SamplesOptions {
  /// Samples drawn at most (choose_samples picks them). At least 1.
  TORCH_ARG(int64_t, count) = 24;
  /// Images per row. At least 1.
  TORCH_ARG(int64_t, columns) = 8;
  /// Side of the square each image is fitted into, in pixels. From 16 to 1024.
  TORCH_ARG(int64_t, cell) = 128;
};

/// Which predictions a samples grid shows, as positions in `predictions`: up to `count`, the
/// mistakes first (most confident first, then by position), then right ones taken in turn from
/// each true class (in class order, each class's in position order), so every class shows.
/// Throws InvalidArgument for a count < 1.
std::vector<size_t> choose_samples(const std::vector<run::Prediction>& predictions, int64_t count);

/// A PNG grid of `samples` (all of them, options.count does not apply), mistakes first and
/// otherwise in the given order, each image fitted into its cell (aspect kept) and framed red
/// for a mistake, green when right, with "true: NAME" and "pred: NAME 93%" below it. Throws
/// InvalidArgument for no samples, an empty image, a label or prediction outside `classes`, or
/// bad options.
std::string draw_samples(const std::vector<Sample>& samples,
                         const std::vector<std::string>& classes,
                         const SamplesOptions& options = {});

}  // namespace xfer::viz
