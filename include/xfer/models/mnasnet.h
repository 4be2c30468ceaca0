#pragma once
// MNASNet-B1 (Tan et al. 2018) at depth multipliers 0.5, 0.75, 1.0 and 1.3, mirroring torchvision
// 0.14 torchvision/models/mnasnet.py.

#include "xfer/models/registry.h"

namespace xfer::models {

// torchvision's MNASNet: `layers` (children 0..16: a 3x3/2 stem, a depthwise-separable block,
// six stacks of inverted residuals, a 1x1 convolution to 1280 channels with batch-norm and ReLU),
// a global mean, and `classifier` = {"0": Dropout(0.2), "1": the head}. Batch norms keep
// TensorFlow's momentum 0.0003; initialised as torchvision (Kaiming-normal fan-out convolutions,
// Linear Kaiming-uniform fan-out with zero bias). Images [N,3,H,W] float32; features [N,1280].

/// mnasnet0_5: stage widths halved.
Classifier mnasnet0_5(const ModelOptions& options);
/// mnasnet0_75: stage widths times 0.75.
Classifier mnasnet0_75(const ModelOptions& options);
/// mnasnet1_0: the paper's MNASNet-B1.
Classifier mnasnet1_0(const ModelOptions& options);
/// mnasnet1_3: stage widths times 1.3.
Classifier mnasnet1_3(const ModelOptions& options);

}  // namespace xfer::models
