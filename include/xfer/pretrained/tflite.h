#pragma once
// Reading TensorFlow Lite flatbuffers (schema v3, tensorflow/lite/schema/schema.fbs) through
// libflatbuffers' low-level table API: the one subgraph of a model, its tensors with their
// quantization and constant data, and its operators. Only what the Coral quantized MobileNets use
// is accepted (docs/tflite.md); anything else is a FormatError naming it.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::pretrained {

/// Element type of a TFLite tensor (the schema's TensorType values).
enum class TfliteType : int8_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kInt32 = 2,
  kUint8 = 3,
  kInt64 = 4,
  kString = 5,
  kBool = 6,
  kInt16 = 7,
  kComplex64 = 8,
  kInt8 = 9,
};

/// The schema's name of `type` ("UINT8", "INT32", ...), or "type N" for a value it does not list.
std::string to_string(TfliteType type);

/// A tensor of the graph: a constant (weights, biases, shapes) when `data` is non-empty, else an
/// activation.
struct TfliteTensor {
  /// The name TensorFlow gave it, e.g. "MobilenetV2/Conv/weights_quant/FakeQuantWithMinMaxVars".
  std::string name;
  /// Dimensions as stored: NHWC for activations, OHWI for CONV_2D weights, 1HWC for
  /// DEPTHWISE_CONV_2D weights.
  std::vector<int64_t> shape;
  /// Element type.
  TfliteType type = TfliteType::kFloat32;
  /// Per-tensor (one value) or per-channel quantization scales; empty when not quantized.
  std::vector<float> scale;
  /// Zero points, one per scale.
  std::vector<int64_t> zero_point;
  /// The dimension that per-channel scales run along.
  int32_t quantized_dimension = 0;
  /// The constant's little-endian bytes (product of shape × element size); empty for activations.
  std::vector<uint8_t> data;
};

/// The operators the importer accepts (the schema's BuiltinOperator values).
enum class TfliteOpcode : int32_t {
  kAdd = 0,
  kAveragePool2d = 1,
  kConv2d = 3,
  kDepthwiseConv2d = 4,
  kReshape = 22,
  kSoftmax = 25,
};

/// The schema's name of `opcode` ("CONV_2D", ...).
std::string to_string(TfliteOpcode opcode);

/// Padding of a convolution or pool: TF's SAME (output ceil(in / stride), extra padding after) or
/// VALID (no padding).
enum class TflitePadding : int8_t { kSame = 0, kValid = 1 };

/// Activation fused into an operator; the importer accepts these three.
enum class TfliteActivation : int8_t { kNone = 0, kRelu = 1, kRelu6 = 3 };

/// One operator, in execution order, with the options of its kind (others keep their defaults).
struct TfliteOperator {
  /// What it computes.
  TfliteOpcode opcode = TfliteOpcode::kAdd;
  /// Input tensor indices (CONV_2D and DEPTHWISE_CONV_2D: input, weights, bias).
  std::vector<int32_t> inputs;
  /// Output tensor indices.
  std::vector<int32_t> outputs;
  /// CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D.
  TflitePadding padding = TflitePadding::kSame;
  /// Vertical stride (convolutions and pools).
  int32_t stride_h = 1;
  /// Horizontal stride (convolutions and pools).
  int32_t stride_w = 1;
  /// Pool window height (AVERAGE_POOL_2D).
  int32_t filter_h = 0;
  /// Pool window width (AVERAGE_POOL_2D).
  int32_t filter_w = 0;
  /// Output channels per input channel (DEPTHWISE_CONV_2D).
  int32_t depth_multiplier = 1;
  /// Activation applied to the output (CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D).
  TfliteActivation activation = TfliteActivation::kNone;
};

/// The main subgraph of a .tflite file.
struct TfliteGraph {
  /// Where it was read from, for messages.
  std::string origin;
  /// Every tensor; operators refer to them by index.
  std::vector<TfliteTensor> tensors;
  /// Every operator, in execution order.
  std::vector<TfliteOperator> operators;
  /// Indices of the graph's input tensors.
  std::vector<int32_t> inputs;
  /// Indices of the graph's output tensors.
  std::vector<int32_t> outputs;
};

/// Parses a .tflite file held in memory; `origin` names it in messages. The buffer is first
/// checked with flatbuffers::Verifier, then every index (tensor, buffer, opcode) and size is
/// bounded before use, so arbitrary bytes never crash it (fuzzing entry point).
/// Throws FormatError naming `origin` and the byte offset for a truncated or malformed file, and
/// naming the operator, option or type for one the importer does not support (a second subgraph,
/// a custom operator, dilation, an unknown activation, a data size that does not match the shape).
TfliteGraph read_tflite_bytes(const std::string& bytes, const std::string& origin);

/// Reads and parses a .tflite file. Throws IoError when it cannot be read, else as
/// read_tflite_bytes.
TfliteGraph read_tflite(const std::filesystem::path& file);

/// The real values of a constant tensor, in its stored shape, float32: scale × (q − zero_point)
/// for UINT8, INT8 and INT32 (a quantized bias carries scale_in × scale_weights), per channel along
/// quantized_dimension when there are several scales; FLOAT32 as stored.
/// Throws FormatError (naming the tensor) for an activation, an unsupported type, or scales and
/// zero points whose counts fit neither one per tensor nor one per channel.
at::Tensor dequantize(const TfliteTensor& tensor);

}  // namespace xfer::pretrained
