#pragma once
// Writes small TFLite flatbuffers at test time (libflatbuffers' FlatBufferBuilder, field ids of
// the public schema), so that the reader and the importer are tested on files whose every byte
// the test controls, without committing any model.

#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::testing {

/// A tensor to write.
struct FakeTensor {
  /// Name.
  std::string name;
  /// Dimensions.
  std::vector<int32_t> shape;
  /// TensorType value (3 = UINT8, 2 = INT32, 0 = FLOAT32).
  int8_t type = 3;
  /// Constant bytes; empty for an activation.
  std::vector<uint8_t> data;
  /// Quantization scales; none written when empty.
  std::vector<float> scale;
  /// Quantization zero points.
  std::vector<int64_t> zero_point;
};

/// An operator to write; the options table follows the opcode (Conv2DOptions for CONV_2D, ...).
struct FakeOp {
  /// BuiltinOperator value (3 = CONV_2D, 4 = DEPTHWISE_CONV_2D, 1 = AVERAGE_POOL_2D, 0 = ADD,
  /// 22 = RESHAPE, 25 = SOFTMAX; anything else gets no options).
  int32_t opcode = 3;
  /// Input tensor indices.
  std::vector<int32_t> inputs;
  /// Output tensor indices.
  std::vector<int32_t> outputs;
  /// Padding value (0 SAME, 1 VALID).
  int8_t padding = 0;
  /// Strides.
  int32_t stride = 1;
  /// Fused activation value (3 = RELU6).
  int8_t activation = 0;
  /// Dilation of convolutions.
  int32_t dilation = 1;
  /// Pool window side.
  int32_t filter = 1;
  /// SOFTMAX beta.
  float beta = 1.0f;
  /// Custom code; when set the opcode becomes CUSTOM (32) with this name.
  std::string custom_code;
};

/// A whole model to write.
struct FakeModel {
  /// Tensors of the one subgraph.
  std::vector<FakeTensor> tensors;
  /// Operators in execution order.
  std::vector<FakeOp> ops;
  /// Subgraph inputs.
  std::vector<int32_t> inputs;
  /// Subgraph outputs.
  std::vector<int32_t> outputs;
  /// Model.version.
  uint32_t version = 3;
  /// How many copies of the subgraph to write.
  int subgraphs = 1;
};

/// The flatbuffer bytes of `model`, identifier "TFL3"; each constant gets its own buffer.
std::string build_tflite(const FakeModel& model);

/// A graph shaped like a Coral quantized MobileNet for `network` (an xfer MobileNet): for each
/// Conv2d in named_modules() order a CONV_2D or DEPTHWISE_CONV_2D (SAME, the module's stride,
/// RELU6) with uint8 weights (scale 0.02, zero point 128) and int32 biases (scale 0.001) drawn
/// from `seed`, then AVERAGE_POOL_2D, a 1x1 CONV_2D head to the Linear's classes unless
/// `with_head` is false, RESHAPE and SOFTMAX. Input [1, side, side, 3] uint8 scale 1/128, zero
/// point 128.
FakeModel fake_mobilenet(const torch::nn::Module& network, int32_t side, uint64_t seed,
                         bool with_head = true);

}  // namespace xfer::testing
