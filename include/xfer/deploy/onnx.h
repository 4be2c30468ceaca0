#pragma once
// A classifier as an ONNX file that runtimes nobody here wrote can run (ONNX Runtime, OpenCV DNN),
// written natively: the model's forward pass is traced by LibTorch's tracer into a graph of aten
// operators, and each operator becomes ONNX nodes by its entry in the converter table
// (src/deploy/converters.cpp; docs/export.md). Weights are initializers named by their
// state_dict keys, the batch dimension is dynamic, and the file passes ONNX's checker with shape
// inference in strict mode before it is written.

#include "xfer/models/classifier.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace xfer::deploy {

/// The ONNX operator set an exported file imports.
constexpr int64_t kOnnxOpset = 14;

/// How a classifier is exported.
struct OnnxOptions {
  /// Side of the square input `input` [N, 3, size, size] float32 (the model's input spec).
  int64_t input_size = 224;
  /// Also output `features` [N, feature_dim]: what the head receives.
  bool features = false;
  /// Also output `probabilities` [N, classes]: the softmax of the logits.
  bool probabilities = false;
  /// Written as the model's metadata_props, in this order (class names, input, weights hash...).
  std::vector<std::pair<std::string, std::string>> metadata;
  /// The model's doc_string.
  std::string description;
  /// Store the weights beside the model in `<file>.data` (ONNX's external data) even when the
  /// model fits one file; a model over protobuf's 2 GB limit is always stored so.
  bool external_data = false;
};

/// What an export made.
struct OnnxExport {
  /// The file written.
  std::filesystem::path file;
  /// The weights written beside it (external_data_file(file)), or empty when they are inside.
  std::filesystem::path data_file;
  /// Nodes in its graph.
  int64_t nodes = 0;
  /// Initializers (weights and constants) in its graph.
  int64_t initializers = 0;
  /// ONNX operator types used, sorted.
  std::vector<std::string> operators;
};

/// Where write_onnx puts the weights of `file` when it stores them beside it: `<file>.data`, in
/// the same folder (the model names it relative to itself, as ONNX Runtime expects).
std::filesystem::path external_data_file(const std::filesystem::path& file);

/// Writes `model` as an ONNX file (opset kOnnxOpset) at `file`, atomically, with the outputs
/// `logits` [N, classes] and those `options` asks for. The model is traced in eval mode on a
/// batch of two; its training mode and requires_grad flags are restored afterwards. Throws
/// InvalidArgument naming the aten operator (and the shape it made) when an operator has no
/// converter or a converter cannot express how it was called, FormatError when ONNX's checker
/// refuses the graph, IoError when the file cannot be written. Weights over protobuf's 2 GB limit
/// (all of them with options.external_data) go to external_data_file(file), written before the
/// model and removed again if the model cannot be written.
OnnxExport write_onnx(models::ClassifierImpl& model, const OnnxOptions& options,
                      const std::filesystem::path& file);

}  // namespace xfer::deploy
