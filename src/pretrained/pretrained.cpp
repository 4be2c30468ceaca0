#include "xfer/pretrained/pretrained.h"

#include "xfer/core/error.h"
#include "xfer/pretrained/labels.h"
#include "xfer/pretrained/tflite_import.h"
#include "xfer/weights/checkpoint.h"

#include <torch/nn/modules/linear.h>

#include <cmath>
#include <filesystem>
#include <optional>

namespace xfer::pretrained {
namespace {

namespace fs = std::filesystem;

// The weights named by `source`, once found and read.
struct Resolved {
  std::string file;
  std::string format;
  const models::WeightsInfo* info = nullptr;  // the registry entry, when named
  std::vector<TfliteGraph> graphs;            // TFLite: backbone (and head)
  weights::StateDict tensors;                 // a checkpoint's tensors
  std::optional<int64_t> classes;             // classes of the stored head, if it has one
  std::optional<int64_t> stem_channels;       // output channels of the first conv, if known
  std::optional<int64_t> image_size;          // a Vision Transformer's, from its embeddings
  models::InputSpec input;
  std::vector<std::string> notes;
};

std::string known_sources(const models::ModelInfo& info) {
  std::string known = "a file path";
  bool imagenet = false;
  for (const auto& weights : info.weights) {
    imagenet = imagenet || weights.labels.rfind("imagenet1k", 0) == 0;
  }
  if (imagenet) known += ", imagenet";
  for (const auto& weights : info.weights) known += ", " + weights.name;
  return known;
}

const models::WeightsInfo* find_weights(const models::ModelInfo& info, const std::string& source) {
  for (const auto& weights : info.weights) {
    if (source == "imagenet" && weights.labels.rfind("imagenet1k", 0) == 0) return &weights;
    if (weights.name == source) return &weights;
  }
  if (source == "imagenet") {
    throw InvalidArgument("--weights imagenet: " + info.name +
                          " has no ImageNet weights; it accepts " + known_sources(info));
  }
  return nullptr;
}

std::string url_directory(const std::string& url) { return url.substr(0, url.rfind('/') + 1); }

std::string url_file(const std::string& url) { return url.substr(url.rfind('/') + 1); }

bool is_tflite(const std::string& file) { return fs::path(file).extension() == ".tflite"; }

// The registry weights (of any model) stored as a backbone named `file_name` plus a head file.
const models::WeightsInfo* split_weights_named(const std::string& file_name) {
  for (const auto& model : models::all_models()) {
    for (const auto& weights : model.weights) {
      if (!weights.head_url.empty() && url_file(weights.url) == file_name) return &weights;
    }
  }
  return nullptr;
}

// Reads resolved.file and, for a backbone whose head is a separate file, `head_file` when it
// exists.
void read_tflite_parts(Resolved& resolved, const std::optional<fs::path>& head_file) {
  resolved.graphs.push_back(read_tflite(resolved.file));
  if (head_file) {
    if (fs::exists(*head_file)) {
      resolved.graphs.push_back(read_tflite(*head_file));
      resolved.notes.push_back("joined the backbone with its head " + head_file->string());
    } else {
      resolved.notes.push_back("no head file " + head_file->string() +
                               " beside the backbone: loaded without a head");
    }
  }
  const TfliteModelShape shape = tflite_model_shape(resolved.graphs);
  resolved.format = "tflite";
  resolved.classes = shape.num_classes;
  resolved.stem_channels = shape.stem_channels;
  resolved.input = shape.input;
}

Resolved resolve(const models::ModelInfo& info, const std::string& source,
                 const PretrainedOptions& options) {
  Resolved resolved;
  resolved.input = info.input;
  resolved.info = find_weights(info, source);
  if (resolved.info != nullptr) {
    const models::WeightsInfo& weights = *resolved.info;
    if (weights.num_classes == 0) {
      throw InvalidArgument("--weights " + weights.name + ": " + info.name + "'s " +
                            weights.name + " holds its convolutional layers only (torchvision "
                            "stores the classifier as NaN), while xfer takes " + info.name +
                            "'s features from the classifier's hidden layers; expected its "
                            "default " + info.weights.front().name + " or a file");
    }
    if (weights.input) resolved.input = *weights.input;
    resolved.file = download::fetch({weights.url, weights.sha256, "", ""}, options.progress(),
                                    options.retries(), options.url_override())
                        .string();
    if (weights.format == "tflite") {
      std::optional<fs::path> head_file;
      if (!weights.head_url.empty()) {
        // Beside an overriding address, the head is looked for in the same folder.
        const std::string head_override =
            options.url_override().empty()
                ? ""
                : url_directory(options.url_override()) + url_file(weights.head_url);
        head_file = download::fetch({weights.head_url, weights.head_sha256, "", ""},
                                    options.progress(), options.retries(), head_override);
      }
      read_tflite_parts(resolved, head_file);
    }
  } else if (fs::is_regular_file(source)) {
    resolved.file = source;
    if (is_tflite(source)) {
      // A backbone file of the registry joins its head file when that lies beside it.
      std::optional<fs::path> head_file;
      if (const auto* split = split_weights_named(fs::path(source).filename().string())) {
        head_file = fs::path(source).parent_path() / url_file(split->head_url);
      }
      read_tflite_parts(resolved, head_file);
    }
  } else if (source.find('/') != std::string::npos || fs::path(source).has_extension()) {
    throw IoError("--weights " + source + ": no such file");
  } else {
    throw InvalidArgument("--weights " + source + ": neither a file nor a weights name of " +
                          info.name + "; it accepts " + known_sources(info));
  }

  if (resolved.format != "tflite") {
    weights::Checkpoint checkpoint = weights::read_checkpoint(resolved.file);
    resolved.format = checkpoint.format;
    if (info.upgrade_key) {
      for (const auto& item : checkpoint.tensors) {
        resolved.tensors.insert(info.upgrade_key(item.key()), item.value());
      }
    } else {
      resolved.tensors = std::move(checkpoint.tensors);
    }
    if (const auto* head = resolved.tensors.find(info.head_path + ".weight")) {
      resolved.classes = head->size(0);
    }
    if (const auto* stem = resolved.tensors.find("features.0.0.weight")) {
      resolved.stem_channels = stem->size(0);
    }
    // A Vision Transformer's position embeddings [1, 1 + grid^2, hidden] fix the image side its
    // weights were made for (SWAG's 384, 512 or 518 px): grid x the patch of conv_proj.
    const auto* positions = resolved.tensors.find("encoder.pos_embedding");
    const auto* patch = resolved.tensors.find("conv_proj.weight");
    if (positions != nullptr && patch != nullptr && positions->dim() == 3 && patch->dim() == 4) {
      const auto grid = static_cast<int64_t>(std::lround(std::sqrt(positions->size(1) - 1)));
      resolved.image_size = grid * patch->size(2);
    }
  }
  return resolved;
}

// The label set of weights with `classes` outputs: the registry entry's, else that of any of the
// model's registry weights with as many classes.
std::vector<std::string> labels_for(const models::ModelInfo& info, const Resolved& resolved,
                                    int64_t classes) {
  if (resolved.info != nullptr) return label_names(resolved.info->labels);
  for (const auto& weights : info.weights) {
    if (weights.num_classes == classes) return label_names(weights.labels);
  }
  return {};
}

int64_t head_classes(const models::Classifier& model) {
  for (const auto& parameter : model->head_module()->named_parameters(false)) {
    if (parameter.key() == "weight") return parameter.value().size(0);
  }
  throw InvalidArgument("the head '" + model->head_path() + "' has no weight to count classes by");
}

LoadedWeights fit(models::Classifier& model, const models::ModelInfo& info, Resolved& resolved) {
  const weights::StateDict state =
      resolved.format == "tflite" ? tflite_state_dict(*model, resolved.graphs) : resolved.tensors;
  LoadedWeights out;
  out.file = resolved.file;
  out.format = resolved.format;
  out.input = resolved.input;
  out.notes = resolved.notes;
  const int64_t model_classes = head_classes(model);
  auto policy = weights::LoadPolicy();
  if (!resolved.classes) {
    policy.skip_prefix(model->head_path());
    out.notes.push_back("the weights have no head: '" + model->head_path() +
                        "' keeps its fresh initialisation");
  } else if (*resolved.classes != model_classes) {
    policy.skip_prefix(model->head_path());
    out.notes.push_back("head '" + model->head_path() + "' skipped: the weights have " +
                        std::to_string(*resolved.classes) + " classes, the model " +
                        std::to_string(model_classes));
  } else {
    out.labels = labels_for(info, resolved, model_classes);
  }
  out.report = weights::load_into(*model, state, policy);
  return out;
}

}  // namespace

Pretrained load_pretrained(const std::string& model_name, const std::string& source,
                           const PretrainedOptions& options) {
  const models::ModelInfo& info = models::find_model(model_name);
  if (options.num_classes() < 0) {
    throw InvalidArgument("num_classes: expected a positive count (or 0 for the weights' own), got " +
                          std::to_string(options.num_classes()));
  }
  Resolved resolved = resolve(info, source, options);
  models::ModelOptions model_options;
  model_options.num_classes(options.num_classes() > 0 ? options.num_classes()
                                                      : resolved.classes.value_or(0));
  model_options.tf_same_padding(resolved.format == "tflite");
  if (info.options.width_mult && resolved.stem_channels) {
    model_options.width_mult(static_cast<double>(*resolved.stem_channels) / 32.0);
  }
  if (info.options.image_size && resolved.image_size) {
    model_options.image_size(*resolved.image_size);
  }
  model_options.transform_input(resolved.info != nullptr && resolved.info->transform_input);
  Pretrained out;
  out.model = models::create_model(model_name, model_options);
  out.weights = fit(out.model, info, resolved);
  out.model->eval();
  out.options = model_options;
  return out;
}

LoadedWeights load_weights(models::Classifier& model, const std::string& model_name,
                           const std::string& source, const PretrainedOptions& options) {
  const models::ModelInfo& info = models::find_model(model_name);
  Resolved resolved = resolve(info, source, options);
  return fit(model, info, resolved);
}

}  // namespace xfer::pretrained
