#pragma once
// MobileNetV2, mirroring torchvision 0.14 torchvision/models/mobilenetv2.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// torchvision's mobilenet_v2 (width 1.0) with options.num_classes() classes (positive;
/// create_model resolves 0), initialised as torchvision does. Images [N,3,H,W] float32; features
/// [N,1280]; head `classifier.1`, after `classifier.0` Dropout(0.2). Keys equal torchvision's.
Classifier mobilenet_v2(const ModelOptions& options);

}  // namespace xfer::models
