#pragma once
// TFLite MobileNets (the Coral quantized ones) as state_dicts of xfer's `mobilenet_v1` and
// `mobilenet_v2`: dequantized weights, batch-norm already folded into them (docs/tflite.md).

#include "xfer/models/registry.h"
#include "xfer/pretrained/tflite.h"
#include "xfer/weights/checkpoint.h"

#include <torch/nn/module.h>

#include <optional>
#include <vector>

namespace xfer::pretrained {

/// What a TFLite MobileNet says about the model it came from, read from its graph.
struct TfliteModelShape {
  /// Output channels of the first convolution (32 × width multiplier for both MobileNets).
  int64_t stem_channels = 0;
  /// Classes of the last 1x1 convolution (1001 for the Coral files), or nullopt when the graph
  /// ends at the pooled features (a headless backbone, e.g. the V1 embedding extractor).
  std::optional<int64_t> num_classes;
  /// The input the graph expects: its H × W as `size` (resize 256/224 of it, as TF-slim's
  /// evaluation crops), its uint8 input quantization as mean = zero_point / 255 and
  /// std = 1 / (255 × scale), so that Normalize gives the same real values as TFLite's input.
  models::InputSpec input;
};

/// Reads the shape of the model in `parts` (one graph, or a backbone then its head).
/// Throws FormatError when the first graph has no convolution or its input is not [1, H, W, 3].
TfliteModelShape tflite_model_shape(const std::vector<TfliteGraph>& parts);

/// The weights of `parts` (the graphs of one network in execution order: one file, or a backbone
/// and then its head) as a state_dict for `model`, an xfer MobileNet built with the matching
/// width. The convolutions (CONV_2D, DEPTHWISE_CONV_2D) are paired in order with the model's
/// Conv2d modules in named_modules() order; a last extra 1x1 CONV_2D becomes the model's Linear
/// head. For each pair: conv weight = dequantized folded weight (OHWI → OIHW, depthwise 1HWC →
/// C1HW); the BatchNorm2d that follows the conv gets weight 1, bias = the folded bias,
/// running_mean 0, running_var 1 − eps, num_batches_tracked 0, so that it adds the bias and
/// nothing else. The head's keys are absent from the result when the graphs have no head.
/// Throws WeightMismatch naming the model key and the file's tensor when a shape, a stride or the
/// kind of convolution (depthwise or not) differs, or when the counts of convolutions differ;
/// FormatError for a convolution whose weights or bias are not constants.
weights::StateDict tflite_state_dict(const torch::nn::Module& model,
                                     const std::vector<TfliteGraph>& parts);

}  // namespace xfer::pretrained
