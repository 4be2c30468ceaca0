#pragma once
// EfficientNet B0-B7 (Tan & Le 2019) and EfficientNetV2 S/M/L (Tan & Le 2021), mirroring
// torchvision 0.14 torchvision/models/efficientnet.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// torchvision's efficientnet_b0 with options.num_classes() classes (positive; create_model
/// resolves 0), initialised as torchvision does. Images [N,3,H,W] float32; features [N,1280] (the
/// pooled output of the last 1x1 convolution); head `classifier.1`, after a Dropout(0.2).
/// Keys equal torchvision's.
Classifier efficientnet_b0(const ModelOptions& options);
/// efficientnet_b1: depth x1.1; features [N,1280]; dropout 0.2.
Classifier efficientnet_b1(const ModelOptions& options);
/// efficientnet_b2: width x1.1, depth x1.2; features [N,1408]; dropout 0.3.
Classifier efficientnet_b2(const ModelOptions& options);
/// efficientnet_b3: width x1.2, depth x1.4; features [N,1536]; dropout 0.3.
Classifier efficientnet_b3(const ModelOptions& options);
/// efficientnet_b4: width x1.4, depth x1.8; features [N,1792]; dropout 0.4.
Classifier efficientnet_b4(const ModelOptions& options);
/// efficientnet_b5: width x1.6, depth x2.2; features [N,2048]; dropout 0.4; batch norm eps 1e-3
/// and momentum 0.01 (its weights come from TensorFlow).
Classifier efficientnet_b5(const ModelOptions& options);
/// efficientnet_b6: width x1.8, depth x2.6; features [N,2304]; dropout 0.5; norm as b5.
Classifier efficientnet_b6(const ModelOptions& options);
/// efficientnet_b7: width x2.0, depth x3.1; features [N,2560]; dropout 0.5; norm as b5.
Classifier efficientnet_b7(const ModelOptions& options);
/// efficientnet_v2_s: fused MBConv in the first three stages; features [N,1280]; dropout 0.2;
/// batch norm eps 1e-3.
Classifier efficientnet_v2_s(const ModelOptions& options);
/// efficientnet_v2_m: as v2_s, deeper and wider; features [N,1280]; dropout 0.3.
Classifier efficientnet_v2_m(const ModelOptions& options);
/// efficientnet_v2_l: as v2_s, deeper and wider; features [N,1280]; dropout 0.4.
Classifier efficientnet_v2_l(const ModelOptions& options);

}  // namespace xfer::models
