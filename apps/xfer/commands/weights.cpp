#include "commands/weights.h"

#include "commands/common.h"
#include "xfer/core/error.h"
#include "xfer/core/shape.h"
#include "xfer/download/digest.h"
#include "xfer/download/fetch.h"
#include "xfer/models/registry.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/convert.h"

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
  bool model_only = false;
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

std::int64_t element_count(const weights::StateDict& tensors) {
  std::int64_t count = 0;
  for (const auto& item : tensors) count += item.value().numel();
  return count;
}

// The dtype as the file names it: qint8 for a quantized tensor (held as int8), uint16, ...
std::string file_dtype(const weights::Checkpoint& checkpoint, const std::string& key,
                       const torch::Tensor& tensor) {
  auto found = checkpoint.file_dtypes.find(key);
  return found != checkpoint.file_dtypes.end() ? found->second
                                               : weights::dtype_name(tensor.scalar_type());
}

std::string number(double value) {
  std::ostringstream out;
  out << std::setprecision(17) << value;
  return out.str();
}

// What the table says of a tensor beyond name, dtype and shape.
std::string tensor_note(const weights::Checkpoint& checkpoint, const std::string& key,
                        const torch::Tensor& tensor) {
  std::string note;
  auto q = checkpoint.quantized.find(key);
  if (q != checkpoint.quantized.end()) {
    note = "as " + weights::dtype_name(tensor.scalar_type()) + " int_repr, " + q->second.scheme;
    if (q->second.scheme == "per_tensor_affine") {
      note += " scale " + number(q->second.scale) + " zero_point " +
              std::to_string(q->second.zero_point);
    } else {
      note += " axis " + std::to_string(q->second.axis);
    }
  } else if (checkpoint.file_dtypes.count(key)) {
    note = "held as " + weights::dtype_name(tensor.scalar_type());
  }
  if (std::find(checkpoint.numpy_arrays.begin(), checkpoint.numpy_arrays.end(), key) !=
      checkpoint.numpy_arrays.end()) {
    note += std::string(note.empty() ? "" : ", ") + "numpy array";
  }
  return note;
}

// Where the model's weights are: the line of `inspect` that says what --weights would load.
std::string weights_text(const weights::Checkpoint& checkpoint) {
  const auto n = checkpoint.tensors.size();
  if (n == 0) {
    return "none found (no state_dict, model_state_dict, model or net entry with tensors)";
  }
  std::string text = std::to_string(n) + " tensor" + (n == 1 ? "" : "s");
  if (!checkpoint.weights_prefix.empty()) {
    text += " under '" + checkpoint.weights_prefix + "', which their keys lose";
  } else if (n == checkpoint.all_tensors.size()) {
    text = "all " + text;
  } else {
    text += " (all but the optimizer and scheduler state)";
  }
  return text + ": what --weights loads and convert --model-only writes";
}

