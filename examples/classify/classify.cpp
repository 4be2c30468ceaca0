// classify: name what is in photos, with a model xfer trained or a zoo model and its weights.
//
// This is how a C++ program embeds xfer. It includes one header, links xfer::xfer (see
// CMakeLists.txt: find_package(xfer) against an installed prefix), opens a classifier and asks it
// for the top classes of each image. The classifier prepares every picture as the model was
// trained to see it (the run's eval transform, or the weights' own input spec), runs the images in
// batches, and reports every problem — a missing run, an unreadable image, weights that do not fit
// — as an exception whose message says what was expected and what was found.
//
//   classify RUN_DIR IMAGE...                  the best model of `xfer train --out RUN_DIR`
//   classify --model NAME --weights SRC IMAGE...   a zoo model: SRC is a weight file,
//                                                  `imagenet` or a registry weights name
//   --topk K   classes per image (3)
// Options come before the images.

#include <xfer/embed/classifier.h>

#include <cstdlib>
#include <exception>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

namespace {

int usage() {
  std::cerr << "usage: classify [--topk K] (RUN_DIR | --model NAME --weights SRC) IMAGE...\n"
               "classify: expected a run directory, or --model with --weights, then images\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string run, model, weights;
  int64_t topk = 3;
  std::vector<std::filesystem::path> images;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--model" && has_value) {
      model = argv[++i];
    } else if (arg == "--weights" && has_value) {
      weights = argv[++i];
    } else if (arg == "--topk" && has_value) {
      topk = std::atoi(argv[++i]);
    } else if (arg.rfind("--", 0) == 0) {
      return usage();
    } else if (model.empty() && run.empty()) {
      run = arg;
    } else {
      images.push_back(arg);
    }
  }
  const bool from_run = !run.empty() && model.empty() && weights.empty();
  const bool from_weights = run.empty() && !model.empty() && !weights.empty();
  if (images.empty() || from_run == from_weights) return usage();
  try {
    const auto classifier = model.empty() ? xfer::Classifier::open_run(run)
                                          : xfer::Classifier::open_weights(model, weights);
    const auto predictions = classifier.classify(images, topk);
    for (size_t i = 0; i < images.size(); ++i) {
      std::cout << images[i].string() << "\n";
      const auto& top = predictions[i];
      for (size_t j = 0; j < top.labels.size(); ++j) {
        std::cout << "  " << std::fixed << std::setprecision(4) << top.probabilities[j] << "  "
                  << top.labels[j] << " (" << top.indices[j] << ")\n";
      }
    }
  } catch (const std::exception& error) {
    std::cerr << "classify: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
