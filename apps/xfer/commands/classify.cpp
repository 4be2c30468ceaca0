#include "commands/classify.h"

#include "commands/common.h"
#include "xfer/models/registry.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/transforms/image.h"
#include "xfer/transforms/transform.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <memory>

namespace xfer::cli {
namespace {

struct ClassifyOptions {
  RuntimeOptions runtime;
  std::string model;
  std::string weights;
  std::string weights_url;
  int64_t topk = 5;
  bool json = false;
  std::string view = "crop";
  std::vector<std::string> images;
};

void run_classify(const ClassifyOptions& options) {
  const Runtime runtime = apply(options.runtime);
  models::find_model(options.model);
  // Every image is decoded before the weights are read, so a bad one fails fast.
  std::vector<transforms::Image> images;
  for (const auto& file : options.images) images.push_back(transforms::decode_image(file));

  auto loaded = [&options] {
    ProgressPrinter progress(options.model + " " + options.weights);  // its line ends here
    return pretrained::load_pretrained(
        options.model, options.weights,
        pretrained::PretrainedOptions()
            .progress([&progress](std::uint64_t done, std::uint64_t total) {
              progress.report(done, total);
            })
            .url_override(options.weights_url));
  }();
  const auto& weights = loaded.weights;
  if (!options.json) {
    std::cout << options.model << " with " << weights.file << " (" << weights.format << ")\n";
    for (const auto& note : weights.notes) std::cout << "note: " << note << "\n";
  }
  transforms::EvalParams params;
  params.size = weights.input.size;
  params.resize = weights.input.resize;
  params.mean = weights.input.mean;
  params.std = weights.input.std;
  // "whole" squeezes the entire picture into the input square, as Coral's own examples do;
  // "crop" is torchvision's eval transform (shorter side, then the centre).
  const auto transform =
      options.view == "whole"
          ? transforms::Transform()
                .resize(transforms::Size{params.size, params.size})
                .normalize(params.mean, params.std)
          : transforms::Transform::eval(params);

  auto& model = loaded.model;
  model->to(runtime.device);
  torch::NoGradGuard no_grad;
  PrecisionScope precision(runtime.precision, runtime.device);
  for (size_t i = 0; i < images.size(); ++i) {
    const auto batch = transform(images[i], 0).unsqueeze(0).to(runtime.device);
    const auto probabilities = torch::softmax(model->forward(batch).to(torch::kFloat32), 1)[0].cpu();
    const int64_t k = std::min<int64_t>(options.topk, probabilities.size(0));
    const auto top = probabilities.topk(k);
    const auto values = std::get<0>(top);
    const auto indices = std::get<1>(top);
    nlohmann::ordered_json result;
    result["image"] = options.images[i];
    result["indices"] = nlohmann::ordered_json::array();
    result["labels"] = nlohmann::ordered_json::array();
    result["probabilities"] = nlohmann::ordered_json::array();
    if (!options.json) std::cout << options.images[i] << "\n";
    for (int64_t j = 0; j < k; ++j) {
      const int64_t index = indices[j].item<int64_t>();
      const double probability = values[j].item<double>();
      const std::string label = index < static_cast<int64_t>(weights.labels.size())
                                    ? weights.labels[static_cast<size_t>(index)]
                                    : "class " + std::to_string(index);
      result["indices"].push_back(index);
      result["labels"].push_back(label);
      result["probabilities"].push_back(probability);
      if (!options.json) {
        std::cout << "  " << std::fixed << std::setprecision(4) << probability << "  " << label
                  << " (" << index << ")\n";
      }
    }
    if (options.json) std::cout << result.dump() << "\n";
  }
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto options = std::make_shared<ClassifyOptions>();
  auto* command = app.add_subcommand(
      "classify", "Print the top-k classes of images under a model with pretrained weights");
  add_runtime_options(*command, options->runtime);
  command->add_option("--model", options->model, "Architecture (see `xfer models`)")->required();
  command
      ->add_option("--weights", options->weights,
                   "A weight file (.pth, .th, .safetensors, .tflite), `imagenet` or a registry "
                   "weights name (see `xfer models --weights`)")
      ->required();
  command->add_option("--weights-url", options->weights_url,
                      "Download from this address instead of the registry's (a mirror)");
  command->add_option("--topk", options->topk, "Classes to print per image")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command
      ->add_option("--view", options->view,
                   "crop: resize the shorter side and take the centre (torchvision's eval "
                   "transform); whole: resize the whole picture to the input square")
      ->check(CLI::IsMember({"crop", "whole"}))
      ->capture_default_str();
  command->add_flag("--json", options->json,
                    "One JSON object per image: image, indices, labels, probabilities");
  command->add_option("images", options->images, "Image files (JPEG, PNG, BMP, ...)")
      ->required();
  command->callback([options] { run_classify(*options); });
}

}  // namespace xfer::cli
