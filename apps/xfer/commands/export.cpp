#include "commands/export.h"

#include "commands/common.h"
#include "xfer/core/error.h"
#include "xfer/deploy/onnx.h"
#include "xfer/deploy/torchscript.h"
#include "xfer/download/digest.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/run/files.h"
#include "xfer/train/trainer.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace xfer::cli {
namespace {

struct ExportOptions {
  RuntimeOptions runtime;
  std::string run;
  std::string model;
  std::string weights;
  std::string format = "onnx";
  std::string out;
  bool features = false;
  bool probabilities = false;
  bool external_data = false;
};

// What the exported file needs besides its graph, wherever the model came from.
struct Source {
  models::Classifier model;
  std::string model_name;
  std::vector<std::string> classes;
  models::InputSpec input;
  // "shorter side to resize, centre crop to size" or "resize to size x size" (no crop).
  bool crop = true;
  std::filesystem::path weights_file;
  std::string description;
};

Source from_run(const std::string& run_dir) {
  const auto trained = train::load_run(run_dir);
  Source source;
  source.model = trained.model;
  source.model_name = trained.config.model;
  source.classes = trained.classes;
  source.input = trained.input;
  source.crop = trained.config.image_size == 0;
  source.weights_file = run::RunDirectory(run_dir).best_weights();
  source.description = "xfer run " + run_dir + ": " + trained.config.model + ", " +
                       train::spelling(trained.config.strategy) + " on " + trained.config.data;
  return source;
}

Source from_weights(const std::string& model, const std::string& weights) {
  if (model.empty() || weights.empty()) {
    throw InvalidArgument(
        "export: expected a run directory, or --model with --weights; found " +
        std::string(model.empty() ? "no --model" : "no --weights"));
  }
  auto loaded = pretrained::load_pretrained(model, weights);
  Source source;
  source.model = loaded.model;
  source.model_name = model;
  source.classes = loaded.weights.labels;
  source.input = loaded.weights.input;
  source.weights_file = loaded.weights.file;
  source.description = model + " with " + weights + " (" + loaded.weights.format + ")";
  return source;
}

void run_export(const ExportOptions& options) {
  apply(options.runtime);
  if (!options.run.empty() && (!options.model.empty() || !options.weights.empty())) {
    throw InvalidArgument("export: expected a run directory or --model/--weights, found both");
  }
  Source source =
      options.run.empty() ? from_weights(options.model, options.weights) : from_run(options.run);
  const nlohmann::ordered_json input = {
      {"size", source.input.size},
      {"resize", source.crop ? source.input.resize : source.input.size},
      {"crop", source.crop},
      {"mean", source.input.mean},
      {"std", source.input.std},
      {"layout", "NCHW, RGB, scaled to [0, 1], then (x - mean) / std"}};
  const std::vector<std::pair<std::string, std::string>> metadata = {
      {"xfer.version", XFER_VERSION},
      {"xfer.model", source.model_name},
      {"xfer.classes", nlohmann::json(source.classes).dump(-1, ' ', false,
                                                           nlohmann::json::error_handler_t::replace)},
      {"xfer.input", input.dump()},
      {"xfer.weights_sha256", download::sha256_file(source.weights_file)},
  };
  if (options.format == "torchscript") {
    if (options.features || options.probabilities) {
      throw InvalidArgument("export: --features and --probabilities are outputs of the ONNX "
                            "format; TorchScript's forward returns the logits");
    }
    deploy::TorchScriptOptions torchscript;
    torchscript.input_size = source.input.size;
    nlohmann::ordered_json extra;  // the same keys, the JSON ones as JSON
    for (const auto& [key, value] : metadata) extra[key] = value;
    extra["xfer.classes"] = source.classes;
    extra["xfer.input"] = input;
    torchscript.extra_files["xfer.json"] =
        extra.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    deploy::write_torchscript(*source.model, torchscript, options.out);
    std::cout << "wrote " << options.out << ": " << source.description << "\n"
              << "  TorchScript module xfer.Classifier: forward(input [N, 3, " << source.input.size
              << ", " << source.input.size << "] float32) -> logits; extra file xfer.json"
              << std::endl;
    return;
  }
  deploy::OnnxOptions onnx;
  onnx.input_size = source.input.size;
  onnx.features = options.features;
  onnx.probabilities = options.probabilities;
  onnx.description = source.description;
  onnx.metadata = metadata;
  onnx.external_data = options.external_data;
  const auto made = deploy::write_onnx(*source.model, onnx, options.out);
  std::cout << "wrote " << made.file.string() << ": " << source.description << "\n"
            << "  input [N, 3, " << source.input.size << ", " << source.input.size
            << "] float32; outputs logits" << (options.features ? ", features" : "")
            << (options.probabilities ? ", probabilities" : "") << "; opset "
            << deploy::kOnnxOpset << ", " << made.nodes << " nodes, " << made.initializers
            << " initializers\n  operators:";
  for (const auto& op : made.operators) std::cout << " " << op;
  if (!made.data_file.empty()) {
    std::cout << "\n  weights beside it in " << made.data_file.string()
              << " (ONNX external data: keep the two files together)";
  }
  std::cout << std::endl;
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  auto* command = app.add_subcommand(
      "export",
      "Write a run's best model (or a zoo model with pretrained weights) as an ONNX file for "
      "ONNX Runtime, OpenCV DNN and other runtimes, or as TorchScript");
  command->footer(
      "The file's input is `input` [N, 3, S, S] float32 (N dynamic), prepared as its metadata "
      "`xfer.input` says; its outputs are `logits` and, when asked, `features` and "
      "`probabilities`. Metadata: xfer.version, xfer.model, xfer.classes (JSON), xfer.input "
      "(JSON), xfer.weights_sha256 (TorchScript: the same keys in its extra file xfer.json). The "
      "ONNX graph passes ONNX's checker before it is written (docs/export.md).");
  add_threads_option(*command, options->runtime);
  command->add_option("run", options->run, "A run directory (its best weights)");
  command->add_option("--model", options->model, "Architecture, with --weights (see `xfer models`)");
  command->add_option("--weights", options->weights,
                      "With --model: a weight file, `imagenet` or a registry weights name");
  command
      ->add_option("--format", options->format,
                   "onnx (opset 14), or torchscript (for torch.jit.load and torch::jit::load)")
      ->check(CLI::IsMember({"onnx", "torchscript"}))
      ->capture_default_str();
  command->add_option("-o,--out", options->out, "The file to write (replaced atomically)")
      ->required();
  command->add_flag("--features", options->features,
                    "Also output `features` [N, feature_dim]: what the head receives");
  command->add_flag("--probabilities", options->probabilities,
                    "Also output `probabilities` [N, classes]: the softmax of the logits");
  command->add_flag("--external-data", options->external_data,
                    "Store the weights beside the model in OUT.data (ONNX external data); models "
                    "over protobuf's 2 GB limit are always stored so");
  command->callback([options] { run_export(*options); });
}

}  // namespace xfer::cli
