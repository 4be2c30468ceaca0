#pragma once
// MaxViT-T (Tu et al. 2022), mirroring torchvision 0.14 torchvision/models/maxvit.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// torchvision's maxvit_t with options.num_classes() classes (positive; create_model resolves 0):
/// `stem` (3x3 stride-2 convolution, BatchNorm, GELU; 3x3 convolution), four `blocks` of 2, 2, 5
/// and 2 layers at widths 64, 128, 256, 512, each layer an MBConv (the first of a block strides
/// 2) followed by attention within 7 x 7 windows and across a 7 x 7 grid (heads of 32 channels,
/// relative position bias), and `classifier` (average pool, flatten, LayerNorm, Linear 512, Tanh,
/// then the bias-free head `classifier.5`). Features [N,512] (after the Tanh). Images
/// [N,3,H,W] float32 with H and W multiples of 224 (every block's grid then divides into 7 x 7
/// partitions; torchvision fixes the size at construction, here it is read from each input).
/// Initialised as torchvision (convolutions and Linears normal std 0.02, zero bias); its
/// BatchNorms are TensorFlow's eps 1e-3 with torchvision's momentum 0.99.
Classifier maxvit_t(const ModelOptions& options);

}  // namespace xfer::models
