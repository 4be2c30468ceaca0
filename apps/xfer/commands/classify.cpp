#include "commands/classify.h"

#include "commands/common.h"
#include "xfer/core/error.h"
#include "xfer/embed/classifier.h"
#include "xfer/transforms/image.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

namespace xfer::cli {
namespace {

// What both commands take besides where the model comes from.
struct TopkOptions {
  RuntimeOptions runtime;
  int64_t topk = 5;
  bool json = false;
  std::string tta = "none";
  std::vector<std::string> images;
};

struct PredictOptions {
  TopkOptions topk;
  std::string run;
};

struct ClassifyOptions {
  TopkOptions topk;
  std::string model;
  std::string weights;
  std::string weights_url;
  std::string view = "crop";
};

// Every image decoded before the model is read, so that a bad one fails fast.
std::vector<transforms::Image> decode_all(const std::vector<std::string>& files) {
  std::vector<transforms::Image> images;
  for (const auto& file : files) images.push_back(transforms::decode_image(file));
  return images;
}

ClassifierOptions classifier_options(const Runtime& runtime, const TopkOptions& options) {
  return ClassifierOptions()
      .device(runtime.device)
      .precision(runtime.precision)
      .fuse(runtime.fuse)
      .log(print_note)
      .tta_flip(tta_views(options.tta).flip)
      .tta_five_crop(tta_views(options.tta).five_crop);
}

// Per image: its file, then "  0.9123  label (index)" lines; with `json` one object per image:
// image, indices, labels, probabilities.
void print_predictions(const TopkOptions& options, const std::vector<Prediction>& predictions) {
  for (size_t i = 0; i < predictions.size(); ++i) {
    const auto& prediction = predictions[i];
    if (options.json) {
      const nlohmann::ordered_json json = {{"image", options.images[i]},
                                           {"indices", prediction.indices},
                                           {"labels", prediction.labels},
                                           {"probabilities", prediction.probabilities}};
      std::cout << json.dump() << "\n";
      continue;
    }
    std::cout << options.images[i] << "\n";
    for (size_t j = 0; j < prediction.indices.size(); ++j) {
      std::cout << "  " << std::fixed << std::setprecision(4) << prediction.probabilities[j]
                << "  " << prediction.labels[j] << " (" << prediction.indices[j] << ")\n";
    }
  }
  std::cout << std::flush;
}

void run_predict(const PredictOptions& options) {
  const Runtime runtime = apply(options.topk.runtime);
  const auto images = decode_all(options.topk.images);
  const auto classifier =
      Classifier::open_run(options.run, classifier_options(runtime, options.topk));
  print_predictions(options.topk, classifier.classify(images, options.topk.topk));
}

void run_classify(const ClassifyOptions& options) {
  const std::string& tta = options.topk.tta;
  if (options.view == "whole" && tta_views(tta).five_crop) {
    throw InvalidArgument("--tta " + tta + ": expected --view crop (the crops are cut from the "
                          "resized image), got --view whole");
  }
  const Runtime runtime = apply(options.topk.runtime);
  const auto images = decode_all(options.topk.images);
  const auto classifier = [&] {
    ProgressPrinter progress(options.model + " " + options.weights);  // its line ends here
    return Classifier::open_weights(
        options.model, options.weights,
        classifier_options(runtime, options.topk)
            .progress([&progress](std::uint64_t done, std::uint64_t total) {
              progress.report(done, total);
            })
            .weights_url(options.weights_url)
            .whole_image(options.view == "whole"));
  }();
  if (!options.topk.json) {
    std::cout << classifier.description() << "\n";
    for (const auto& note : classifier.notes()) std::cout << "note: " << note << "\n";
  }
  print_predictions(options.topk, classifier.classify(images, options.topk.topk));
}

// --topk, --json, the runtime options and the image files.
void add_topk_options(CLI::App& command, TopkOptions& options) {
  options.runtime.precision = "auto";
  add_runtime_options(command, options.runtime);
  add_fuse_option(command, options.runtime);
  command.add_option("--topk", options.topk, "Classes to print per image")
      ->check(at_least(1))
      ->capture_default_str();
  command.add_flag("--json", options.json,
                   "One JSON object per image: image, indices, labels, probabilities");
  command.add_option("images", options.images, "Image files (JPEG, PNG, BMP, ...)")->required();
  add_tta_option(command, options.tta);
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  auto* command = app.add_subcommand(
      "predict", "Top-k classes of images under a run's best model and its eval transform");
  command->add_option("run", options->run, "Run directory")->required()->check(CLI::ExistingDirectory);
  add_topk_options(*command, options->topk);
  command->callback([options] { run_predict(*options); });
}

void add_classify_command(CLI::App& app) {
  auto options = std::make_shared<ClassifyOptions>();
  auto* command = app.add_subcommand(
      "classify", "Print the top-k classes of images under a model with pretrained weights");
  command->add_option("--model", options->model, "Architecture (see `xfer models`)")->required();
  command
      ->add_option("--weights", options->weights,
                   "A weight file (.pth, .th, .safetensors, .tflite), `imagenet` or a registry "
                   "weights name (see `xfer models --weights`)")
      ->required();
  command->add_option("--weights-url", options->weights_url,
                      "Download from this address instead of the registry's (a mirror)");
  command
      ->add_option("--view", options->view,
                   "crop: resize the shorter side and take the centre (torchvision's eval "
                   "transform); whole: resize the whole picture to the input square")
      ->check(CLI::IsMember({"crop", "whole"}))
      ->capture_default_str();
  add_topk_options(*command, options->topk);
  command->callback([options] { run_classify(*options); });
}

}  // namespace xfer::cli
