#pragma once
// GoogLeNet (Inception v1), mirroring torchvision 0.14 torchvision/models/googlenet.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// googlenet, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier googlenet(const ModelOptions& options);

}  // namespace xfer::models
