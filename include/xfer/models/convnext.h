#pragma once
// ConvNeXt tiny, small, base and large (Liu et al. 2022), mirroring torchvision 0.14
// torchvision/models/convnext.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// torchvision's convnext_tiny with options.num_classes() classes (positive; create_model resolves
/// 0), initialised as torchvision does. Images [N,3,H,W] float32 (H and W multiples of 32);
/// features [N,768] (pooled, then classifier.0's LayerNorm2d); head `classifier.2`.
/// Keys equal torchvision's.
Classifier convnext_tiny(const ModelOptions& options);
/// convnext_small: 27 blocks in the third stage; features [N,768].
Classifier convnext_small(const ModelOptions& options);
/// convnext_base: widths 128-1024; features [N,1024].
Classifier convnext_base(const ModelOptions& options);
/// convnext_large: widths 192-1536; features [N,1536].
Classifier convnext_large(const ModelOptions& options);

}  // namespace xfer::models
