#include "commands/models.h"

#include "commands/common.h"
#include "xfer/models/registry.h"

#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace xfer::cli {
namespace {

struct ModelsOptions {
  RuntimeOptions runtime;
  bool weights = false;
};

std::string input_text(const models::InputSpec& input) {
  std::ostringstream out;
  out << input.size << "px";
  if (input.resize != input.size) out << " (resize " << input.resize << ")";
  if (input.interpolation != Interpolation::kBilinear) {
    out << " " << interpolation_name(input.interpolation);
  }
  return out.str();
}

// A parameter count in millions: "11.7M", "0.27M".
std::string params_text(int64_t count) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(count < 1000000 ? 2 : 1) << count / 1e6 << "M";
  return out.str();
}

std::string weights_text(const models::WeightsInfo& weights) {
  std::ostringstream out;
  out << weights.name;
  if (weights.top1 > 0) out << " " << std::fixed << std::setprecision(1) << weights.top1 << "%";
  return out.str();
}

void run_models(const ModelsOptions& options) {
  apply(options.runtime);
  std::cout << std::left << std::setw(20) << "model" << std::setw(14) << "head" << std::setw(9)
            << "features" << std::setw(8) << "classes" << std::setw(8) << "params" << std::setw(28)
            << "input"
            << "pretrained weights (top-1)\n";
  for (const auto& info : models::all_models()) {
    std::string weights;
    for (const auto& known : info.weights) {
      weights += (weights.empty() ? "" : ", ") + weights_text(known);
    }
    std::cout << std::left << std::setw(20) << info.name << std::setw(14) << info.head_path
              << std::setw(9) << info.feature_dim << std::setw(8) << info.default_classes
              << std::setw(8) << params_text(info.num_params) << std::setw(28)
              << input_text(info.input) << weights << "\n";
  }
  if (!options.weights) return;
  std::cout << "\n";
  for (const auto& info : models::all_models()) {
    for (const auto& known : info.weights) {
      std::cout << info.name << " " << known.name << "  " << known.format << "  "
                << (known.labels.empty() ? "no head" : known.labels) << " (" << known.num_classes
                << " classes)  sha256 " << known.sha256;
      if (known.input) std::cout << "  input " << input_text(*known.input);
      std::cout << "\n    " << known.url << "\n";
    }
  }
}

}  // namespace

void add_models_command(CLI::App& app) {
  auto options = std::make_shared<ModelsOptions>();
  auto* command = app.add_subcommand(
      "models",
      "List the architectures of the zoo: head, feature width, parameters, input, known weights");
  add_threads_option(*command, options->runtime);
  command->add_flag("--weights", options->weights,
                    "Also list each known weight file: format, label set, SHA-256, input, URL");
  command->callback([options] { run_models(*options); });
}

}  // namespace xfer::cli
