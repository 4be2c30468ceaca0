#include "commands/weights.h"

#include "commands/common.h"
#include "xfer/core/error.h"
#include "xfer/download/digest.h"
#include "xfer/download/fetch.h"
#include "xfer/models/registry.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/pth.h"
#include "xfer/weights/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace xfer::cli {
namespace {

struct FetchOptions {
  RuntimeOptions runtime;
  std::string name;
  std::string weights_url;
};

struct InspectOptions {
  RuntimeOptions runtime;
  std::string file;
  bool json = false;
};

struct ConvertOptions {
  RuntimeOptions runtime;
  std::string input;
  std::string output;
};

// `MODEL` (its default weights) or `MODEL:WEIGHTS`, looked up in the registry.
const models::WeightsInfo& find_weights(const std::string& name) {
  const auto colon = name.find(':');
  const auto& model = models::find_model(name.substr(0, colon));
  if (model.weights.empty()) {
    throw InvalidArgument("weights fetch: model '" + model.name + "' has no known weights");
  }
  if (colon == std::string::npos) return model.weights.front();
  const std::string wanted = name.substr(colon + 1);
  std::string known;
  for (const auto& weights : model.weights) {
    if (weights.name == wanted) return weights;
    known += (known.empty() ? "" : ", ") + weights.name;
  }
  throw InvalidArgument("weights fetch: model '" + model.name + "' has no weights '" + wanted +
                        "'; known: " + known);
}

void run_fetch(const FetchOptions& options) {
  apply(options.runtime);
  const auto& weights = find_weights(options.name);
  const download::Request request{weights.url, weights.sha256, "", ""};
  std::filesystem::path file;
  {
    ProgressPrinter printer(request.url.substr(request.url.rfind('/') + 1));
    file = download::fetch(
        request, [&](std::uint64_t done, std::uint64_t total) { printer.report(done, total); }, 3,
        options.weights_url);
  }
  std::cout << file.string() << "\n";
}

std::string dtype_name(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return "float32";
    case torch::kFloat16:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat64:
      return "float64";
    case torch::kInt64:
      return "int64";
    case torch::kInt32:
      return "int32";
    case torch::kInt16:
      return "int16";
    case torch::kInt8:
      return "int8";
    case torch::kUInt8:
      return "uint8";
    case torch::kBool:
      return "bool";
    default:
      return c10::toString(type);
  }
}

std::string shape_text(const torch::Tensor& tensor) {
  std::ostringstream out;
  out << "[";
  for (int64_t i = 0; i < tensor.dim(); ++i) out << (i ? ", " : "") << tensor.size(i);
  out << "]";
  return out.str();
}

std::int64_t element_count(const weights::StateDict& tensors) {
  std::int64_t count = 0;
  for (const auto& item : tensors) count += item.value().numel();
  return count;
}

void print_json(const std::string& file, const weights::Checkpoint& checkpoint,
                const std::string& sha256) {
  nlohmann::ordered_json json;
  json["file"] = file;
  json["format"] = checkpoint.format;
  json["sha256"] = sha256;
  json["parameters"] = element_count(checkpoint.tensors);
  json["tensors"] = nlohmann::ordered_json::array();
  for (const auto& item : checkpoint.tensors) {
    json["tensors"].push_back({{"name", item.key()},
                               {"dtype", dtype_name(item.value().scalar_type())},
                               {"shape", item.value().sizes().vec()}});
  }
  json["extras"] = nlohmann::ordered_json::object();
  for (const auto& [name, value] : checkpoint.extras) json["extras"][name] = value;
  json["metadata"] = nlohmann::ordered_json::object();
  for (const auto& [name, value] : checkpoint.metadata) json["metadata"][name] = value;
  std::cout << json.dump(2) << "\n";
}

