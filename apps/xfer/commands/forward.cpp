#include "commands/forward.h"

#include "commands/common.h"
#include "xfer/core/error.h"
#include "xfer/infer/frozen.h"
#include "xfer/models/registry.h"

#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace xfer::cli {
namespace {

struct ForwardOptions {
  RuntimeOptions runtime;
  std::vector<std::string> models;
  int64_t batch = 2;
  int64_t size = 0;
  std::string layout = "auto";
  int repeats = 1;
};

std::string shape_text(const torch::Tensor& tensor) {
  std::ostringstream out;
  out << "[";
  for (int64_t i = 0; i < tensor.dim(); ++i) out << (i ? "," : "") << tensor.size(i);
  out << "]";
  return out.str();
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

void run_forward(const ForwardOptions& options) {
  const Runtime runtime = apply(options.runtime);
  std::vector<std::string> names = options.models;
  if (names.empty()) {
    for (const auto& info : models::all_models()) names.push_back(info.name);
  }
  for (const auto& name : names) models::find_model(name);  // every name checked before any work
  if (options.layout != "auto") parse_layout(options.layout);

  std::cout << "forward pass, batch " << options.batch << ", " << runtime.threads
            << " threads, " << to_string(runtime.precision) << ", "
            << (runtime.fuse ? "fused" : "eager") << ", " << runtime.device.str()
            << " (time: median of " << options.repeats << " after one warm-up)\n";
  std::cout << std::left << std::setw(20) << "model" << std::setw(18) << "input" << std::setw(16)
            << "layout" << std::setw(14) << "logits" << std::setw(14) << "features"
            << std::right << std::setw(10) << "ms" << std::setw(10) << "img/s\n";
  torch::NoGradGuard no_grad;
  for (const auto& name : names) {
    const auto& info = models::find_model(name);
    const int64_t side = options.size > 0 ? options.size : info.input.size;
    const Layout layout =
        options.layout == "auto" ? default_layout(side) : parse_layout(options.layout);
    auto model = models::create_model(name);
    model->eval();
    model->to(runtime.device);
    set_layout(*model, layout);
    const auto images = to_layout(
        torch::randn({options.batch, 3, side, side}, torch::TensorOptions().device(runtime.device)),
        layout);
    infer::FrozenBackbone backbone(*model, {runtime.precision, runtime.fuse, print_note});
    // Warm-up (the graph traced and folded, oneDNN's primitives made), and the features' shape.
    torch::Tensor features = backbone.features(images);
    std::vector<double> times;
    torch::Tensor logits;
    for (int i = 0; i < options.repeats; ++i) {
      const auto start = std::chrono::steady_clock::now();
      logits = backbone.logits(images);
      if (runtime.device.is_cuda()) torch::cuda::synchronize();
      times.push_back(milliseconds_since(start));
    }
    std::sort(times.begin(), times.end());
    const double ms = times[times.size() / 2];
    std::cout << std::left << std::setw(20) << name << std::setw(18) << shape_text(images)
              << std::setw(16) << to_string(layout) << std::setw(14) << shape_text(logits)
              << std::setw(14) << shape_text(features) << std::right << std::fixed
              << std::setprecision(1) << std::setw(10) << ms << std::setw(9)
              << options.batch * 1000.0 / ms << "\n";
  }
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto options = std::make_shared<ForwardOptions>();
  auto* command = app.add_subcommand(
      "forward",
      "Run a forward pass of every model (or those of --models) on a random batch: shapes, time");
  options->runtime.precision = "auto";
  add_runtime_options(*command, options->runtime);
  add_fuse_option(*command, options->runtime);
  command->add_option("--models", options->models, "Models to run (default: all), comma separated")
      ->delimiter(',');
  command->add_option("--batch", options->batch, "Images per batch")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--size", options->size, "Image side in pixels; 0 = the model's own")
      ->check(at_least(0))
      ->capture_default_str();
  command
      ->add_option("--layout", options->layout,
                   "auto (channels_last from 112 px on), nchw or channels_last")
      ->check(CLI::IsMember({"auto", "nchw", "channels_last"}))
      ->capture_default_str();
  command->add_option("--repeats", options->repeats, "Timed forward passes (median reported)")
      ->check(at_least(1))
      ->capture_default_str();
  command->callback([options] { run_forward(*options); });
}

}  // namespace xfer::cli
