#pragma once
// The model zoo as data: for each architecture its factory, head, feature width, input
// specification and the pretrained weights known for it.

#include "xfer/models/classifier.h"
#include "xfer/models/input_spec.h"

#include <torch/arg.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace xfer::models {

/// Knobs of a model's construction; a field that a model does not have must stay at its default.
struct ModelOptions {
  /// Classes of the head; 0 means the model's default (1000 for ImageNet models, 10 for CIFAR).
  TORCH_ARG(int64_t, num_classes) = 0;
  /// Width multiplier of mobilenet_v1 (0.25, 0.5, 0.75 or 1.0); 1.0 for every other model.
  TORCH_ARG(double, width_mult) = 1.0;
  /// GoogLeNet's auxiliary classifiers (active in training mode only), as torchvision's aux_logits.
  TORCH_ARG(bool, aux_logits) = true;
  /// GoogLeNet's transform_input: re-normalise ImageNet-normalised input to the (x-0.5)/0.5 its
  /// original weights were trained on. torchvision turns it on for its pretrained weights.
  TORCH_ARG(bool, transform_input) = false;
  /// mobilenet_v1 and mobilenet_v2 only: pad every convolution as TensorFlow's SAME (a stride-2
  /// 3x3 convolution on an even size pads 0 before and 1 after, not 1 and 1), as weights imported
  /// from TFLite need (xfer::pretrained::load_pretrained sets it for them).
  TORCH_ARG(bool, tf_same_padding) = false;
  /// The Vision Transformers only: the side of the square images their position embeddings are
  /// made for (a multiple of the patch); 0 is the model's input size (its DEFAULT weights': 224,
  /// vit_h_14's 518). Other sizes still run, with the embeddings interpolated. Pretrained weights
  /// set it from their own embeddings.
  TORCH_ARG(int64_t, image_size) = 0;
};

/// Pretrained weights known for an architecture.
struct WeightsInfo {
  /// Name as torchvision spells it (`IMAGENET1K_V1`), or ours for other sources.
  std::string name;
  /// Official download address.
  std::string url;
  /// Full SHA-256 in hex, or the prefix torchvision puts in the file name.
  std::string sha256;
  /// File format: "pth", "pth-legacy" or "tflite".
  std::string format;
  /// Label set of the head: "imagenet1k", "imagenet1k+background", "cifar10".
  std::string labels;
  /// Published top-1 accuracy in percent on the label set's test/val split; 0 if none.
  double top1 = 0;
  /// Published top-5 accuracy in percent; 0 if none.
  double top5 = 0;
  /// Classes of the stored head; 0 for weights without a usable head (vgg16's
  /// IMAGENET1K_FEATURES, whose classifier torchvision stores as NaN).
  int64_t num_classes = 1000;
  /// ModelOptions::width_mult the weights were made for (mobilenet_v1 only).
  double width_mult = 1.0;
  /// Whether the weights expect ModelOptions::transform_input: GoogLeNet's and Inception v3's
  /// ImageNet weights, ported from TensorFlow's (x - 0.5) / 0.5 inputs; torchvision's builders
  /// switch it on whenever they load them.
  bool transform_input = false;
  /// Input these weights expect (every torchvision entry's own transform; the TFLite MobileNets'),
  /// when known; otherwise the architecture's.
  std::optional<InputSpec> input;
  /// For weights stored as a headless backbone (`url`) and a separate head file, the head's
  /// official address (the Coral MobileNetV1 1.0: `mobilenet_quant_v1_224_head_layers.tflite`, a
  /// 1x1 convolution to 1001 classes); empty for weights in one file. xfer::pretrained downloads
  /// it with the backbone and imports the two as one network.
  std::string head_url;
  /// Full SHA-256 in hex of the head file; empty when head_url is.
  std::string head_sha256;
};

/// The ModelOptions an architecture takes beyond num_classes; create_model refuses the others.
struct SupportedOptions {
  /// ModelOptions::width_mult other than 1.0.
  bool width_mult = false;
  /// ModelOptions::aux_logits false and transform_input true (GoogLeNet's).
  bool aux_logits_and_transform_input = false;
  /// ModelOptions::tf_same_padding (where TFLite weights exist for the architecture).
  bool tf_same_padding = false;
  /// ModelOptions::image_size other than 0 (the Vision Transformers').
  bool image_size = false;
};

/// One architecture of the zoo.
struct ModelInfo {
  /// torchvision's name (`resnet18`, `vgg16_bn`, ...), or the CIFAR ResNet's (`resnet20`).
  std::string name;
  /// One line for `xfer models`.
  std::string summary;
  /// Builds the model with `options` (num_classes already resolved to a positive count).
  std::function<Classifier(const ModelOptions&)> factory;
  /// Dotted path of the head (`fc`, `classifier.6`).
  std::string head_path;
  /// Width of the pooled features at width_mult 1.0.
  int64_t feature_dim = 0;
  /// Classes of the head when ModelOptions::num_classes is 0.
  int64_t default_classes = 1000;
  /// Input the model's default weights expect.
  InputSpec input;
  /// Pretrained weights known for it, default first (torchvision's DEFAULT).
  std::vector<WeightsInfo> weights;
  /// The options it takes beyond num_classes (none unless make_zoo sets them).
  SupportedOptions options{};
  /// Whether a fine-tune trains in NCHW instead of default_layout's choice: where channels_last
  /// measured slower for the training step (docs/BENCHMARKS.md, "Fine-tune step").
  bool finetune_in_nchw = false;
  /// Weight of each auxiliary classifier's loss in training (GoogLeNet's paper: 0.3); 0 for a
  /// model without auxiliary classifiers.
  double aux_loss_weight = 0;
  /// Parameters of the model at default_classes and width_mult 1.0 (torchvision's num_params).
  int64_t num_params = 0;
  /// Smallest input side the model takes (torchvision's min_size): a smaller image reaches a
  /// pooling or convolution with no pixel left. A Vision Transformer's patch (torchvision gives
  /// the size it was made for; xfer interpolates its position embeddings to any other).
  int64_t min_size = 1;
  /// Input sides the model takes are multiples of this: maxvit_t's 224, so that every block's grid
  /// divides into its 7 x 7 partitions; 1 for the others.
  int64_t size_multiple = 1;
  /// The current name of a key of the model's published checkpoints, where they predate its
  /// present module names (DenseNet's `norm.1` for `norm1`), as torchvision's loader renames them;
  /// empty for the others.
  std::function<std::string(const std::string&)> upgrade_key{};
};

/// Every architecture, in the order `xfer models` lists them.
const std::vector<ModelInfo>& all_models();

/// The architecture called `name`. Throws InvalidArgument listing the known names otherwise.
const ModelInfo& find_model(const std::string& name);

/// Builds `name` with `options`, default-initialised as torchvision initialises it, in training
/// mode. Throws InvalidArgument for an unknown name or an option the model does not have.
Classifier create_model(const std::string& name, const ModelOptions& options = {});

}  // namespace xfer::models