void print_text(const std::string& file, const weights::Checkpoint& checkpoint,
                const std::string& sha256) {
  std::cout << file << "\n"
            << "format      " << checkpoint.format << "\n"
            << "sha256      " << sha256 << "\n"
            << "tensors     " << checkpoint.tensors.size() << "\n"
            << "parameters  " << element_count(checkpoint.tensors)
            << " (elements of every tensor, buffers included)\n";
  std::size_t width = 4;
  for (const auto& item : checkpoint.tensors) width = std::max(width, item.key().size());
  std::cout << "\n"
            << std::left << std::setw(static_cast<int>(width) + 2) << "name" << std::setw(10)
            << "dtype"
            << "shape\n";
  for (const auto& item : checkpoint.tensors) {
    std::cout << std::setw(static_cast<int>(width) + 2) << item.key() << std::setw(10)
              << dtype_name(item.value().scalar_type()) << shape_text(item.value()) << "\n";
  }
  if (!checkpoint.extras.empty()) {
    std::cout << "\nextras\n";
    for (const auto& [name, value] : checkpoint.extras)
      std::cout << "  " << name << " = " << value << "\n";
  }
  if (!checkpoint.metadata.empty()) {
    std::cout << "\nmetadata\n";
    for (const auto& [name, value] : checkpoint.metadata)
      std::cout << "  " << name << " = " << value << "\n";
  }
}

void run_inspect(const InspectOptions& options) {
  apply(options.runtime);
  const auto checkpoint = weights::read_checkpoint(options.file);
  const auto sha256 = download::sha256_file(options.file);
  if (options.json) {
    print_json(options.file, checkpoint, sha256);
  } else {
    print_text(options.file, checkpoint, sha256);
  }
}

void run_convert(const ConvertOptions& options) {
  apply(options.runtime);
  const std::string extension = std::filesystem::path(options.output).extension().string();
  if (extension != ".safetensors" && extension != ".pth") {
    throw InvalidArgument("weights convert: " + options.output + ": cannot tell the format from '" +
                          extension + "'; expected a name ending in .safetensors or .pth");
  }
  const auto checkpoint = weights::read_checkpoint(options.input);
  if (extension == ".safetensors") {
    weights::write_safetensors(options.output, checkpoint.tensors, checkpoint.metadata);
  } else {
    weights::write_pth(options.output, checkpoint.tensors);
  }
  std::cout << options.input << " (" << checkpoint.format << ", " << checkpoint.tensors.size()
            << " tensors) -> " << options.output << " (" << extension.substr(1) << ")\n";
  if (!checkpoint.extras.empty()) {
    std::string names;
    for (const auto& extra : checkpoint.extras) names += (names.empty() ? "" : ", ") + extra.first;
    std::cout << "not carried over (not tensors): " << names << "\n";
  }
}

}  // namespace

void add_weights_command(CLI::App& app) {
  auto* group = app.add_subcommand(
      "weights", "Pretrained weights: fetch into the cache, inspect a file, convert formats");
  group->require_subcommand(1);

  auto fetch = std::make_shared<FetchOptions>();
  auto* fetch_command = group->add_subcommand(
      "fetch",
      "Download a registry entry's weights into the cache (checksum verified) and print the "
      "cached path. Cache: $XFER_HOME, else $XDG_CACHE_HOME/xfer, else ~/.cache/xfer; "
      "$XFER_WEIGHTS_MIRROR replaces the official address by MIRROR/<file name>");
  add_threads_option(*fetch_command, fetch->runtime);
  fetch_command
      ->add_option("name", fetch->name,
                   "MODEL (its default weights) or MODEL:WEIGHTS, e.g. resnet18:IMAGENET1K_V1")
      ->required();
  fetch_command->add_option("--weights-url", fetch->weights_url,
                            "Download from this address instead (the checksum still applies)");
  fetch_command->callback([fetch] { run_fetch(*fetch); });

  auto inspect = std::make_shared<InspectOptions>();
  auto* inspect_command = group->add_subcommand(
      "inspect",
      "Show a weight file's format, tensors (name, dtype, shape), parameter count, "
      "extra entries and metadata");
  add_threads_option(*inspect_command, inspect->runtime);
  inspect_command->add_option("file", inspect->file, ".pth/.pt/.th or .safetensors file")
      ->required();
  inspect_command->add_flag("--json", inspect->json, "Print one JSON object instead of a table");
  inspect_command->callback([inspect] { run_inspect(*inspect); });

  auto convert = std::make_shared<ConvertOptions>();
  auto* convert_command = group->add_subcommand(
      "convert",
      "Convert a weight file of any readable format to .safetensors or .pth (chosen by "
      "OUT's extension); written atomically");
  add_threads_option(*convert_command, convert->runtime);
  convert_command->add_option("in", convert->input, "File to read (.pth/.pt/.th/.safetensors)")
      ->required();
  convert_command->add_option("out", convert->output, "File to write: NAME.safetensors or NAME.pth")
      ->required();
  convert_command->callback([convert] { run_convert(*convert); });
}

}  // namespace xfer::cli