void print_json(const std::string& file, const weights::Checkpoint& checkpoint,
                const std::string& sha256) {
  nlohmann::ordered_json json;
  json["file"] = file;
  json["format"] = checkpoint.format;
  json["sha256"] = sha256;
  json["parameters"] = element_count(checkpoint.all_tensors);
  json["tensors"] = nlohmann::ordered_json::array();
  for (const auto& item : checkpoint.all_tensors) {
    nlohmann::ordered_json entry{{"name", item.key()},
                                 {"dtype", file_dtype(checkpoint, item.key(), item.value())},
                                 {"shape", item.value().sizes().vec()}};
    if (checkpoint.file_dtypes.count(item.key())) {
      entry["held_as"] = weights::dtype_name(item.value().scalar_type());
    }
    auto q = checkpoint.quantized.find(item.key());
    if (q != checkpoint.quantized.end()) {
      nlohmann::ordered_json quantization{{"scheme", q->second.scheme}};
      if (q->second.scheme == "per_tensor_affine") {
        quantization["scale"] = q->second.scale;
        quantization["zero_point"] = q->second.zero_point;
      } else {
        quantization["axis"] = q->second.axis;
        const auto scales = q->second.scales.to(torch::kFloat64).contiguous();
        const auto zero_points = q->second.zero_points.to(torch::kFloat64).contiguous();
        quantization["scales"] = std::vector<double>(scales.data_ptr<double>(),
                                                     scales.data_ptr<double>() + scales.numel());
        quantization["zero_points"] = std::vector<double>(
            zero_points.data_ptr<double>(), zero_points.data_ptr<double>() + zero_points.numel());
      }
      entry["quantization"] = quantization;
    }
    if (std::find(checkpoint.numpy_arrays.begin(), checkpoint.numpy_arrays.end(), item.key()) !=
        checkpoint.numpy_arrays.end()) {
      entry["numpy"] = true;
    }
    json["tensors"].push_back(entry);
  }
  json["weights"] = {{"prefix", checkpoint.weights_prefix}, {"tensors", checkpoint.tensors.size()}};
  json["extras"] = nlohmann::ordered_json::object();
  for (const auto& [name, value] : checkpoint.extras) json["extras"][name] = value;
  json["metadata"] = nlohmann::ordered_json::object();
  for (const auto& [name, value] : checkpoint.metadata) json["metadata"][name] = value;
  // Keys and values of Python-2 pickles are bytes, not always UTF-8.
  std::cout << json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

void print_text(const std::string& file, const weights::Checkpoint& checkpoint,
                const std::string& sha256) {
  std::cout << file << "\n"
            << "format      " << checkpoint.format << "\n"
            << "sha256      " << sha256 << "\n"
            << "tensors     " << checkpoint.all_tensors.size() << "\n"
            << "parameters  " << element_count(checkpoint.all_tensors)
            << " (elements of every tensor, buffers included)\n"
            << "weights     " << weights_text(checkpoint) << "\n";
  if (checkpoint.all_tensors.is_empty()) {
    std::cout << "\nno tensors\n";
  } else {
    std::size_t width = 4;
    for (const auto& item : checkpoint.all_tensors) width = std::max(width, item.key().size());
    std::cout << "\n"
              << std::left << std::setw(static_cast<int>(width) + 2) << "name" << std::setw(10)
              << "dtype"
              << "shape\n";
    for (const auto& item : checkpoint.all_tensors) {
      const std::string note = tensor_note(checkpoint, item.key(), item.value());
      std::cout << std::setw(static_cast<int>(width) + 2) << item.key() << std::setw(10)
                << file_dtype(checkpoint, item.key(), item.value()) << shape_text(item.value().sizes())
                << (note.empty() ? "" : "  (" + note + ")") << "\n";
    }
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

std::string names(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& key : keys) out += (out.empty() ? "" : ", ") + key;
  return out;
}

// "optimizer (76), callbacks (12)": keys counted by their first component.
std::string groups(const std::vector<std::string>& keys) {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& key : keys) {
    const std::string group = key.substr(0, key.find('.'));
    if (counts.empty() || counts.back().first != group) {
      counts.emplace_back(group, 0);
    }
    ++counts.back().second;
  }
  std::string out;
  for (const auto& [group, count] : counts) {
    out += (out.empty() ? "" : ", ") + group + " (" + std::to_string(count) + ")";
  }
  return out;
}

void run_convert(const ConvertOptions& options) {
  apply(options.runtime);
  const std::string extension = std::filesystem::path(options.output).extension().string();
  if (extension != ".safetensors" && extension != ".pth") {
    throw InvalidArgument("weights convert: " + options.output + ": cannot tell the format from '" +
                          extension + "'; expected a name ending in .safetensors or .pth");
  }
  const auto checkpoint = weights::read_checkpoint(options.input);
  const auto report = weights::convert_checkpoint(
      checkpoint, options.output, weights::ConvertOptions().model_only(options.model_only));
  std::cout << options.input << " (" << checkpoint.format << ", " << checkpoint.all_tensors.size()
            << " tensors) -> " << options.output << " (" << report.format << ", " << report.written
            << " tensors";
  if (options.model_only) {
    std::cout << ": the model's weights"
              << (checkpoint.weights_prefix.empty()
                      ? ""
                      : ", '" + checkpoint.weights_prefix + "' removed from their keys");
  }
  std::cout << ")\n";
  if (!report.outside_weights.empty()) {
    std::cout << "left out by --model-only: " << report.outside_weights.size()
              << " tensors: " << groups(report.outside_weights) << "\n";
  }
  if (!report.quantized.empty()) {
    std::cout << "quantized, written as their integer representation with scale and zero point "
                 "in __metadata__['xfer.quantized']: "
              << names(report.quantized) << "\n";
  }
  for (const auto& [key, dtype] : report.without_their_dtype) {
    std::cout << "written without its dtype: " << key << " is " << dtype
              << (dtype[0] == 'q' ? " (its integer representation, without scale and zero point)"
                                  : "")
              << "; .pth has no word for it, .safetensors keeps it\n";
  }
  if (!report.metadata_not_carried.empty()) {
    std::cout << "not carried over (metadata, which .pth cannot hold): "
              << names(report.metadata_not_carried) << "\n";
  }
  if (!report.not_tensors.empty()) {
    std::cout << "not carried over (not tensors): " << names(report.not_tensors) << "\n";
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
      "Show a weight file's format, every tensor (key path, dtype, shape; quantized and numpy "
      "ones marked), where the model's weights are, the other entries and metadata");
  add_threads_option(*inspect_command, inspect->runtime);
  inspect_command->add_option("file", inspect->file, ".pth/.pt/.th or .safetensors file")
      ->required();
  inspect_command->add_flag("--json", inspect->json, "Print one JSON object instead of a table");
  inspect_command->callback([inspect] { run_inspect(*inspect); });

  auto convert = std::make_shared<ConvertOptions>();
  auto* convert_command = group->add_subcommand(
      "convert",
      "Convert a weight file of any readable format to .safetensors or .pth (chosen by "
      "OUT's extension): every tensor under its key path (or --model-only), written "
      "atomically; what cannot be carried is listed");
  add_threads_option(*convert_command, convert->runtime);
  convert_command->add_option("in", convert->input, "File to read (.pth/.pt/.th/.safetensors)")
      ->required();
  convert_command->add_option("out", convert->output, "File to write: NAME.safetensors or NAME.pth")
      ->required();
  convert_command->add_flag(
      "--model-only", convert->model_only,
      "Write only the model's weights (the unwrapped state_dict that --weights loads), not the "
      "optimizer state and other tensors of a training checkpoint");
  convert_command->callback([convert] { run_convert(*convert); });
}

}  // namespace xfer::cli
