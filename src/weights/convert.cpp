#include "xfer/weights/convert.h"

#include "xfer/core/error.h"
#include "xfer/weights/pth.h"
#include "xfer/weights/safetensors.h"

#include <nlohmann/json.hpp>

#include <ATen/ATen.h>

#include <map>

namespace xfer::weights {
namespace {

const char* const kQuantizedKey = "xfer.quantized";
const char* const kWeightsKey = "xfer.weights";

std::string listing(const std::vector<std::pair<std::string, std::string>>& extras) {
  std::string out;
  for (const auto& [name, value] : extras) {
    if (out.size() > 200) return out + ", ...";
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

}  // namespace

ConvertReport convert_checkpoint(const Checkpoint& checkpoint, const std::filesystem::path& file,
                                 const ConvertOptions& options) {
  const std::string extension = file.extension().string();
  if (extension != ".safetensors" && extension != ".pth") {
    throw InvalidArgument("weights convert: " + file.string() + ": cannot tell the format from '" +
                          extension + "'; expected a name ending in .safetensors or .pth");
  }
  ConvertReport report;
  report.format = extension.substr(1);
  const StateDict& source = options.model_only() ? checkpoint.tensors : checkpoint.all_tensors;
  // Keys of `source` → keys of all_tensors, where file dtypes and quantizations are recorded.
  const std::string prefix = options.model_only() ? checkpoint.weights_prefix : "";
  if (source.is_empty()) {
    std::string what = checkpoint.all_tensors.is_empty()
                           ? "holds no tensors"
                           : "holds no model weights (no state_dict, model_state_dict, model or "
                             "net entry with tensors, and no tensors outside optimizer state)";
    throw InvalidArgument(
        "weights convert: the input " + what + "; nothing to write to " + file.string() +
        (checkpoint.extras.empty() ? "" : " (it holds " + listing(checkpoint.extras) + ")"));
  }
  for (const auto& [name, value] : checkpoint.extras) report.not_tensors.push_back(name);
  if (options.model_only()) {
    for (const auto& item : checkpoint.all_tensors) {
      const std::string& key = item.key();
      const bool inside = key.compare(0, prefix.size(), prefix) == 0 &&
                          checkpoint.tensors.contains(key.substr(prefix.size()));
      if (!inside) report.outside_weights.push_back(key);
    }
  }

  StateDict tensors = source;
  std::map<std::string, std::string> file_dtypes;
  nlohmann::ordered_json quantization = nlohmann::ordered_json::object();
  for (const auto& item : source) {
    const std::string full = prefix + item.key();
    auto dtype = checkpoint.file_dtypes.find(full);
    if (dtype == checkpoint.file_dtypes.end()) continue;
    auto q = checkpoint.quantized.find(full);
    if (extension == ".pth") {
      report.without_their_dtype.emplace_back(item.key(), dtype->second);
      continue;
    }
    if (q == checkpoint.quantized.end()) {
      file_dtypes[item.key()] = dtype->second;
      continue;
    }
    nlohmann::ordered_json info{{"dtype", dtype->second}, {"scheme", q->second.scheme}};
    if (q->second.scheme == "per_tensor_affine") {
      info["scale"] = q->second.scale;
      info["zero_point"] = q->second.zero_point;
    } else {
      info["axis"] = q->second.axis;
      for (const auto& [suffix, tensor, field] :
           {std::make_tuple(".q_scales", q->second.scales, "scales"),
            std::make_tuple(".q_zero_points", q->second.zero_points, "zero_points")}) {
        const std::string name = item.key() + suffix;
        if (const torch::Tensor* existing = tensors.find(name)) {
          // A file converted before holds them already.
          if (existing->scalar_type() != tensor.scalar_type() ||
              !existing->sizes().equals(tensor.sizes()) || !at::equal(*existing, tensor)) {
            throw InvalidArgument("weights convert: " + file.string() + ": the name '" + name +
                                  "' for the quantization of '" + item.key() +
                                  "' is taken by another tensor");
          }
        } else {
          tensors.insert(name, tensor);
        }
        info[field] = name;
      }
    }
    quantization[item.key()] = info;
    report.quantized.push_back(item.key());
  }
  report.written = tensors.size();
  if (extension == ".safetensors") {
    std::map<std::string, std::string> metadata = checkpoint.metadata;
    metadata.erase(kQuantizedKey);
    metadata.erase(kWeightsKey);
    if (!quantization.empty()) metadata[kQuantizedKey] = quantization.dump();
    if (!options.model_only() &&
        (!checkpoint.weights_prefix.empty() || !checkpoint.training_state.empty())) {
      // Where the model's weights lie, so that reading the file back finds the same ones.
      metadata[kWeightsKey] = nlohmann::json{{"prefix", checkpoint.weights_prefix},
                                             {"training_state", checkpoint.training_state}}
                                  .dump();
    }
    write_safetensors(file, tensors, metadata, file_dtypes);
  } else {
    for (const auto& [name, value] : checkpoint.metadata)
      report.metadata_not_carried.push_back(name);
    write_pth(file, tensors);
  }
  return report;
}

}  // namespace xfer::weights
