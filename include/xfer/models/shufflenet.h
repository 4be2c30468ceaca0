#pragma once
// ShuffleNetV2 (Ma et al. 2018) at widths 0.5, 1.0, 1.5 and 2.0, mirroring torchvision 0.14
// torchvision/models/shufflenetv2.py.

#include "xfer/models/registry.h"

namespace xfer::models {

// torchvision's ShuffleNetV2: `conv1` (3x3/2 convolution, batch-norm, ReLU), `maxpool`, stages
// `stage2`..`stage4` of InvertedResidual blocks (`branch1`, empty in stride-1 blocks, and
// `branch2`; their outputs concatenated and the channels shuffled in two groups), `conv5` (1x1,
// batch-norm, ReLU), a global mean and the head `fc`. PyTorch's default initialisation, as
// torchvision sets none. Images [N,3,H,W] float32; features [N, 1024] (2048 for x2_0).

/// shufflenet_v2_x0_5: stage widths 48, 96, 192; features [N,1024].
Classifier shufflenet_v2_x0_5(const ModelOptions& options);
/// shufflenet_v2_x1_0: stage widths 116, 232, 464; features [N,1024].
Classifier shufflenet_v2_x1_0(const ModelOptions& options);
/// shufflenet_v2_x1_5: stage widths 176, 352, 704; features [N,1024].
Classifier shufflenet_v2_x1_5(const ModelOptions& options);
/// shufflenet_v2_x2_0: stage widths 244, 488, 976; features [N,2048].
Classifier shufflenet_v2_x2_0(const ModelOptions& options);

}  // namespace xfer::models
