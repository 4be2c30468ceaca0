#pragma once
// Feature maps: what a layer of a model computes from one image, drawn channel by channel beside
// the image as the model sees it, each channel scaled to its own range and coloured with viridis.

#include "xfer/models/classifier.h"
#include "xfer/models/registry.h"
#include "xfer/transforms/image.h"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace xfer::viz {

/// Which channels of a layer's output a feature-map picture shows.
enum class ChannelChoice {
  /// Channels 0, 1, 2, ... in order.
  kFirst,
  /// The channels of largest mean absolute activation, most active first (ties: lower index).
  kMostActive,
};

/// How a feature-map picture is laid out.
struct FeatureMapOptions {
  /// Channels to show (fewer when the layer has fewer). At least 1.
  TORCH_ARG(int64_t, channels) = 6;
  /// Which channels.
  TORCH_ARG(ChannelChoice, choice) = ChannelChoice::kFirst;
  /// Smallest side of a channel's tile in pixels: each activation becomes a square block of
  /// ceil(tile / max(H, W)) pixels (nearest neighbour, so every block is one value). At least 1.
  TORCH_ARG(int64_t, tile) = 160;
  /// Panels per row, the input image included. At least 1.
  TORCH_ARG(int64_t, columns) = 7;
};

/// A rectangle of a picture, in pixels from its top-left corner.
struct Rect {
  /// Left column.
  int64_t x = 0;
  /// Top row.
  int64_t y = 0;
  /// Columns.
  int64_t width = 0;
  /// Rows.
  int64_t height = 0;
};

/// Where draw_feature_map puts things, for a map of a given size and a given number of tiles.
struct FeatureMapLayout {
  /// Size of the whole picture.
  int64_t width = 0;
  /// Size of the whole picture.
  int64_t height = 0;
  /// Pixels per activation, along both axes.
  int64_t scale = 1;
  /// The input image's panel.
  Rect input;
  /// The channel tiles in the order drawn; tile k shows channel `channels[k]` of the picture.
  std::vector<Rect> tiles;
};

/// The layout of a picture of `tiles` channels of an [·, map_height, map_width] output.
/// Throws InvalidArgument for a size or option < 1, or a picture above 16384 pixels a side.
FeatureMapLayout feature_map_layout(int64_t map_height, int64_t map_width, int64_t tiles,
                                    const FeatureMapOptions& options = {});

/// The channels of `activation` ([C, H, W] or [1, C, H, W], any floating dtype) that a picture
/// with `options` shows, in the order it shows them. Throws InvalidArgument for another shape.
std::vector<int64_t> choose_channels(const at::Tensor& activation,
                                     const FeatureMapOptions& options = {});

/// One channel of `activation` [C, H, W] as viridis colours, scaled to its own min..max (a
/// constant channel is all index 0), each value a `scale` × `scale` block: [H·scale, W·scale] RGB.
/// Throws InvalidArgument for another shape, a channel outside [0, C) or a scale < 1.
transforms::Image render_channel(const at::Tensor& activation, int64_t channel, int64_t scale);

/// A PNG of `display` (the image as the model sees it, uint8 RGB, any size: fit into the first
/// panel) beside the channels choose_channels picks of `activation` ([C, H, W] or [1, C, H, W]),
/// each titled "channel K" with its range, under the title `layer` and the output's shape,
/// laid out as feature_map_layout says. Throws InvalidArgument for another shape or bad options.
std::string draw_feature_map(const transforms::Image& display, const at::Tensor& activation,
                             const std::string& layer, const FeatureMapOptions& options = {});

/// An image prepared for a model: its eval transform applied, and the same pixels for display.
struct PreparedImage {
  /// [3, size, size] float32, normalised with the input's mean and std: the model's input.
  at::Tensor tensor;
  /// The resized and cropped image the tensor was made from, uint8 RGB (a grey image
  /// replicated): the tensor un-normalised.
  transforms::Image display;
};

/// Applies the eval transform `input` describes (resize, centre crop, normalise) to `image`.
/// Throws InvalidArgument for an empty image.
PreparedImage prepare_image(const transforms::Image& image, const models::InputSpec& input);

/// The outputs of `layers` of `model` for one image `tensor` [3, H, W] float32: by layer path,
/// [C, h, w] float32 on the CPU (a layer with a [1, K] output gives [K, 1, 1]). Runs under
/// NoGradGuard on the device of the model's parameters, in eval mode: modules in training mode
/// are switched to eval for the pass and back afterwards. Throws InvalidArgument for an unknown
/// layer (naming the closest valid paths), one that did not run, or an output that is not
/// [1, C, h, w] or [1, K].
std::map<std::string, at::Tensor> layer_outputs(models::ClassifierImpl& model,
                                                const at::Tensor& tensor,
                                                const std::vector<std::string>& layers);

/// The default layers to draw for `model`, in named_modules() order: the first convolution
/// (torch::nn::Conv2d) of the model's first block, and its last convolution. The first block is
/// found by descending from the model through the single child that holds every convolution, to
/// the first child holding more than one (without one, the first convolution is taken). Children
/// named `aux...` (GoogLeNet's auxiliary classifiers, which run only in training) are left out.
/// resnet18: layer1.0.conv1, layer4.1.conv2; mobilenet_v2: features.1.conv.0.0, features.18.0;
/// googlenet: inception3a.branch1.conv, inception5b.branch4.1.conv. Empty for a model without a
/// convolution; one layer when both rules pick the same one.
std::vector<std::string> feature_map_layers(const models::ClassifierImpl& model);

/// Draws a feature map of each of `layers` for `image` (prepared by prepare_image with `input`)
/// and writes them as `out_dir/<layer>.png`, each atomically, creating `out_dir`. Every picture
/// is drawn before the first is written. Returns the files written, in the order of `layers`.
/// Throws as layer_outputs and draw_feature_map, InvalidArgument for no layers or a repeated one,
/// IoError when a file cannot be written.
std::vector<std::filesystem::path> write_feature_maps(models::ClassifierImpl& model,
                                                      const models::InputSpec& input,
                                                      const transforms::Image& image,
                                                      const std::vector<std::string>& layers,
                                                      const std::filesystem::path& out_dir,
                                                      const FeatureMapOptions& options = {});

}  // namespace xfer::viz
