#pragma once
// The CIFAR-10 ResNets of He et al. 2016 (3 stages of 16/32/64 channels, option-A zero-padding shortcuts), with the keys of akamaster/pytorch_resnet_cifar10's resnet.py checkpoints.

#include "xfer/models/registry.h"

namespace xfer::models {

/// resnet20, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet20(const ModelOptions& options);

/// resnet32, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet32(const ModelOptions& options);

/// resnet44, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet44(const ModelOptions& options);

/// resnet56, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet56(const ModelOptions& options);

}  // namespace xfer::models
