#pragma once
// torchvision 0.14's classification weights (115 entries for its 80 architectures), as its
// metadata records them: tools/make_weights_table.py generates the table from Debian's
// python3-torchvision, and the registry takes the weights of every architecture it builds from it.

#include "xfer/core/interpolation.h"

#include <array>
#include <cstdint>
#include <vector>

namespace xfer::models {

/// One weights entry of torchvision 0.14 (`ResNet50_Weights.IMAGENET1K_V2`), as its metadata
/// records it.
struct TorchvisionWeights {
  /// Architecture, as torchvision.models.list_models() names it (`resnet50`).
  const char* model;
  /// The entry's name in its weights enum (`IMAGENET1K_V2`).
  const char* name;
  /// File name under https://download.pytorch.org/models/; the part after its last '-' is the
  /// SHA-256 prefix torch.hub checks.
  const char* file;
  /// Whether the entry is its architecture's DEFAULT.
  bool is_default;
  /// ImageNet-1K top-1 accuracy in percent; 0 where torchvision records none.
  double top1;
  /// ImageNet-1K top-5 accuracy in percent; 0 where torchvision records none.
  double top5;
  /// Parameters of the model these weights fill, with its 1000-class head.
  int64_t num_params;
  /// Smallest input side the architecture accepts (meta["min_size"]).
  int64_t min_size;
  /// Categories of the stored head: 1000, or 0 where the file has no usable head.
  int64_t num_categories;
  /// Side of the inference transform's center crop.
  int64_t crop;
  /// Shorter side of the inference transform's resize, before the crop.
  int64_t resize;
  /// Filter of that resize.
  Interpolation interpolation;
  /// Per-channel mean of the normalisation, RGB.
  std::array<double, 3> mean;
  /// Per-channel standard deviation of the normalisation, RGB.
  std::array<double, 3> std;
};

/// Every entry, architectures in list_models() order, each one's weights in their enum's order.
const std::vector<TorchvisionWeights>& torchvision_weights_table();

}  // namespace xfer::models
