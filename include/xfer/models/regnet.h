#pragma once
// RegNetX and RegNetY (Radosavovic et al. 2020), mirroring torchvision 0.14
// torchvision/models/regnet.py.

#include "xfer/models/registry.h"

namespace xfer::models {

// torchvision's RegNet: `stem` (3x3/2 convolution to 32 channels, batch-norm, ReLU),
// `trunk_output` of four stages `block1`..`block4` whose residual bottleneck blocks
// `block<s>-<i>` hold `proj` (a 1x1 projection, in the first block of a stage), `f` (children `a`
// 1x1, `b` grouped 3x3 carrying the stride, [`se` squeeze-and-excitation for RegNetY], `c` 1x1)
// and `activation`; then `avgpool` and the head `fc`. Each is initialised as torchvision does
// (convolution weights normal(0, sqrt(2 / fan_out)), batch-norm 1/0, Linear normal(0, 0.01) with
// zero bias), takes images [N,3,H,W] float32 and gives features [N, width of the last stage].

/// regnet_y_400mf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_400mf(const ModelOptions& options);
/// regnet_y_800mf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_800mf(const ModelOptions& options);
/// regnet_y_1_6gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_1_6gf(const ModelOptions& options);
/// regnet_y_3_2gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_3_2gf(const ModelOptions& options);
/// regnet_y_8gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_8gf(const ModelOptions& options);
/// regnet_y_16gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_16gf(const ModelOptions& options);
/// regnet_y_32gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_32gf(const ModelOptions& options);
/// regnet_y_128gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_y_128gf(const ModelOptions& options);
/// regnet_x_400mf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_x_400mf(const ModelOptions& options);
/// regnet_x_800mf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_x_800mf(const ModelOptions& options);
/// regnet_x_1_6gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_x_1_6gf(const ModelOptions& options);
/// regnet_x_3_2gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_x_3_2gf(const ModelOptions& options);
/// regnet_x_8gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_x_8gf(const ModelOptions& options);
/// regnet_x_16gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_x_16gf(const ModelOptions& options);
/// regnet_x_32gf, default-initialised as the reference does; see registry.cpp.
Classifier regnet_x_32gf(const ModelOptions& options);

}  // namespace xfer::models
