#pragma once
// VGG-11/16 with and without batch-norm, mirroring torchvision 0.14 torchvision/models/vgg.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// vgg11, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg11(const ModelOptions& options);

/// vgg11_bn, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg11_bn(const ModelOptions& options);

/// vgg16, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg16(const ModelOptions& options);

/// vgg16_bn, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg16_bn(const ModelOptions& options);

}  // namespace xfer::models
