#pragma once
// MobileNetV3 small and large, mirroring torchvision 0.14 torchvision/models/mobilenetv3.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// torchvision's mobilenet_v3_small with options.num_classes() classes (positive; create_model
/// resolves 0), initialised as torchvision does. Images [N,3,H,W] float32; features [N,1024]
/// (the output of classifier.0-2: Linear, Hardswish, Dropout(0.2)); head `classifier.3`.
/// Keys equal torchvision's.
Classifier mobilenet_v3_small(const ModelOptions& options);

/// torchvision's mobilenet_v3_large, as mobilenet_v3_small but with features [N,1280].
Classifier mobilenet_v3_large(const ModelOptions& options);

}  // namespace xfer::models
