#include "commands/maps.h"


#include "commands/common.h"
#include "xfer/core/error.h"
#include "xfer/models/registry.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/train/trainer.h"
#include "xfer/transforms/image.h"
#include "xfer/viz/feature_maps.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace xfer::cli {
namespace {

struct MapsOptions {
  RuntimeOptions runtime;
  std::string model;
  std::string weights;
  std::string weights_url;
  std::string image;
  std::vector<std::string> layers;
  std::string channels = "6";
  std::string out = "maps";
};

// --channels: `N` (the first N), `top` (the 6 most active) or `top:N`.
viz::FeatureMapOptions parse_channels(const std::string& text) {
  viz::FeatureMapOptions options;
  std::string count = text;
  if (text == "top" || text.rfind("top:", 0) == 0) {
    options.choice(viz::ChannelChoice::kMostActive);
    count = text == "top" ? "6" : text.substr(4);
  }
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(count, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (count.empty() || used != count.size() || n < 1 || n > 512) {
    throw InvalidArgument("--channels: expected N (1 to 512), top or top:N, got '" + text + "'");
  }
  return options.channels(n);
}

// A model holding its weights, and how its images are prepared.
struct LoadedModel {
  models::Classifier model;
  models::InputSpec input;
};

// --weights SRC: a weight file, `imagenet` or a registry weights name. (A run directory, its
// best weights and the input its training used, belongs here too.)
LoadedModel load_model(const MapsOptions& options) {
  std::error_code error;
  if (std::filesystem::is_directory(options.weights, error)) {
    // A run directory: its best weights, and the input as the run fed it.
    auto trained = train::load_run(options.weights);
    if (trained.config.model != options.model) {
      throw InvalidArgument("weights: the run '" + options.weights + "' trained " +
                            trained.config.model + ", expected " + options.model);
    }
    std::cout << options.model << " with the best weights of run " << options.weights << "\n";
    return {trained.model, trained.input};
  }
  auto loaded = pretrained::load_pretrained(
      options.model, options.weights,
      pretrained::PretrainedOptions().url_override(options.weights_url));
  std::cout << options.model << " with " << loaded.weights.file << " (" << loaded.weights.format
            << ")\n";
  for (const auto& note : loaded.weights.notes) std::cout << "note: " << note << "\n";
  return {loaded.model, loaded.weights.input};
}

void run_maps(const MapsOptions& options) {
  const Runtime runtime = apply(options.runtime);
  models::find_model(options.model);
  const auto feature_options = parse_channels(options.channels);
  // The image is decoded before the weights are read, so a bad one fails fast.
  const auto image = transforms::decode_image(options.image);
  auto [model, input] = load_model(options);
  model->to(runtime.device);
  const auto layers = options.layers.empty() ? viz::feature_map_layers(*model) : options.layers;
  if (layers.empty()) {
    throw InvalidArgument(options.model +
                          ": has no convolution to draw; name layers with --layers");
  }
  PrecisionScope precision(runtime.precision, runtime.device);
  for (const auto& file :
       viz::write_feature_maps(*model, input, image, layers, options.out, feature_options)) {
    std::cout << "wrote " << file.string() << "\n";
  }
}

}  // namespace

void add_maps_command(CLI::App& app) {
  auto options = std::make_shared<MapsOptions>();
  auto* command = app.add_subcommand(
      "maps",
      "Draw feature maps: the image as the model sees it beside channels of named layers' "
      "outputs (viridis, each channel scaled to its own range), one PNG per layer");
  add_runtime_options(*command, options->runtime);
  command->add_option("--model", options->model, "Architecture (see `xfer models`)")->required();
  command
      ->add_option("--weights", options->weights,
                   "A weight file (.pth, .th, .safetensors, .tflite), `imagenet`, a registry "
                   "weights name (see `xfer models --weights`) or a run directory (its best)")
      ->required();
  command->add_option("--weights-url", options->weights_url,
                      "Download from this address instead of the registry's (a mirror)");
  command->add_option("--image", options->image, "The image (JPEG, PNG, BMP, ...)")->required();
  command
      ->add_option("--layers", options->layers,
                   "Module paths as named_modules() lists them, comma-separated (default: the "
                   "first convolution of the first block and the last convolution)")
      ->delimiter(',');
  command
      ->add_option("--channels", options->channels,
                   "N: the first N channels; top: the 6 most active (largest mean |activation|); "
                   "top:N: the N most active")
      ->check(CLI::Validator(
          [](std::string& value) {
            try {
              parse_channels(value);
            } catch (const InvalidArgument& e) {
              return std::string(e.what());
            }
            return std::string();
          },
          "N|top|top:N"))
      ->capture_default_str();
  command->add_option("--out", options->out, "Directory of the PNGs (<layer>.png), created")
      ->capture_default_str();
  command->callback([options] { run_maps(*options); });
}

}  // namespace xfer::cli
