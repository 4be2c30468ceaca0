#pragma once
// SqueezeNet 1.0 and 1.1 (Iandola et al. 2016), mirroring torchvision 0.14
// torchvision/models/squeezenet.py.

#include "xfer/models/registry.h"

namespace xfer::models {

// torchvision's SqueezeNet: `features` (a stem convolution, ReLU, ceil-mode max-pools and eight
// Fire modules: `squeeze` 1x1 and its ReLU, then `expand1x1` and `expand3x3` with their ReLUs,
// concatenated) and `classifier` = Dropout(0.5), the head `classifier.1`, ReLU, global average
// pool. torchvision's head is a 1x1 convolution that classifies every position of the
// [N, 512, h, w] map before the pooling, so its logits are no function of pooled features: while
// the model keeps it, classifies_features() is false and forward() is the way to logits. A head
// from reset_head() or replace_head() classifies the pooled features [N, 512] (after the dropout),
// as every other model's does; transfer always puts one on. Initialised as torchvision does:
// convolutions kaiming_uniform_ (the head normal(0, 0.01)), biases zero. Images [N,3,H,W] float32
// with H, W >= 21 (1.0) or 17 (1.1).

/// squeezenet1_0: a 7x7/2 stem with 96 channels.
Classifier squeezenet1_0(const ModelOptions& options);
/// squeezenet1_1: a 3x3/2 stem with 64 channels and earlier pooling, 2.3x less computation.
Classifier squeezenet1_1(const ModelOptions& options);

}  // namespace xfer::models
