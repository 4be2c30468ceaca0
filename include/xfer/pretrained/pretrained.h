#pragma once
// `--weights SRC`: from a file (.pth, .pt, .th, .safetensors, .tflite) or a registry weights name
// (downloaded and cached) to a model holding those weights, with its labels and input spec.

#include "xfer/download/fetch.h"
#include "xfer/models/registry.h"
#include "xfer/weights/load.h"

#include <torch/arg.h>

#include <string>
#include <vector>

namespace xfer::pretrained {

/// How load_pretrained and load_weights find and fit the weights.
struct PretrainedOptions {
  /// Classes of the model's head; 0 means the weights' own. When it differs from the weights'
  /// count, their head is skipped (the model keeps a fresh head) and the report says so.
  TORCH_ARG(int64_t, num_classes) = 0;
  /// Download progress, for registry names that are not cached yet.
  TORCH_ARG(download::Progress, progress) = {};
  /// Extra download attempts after a transient failure.
  TORCH_ARG(int, retries) = 3;
  /// Download address to use instead of the registry's (a local mirror); empty for the registry's.
  TORCH_ARG(std::string, url_override) = "";
};

/// What loading weights into a model did and what the model now expects and says.
struct LoadedWeights {
  /// Key by key: loaded, skipped (the head when the classes differ), missing, unexpected.
  weights::LoadReport report;
  /// Names of the head's outputs (index = class), from the weights' label set; empty when the
  /// head was skipped or the label set is unknown (a file whose class count no registry entry has).
  std::vector<std::string> labels;
  /// How images must be prepared for these weights (the TFLite MobileNets: (p − 128) / 128).
  models::InputSpec input;
  /// The file the weights came from (the downloaded copy for a registry name; for the V1 pair,
  /// the backbone).
  std::string file;
  /// "pth-zip", "pth-legacy", "safetensors" or "tflite".
  std::string format;
  /// Lines worth telling the user: what was skipped and why, which files were combined.
  std::vector<std::string> notes;
};

/// A model built for its weights, and what loading them did.
struct Pretrained {
  /// The model, in eval mode.
  models::Classifier model;
  /// The load's account.
  LoadedWeights weights;
  /// The options the model was built with (num_classes resolved; width_mult, tf_same_padding,
  /// image_size and transform_input as the weights need): what rebuilds the same model.
  models::ModelOptions options;
};

/// Builds `model_name` as `source`'s weights need it (mobilenet_v1's width from the weights, TF
/// SAME padding for TFLite weights, a ViT's image size from its position embeddings,
/// transform_input for GoogLeNet's and Inception v3's registry weights as torchvision's builders
/// set it, num_classes from the options or else the weights' head) and loads them, strictly apart
/// from a head skipped for a different class count.
/// `source` is a file path (format recognised by content; `.tflite` by extension), `imagenet`
/// (the model's first registry weights with ImageNet labels) or a registry weights name of the
/// model (`IMAGENET1K_V1`, `CORAL_QUANT_0.25_128`, `CIFAR10`), fetched through download::fetch.
/// The TFLite MobileNetV1 embedding extractor is joined with its head file
/// (`mobilenet_quant_v1_224_head_layers.tflite`) when that file lies beside it, and loaded
/// without a head otherwise. Throws InvalidArgument for an unknown model or source name, IoError
/// when a file cannot be read or fetched, FormatError for a malformed file, WeightMismatch when
/// the weights do not fit the model (every problem listed).
Pretrained load_pretrained(const std::string& model_name, const std::string& source,
                           const PretrainedOptions& options = {});

/// Loads `source` (as load_pretrained) into an existing `model` of architecture `model_name`;
/// options.num_classes is ignored: the head is skipped when its class count differs from the
/// model's. TFLite weights give TF's outputs only in a model built with
/// ModelOptions::tf_same_padding (load_pretrained does that). Throws as load_pretrained.
LoadedWeights load_weights(models::Classifier& model, const std::string& model_name,
                           const std::string& source, const PretrainedOptions& options = {});

}  // namespace xfer::pretrained
