#pragma once
// DenseNet-121/161/169/201 (Huang et al. 2016), mirroring torchvision 0.14
// torchvision/models/densenet.py.

#include "xfer/models/registry.h"

#include <string>

namespace xfer::models {

// torchvision's DenseNet-BC: `features` = conv0 (7x7/2), norm0, relu0, pool0, then dense blocks
// `denseblock1..4` (layers `denselayer<i>`: norm1, relu1, 1x1 conv1 to 4 x growth, norm2, relu2,
// 3x3 conv2 to growth channels, each layer seeing the concatenation of all before it) with
// `transition1..3` between them (norm, relu, 1x1 conv halving the channels, 2x2 average pool),
// and norm5; then a ReLU, global average pooling and the head `classifier`. Initialised as
// torchvision (Kaiming-normal fan-in convolutions, batch-norm 1/0, zero Linear bias). Images
// [N,3,H,W] float32.

/// densenet121: growth 32, blocks 6/12/24/16; features [N,1024].
Classifier densenet121(const ModelOptions& options);
/// densenet161: growth 48, blocks 6/12/36/24, 96 stem channels; features [N,2208].
Classifier densenet161(const ModelOptions& options);
/// densenet169: growth 32, blocks 6/12/32/32; features [N,1664].
Classifier densenet169(const ModelOptions& options);
/// densenet201: growth 32, blocks 6/12/48/32; features [N,1920].
Classifier densenet201(const ModelOptions& options);

/// The current name of a key of torchvision's published DenseNet checkpoints, which predate the
/// layers' present names: `...denselayer1.norm.1.weight` becomes `...denselayer1.norm1.weight`
/// (torchvision's own loader renames them the same way); other keys are returned unchanged.
std::string upgrade_densenet_key(const std::string& key);

}  // namespace xfer::models
