#include "tflite_builder.h"

#include <flatbuffers/flatbuffers.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <random>

namespace xfer::testing {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::voffset_t;

constexpr voffset_t field(int id) { return static_cast<voffset_t>(4 + 2 * id); }

Offset<void> options_table(FlatBufferBuilder& fbb, const FakeOp& op, uint8_t& type) {
  const auto start = fbb.StartTable();
  switch (op.opcode) {
    case 3:  // Conv2DOptions
      type = 1;
      fbb.AddElement<int8_t>(field(0), op.padding, -1);
      fbb.AddElement<int32_t>(field(1), op.stride, -1);
      fbb.AddElement<int32_t>(field(2), op.stride, -1);
      fbb.AddElement<int8_t>(field(3), op.activation, -1);
      fbb.AddElement<int32_t>(field(4), op.dilation, 1);
      fbb.AddElement<int32_t>(field(5), op.dilation, 1);
      break;
    case 4:  // DepthwiseConv2DOptions
      type = 2;
      fbb.AddElement<int8_t>(field(0), op.padding, -1);
      fbb.AddElement<int32_t>(field(1), op.stride, -1);
      fbb.AddElement<int32_t>(field(2), op.stride, -1);
      fbb.AddElement<int32_t>(field(3), 1, -1);
      fbb.AddElement<int8_t>(field(4), op.activation, -1);
      fbb.AddElement<int32_t>(field(5), op.dilation, 1);
      fbb.AddElement<int32_t>(field(6), op.dilation, 1);
      break;
    case 1:  // Pool2DOptions
      type = 5;
      fbb.AddElement<int8_t>(field(0), op.padding, -1);
      fbb.AddElement<int32_t>(field(1), op.stride, -1);
      fbb.AddElement<int32_t>(field(2), op.stride, -1);
      fbb.AddElement<int32_t>(field(3), op.filter, -1);
      fbb.AddElement<int32_t>(field(4), op.filter, -1);
      fbb.AddElement<int8_t>(field(5), op.activation, -1);
      break;
    case 0:  // AddOptions
      type = 11;
      fbb.AddElement<int8_t>(field(0), op.activation, -1);
      break;
    case 25:  // SoftmaxOptions
      type = 9;
      fbb.AddElement<float>(field(0), op.beta, -1.0f);
      break;
    case 22:  // ReshapeOptions
      type = 17;
      break;
    default:
      type = 0;
      break;
  }
  return Offset<void>(fbb.EndTable(start));
}

}  // namespace

std::string build_tflite(const FakeModel& model) {
  FlatBufferBuilder fbb;
  // Buffer 0 is the empty sentinel; constant k gets buffer k + 1.
  std::vector<Offset<void>> buffers;
  {
    const auto start = fbb.StartTable();
    buffers.push_back(Offset<void>(fbb.EndTable(start)));
  }
  std::vector<uint32_t> buffer_of(model.tensors.size(), 0);
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    if (model.tensors[i].data.empty()) continue;
    fbb.ForceVectorAlignment(model.tensors[i].data.size(), 1, 16);
    const auto data = fbb.CreateVector(model.tensors[i].data);
    const auto start = fbb.StartTable();
    fbb.AddOffset(field(0), data);
    buffer_of[i] = static_cast<uint32_t>(buffers.size());
    buffers.push_back(Offset<void>(fbb.EndTable(start)));
  }

  std::vector<Offset<void>> tensors;
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    const FakeTensor& tensor = model.tensors[i];
    Offset<void> quant;
    if (!tensor.scale.empty()) {
      const auto scale = fbb.CreateVector(tensor.scale);
      const auto zero = fbb.CreateVector(tensor.zero_point);
      const auto start = fbb.StartTable();
      fbb.AddOffset(field(2), scale);
      fbb.AddOffset(field(3), zero);
      quant = Offset<void>(fbb.EndTable(start));
    }
    const auto shape = fbb.CreateVector(tensor.shape);
    const auto name = fbb.CreateString(tensor.name);
    const auto start = fbb.StartTable();
    fbb.AddOffset(field(0), shape);
    fbb.AddElement<int8_t>(field(1), tensor.type, -1);
    fbb.AddElement<uint32_t>(field(2), buffer_of[i], 0);
    fbb.AddOffset(field(3), name);
    if (!tensor.scale.empty()) fbb.AddOffset(field(4), quant);
    tensors.push_back(Offset<void>(fbb.EndTable(start)));
  }

  // One OperatorCode per operator, in operator order.
  std::vector<Offset<void>> codes;
  std::vector<Offset<void>> ops;
  for (size_t i = 0; i < model.ops.size(); ++i) {
    const FakeOp& op = model.ops[i];
    const auto custom = op.custom_code.empty() ? Offset<flatbuffers::String>()
                                               : fbb.CreateString(op.custom_code);
    auto start = fbb.StartTable();
    const int32_t code = op.custom_code.empty() ? op.opcode : 32;
    fbb.AddElement<int8_t>(field(0), static_cast<int8_t>(code < 127 ? code : 127), -1);
    if (!op.custom_code.empty()) fbb.AddOffset(field(1), custom);
    fbb.AddElement<int32_t>(field(3), code, -1);
    codes.push_back(Offset<void>(fbb.EndTable(start)));

    uint8_t options_type = 0;
    const auto options = options_table(fbb, op, options_type);
    const auto inputs = fbb.CreateVector(op.inputs);
    const auto outputs = fbb.CreateVector(op.outputs);
    start = fbb.StartTable();
    fbb.AddElement<uint32_t>(field(0), static_cast<uint32_t>(i), 0xffffffff);
    fbb.AddOffset(field(1), inputs);
    fbb.AddOffset(field(2), outputs);
    if (options_type != 0) {
      fbb.AddElement<uint8_t>(field(3), options_type, 0);
      fbb.AddOffset(field(4), options);
    }
    ops.push_back(Offset<void>(fbb.EndTable(start)));
  }

  std::vector<Offset<void>> graphs;
  for (int g = 0; g < model.subgraphs; ++g) {
    const auto tensor_vec = fbb.CreateVector(tensors);
    const auto inputs = fbb.CreateVector(model.inputs);
    const auto outputs = fbb.CreateVector(model.outputs);
    const auto op_vec = fbb.CreateVector(ops);
    const auto start = fbb.StartTable();
    fbb.AddOffset(field(0), tensor_vec);
    fbb.AddOffset(field(1), inputs);
    fbb.AddOffset(field(2), outputs);
    fbb.AddOffset(field(3), op_vec);
    graphs.push_back(Offset<void>(fbb.EndTable(start)));
  }
  const auto code_vec = fbb.CreateVector(codes);
  const auto graph_vec = fbb.CreateVector(graphs);
  const auto buffer_vec = fbb.CreateVector(buffers);
  const auto start = fbb.StartTable();
  fbb.AddElement<uint32_t>(field(0), model.version, 0xffffffff);
  fbb.AddOffset(field(1), code_vec);
  fbb.AddOffset(field(2), graph_vec);
  fbb.AddOffset(field(4), buffer_vec);
  fbb.Finish(Offset<void>(fbb.EndTable(start)), "TFL3");
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

FakeModel fake_mobilenet(const torch::nn::Module& network, int32_t side, uint64_t seed,
                         bool with_head) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int32_t> bias_value(-2000, 2000);
  FakeModel model;
  auto add = [&model](FakeTensor tensor) {
    model.tensors.push_back(std::move(tensor));
    return static_cast<int32_t>(model.tensors.size() - 1);
  };
  auto weights = [&](const std::string& name, std::vector<int32_t> shape) {
    FakeTensor tensor{name, shape, 3, {}, {0.02f}, {128}};
    int64_t count = 1;
    for (const auto dim : shape) count *= dim;
    for (int64_t i = 0; i < count; ++i) tensor.data.push_back(static_cast<uint8_t>(byte(random)));
    return add(tensor);
  };
  auto bias = [&](const std::string& name, int32_t channels) {
    FakeTensor tensor{name, {channels}, 2, {}, {0.001f}, {0}};
    for (int32_t i = 0; i < channels; ++i) {
      const int32_t value = bias_value(random);
      const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
      tensor.data.insert(tensor.data.end(), bytes, bytes + 4);
    }
    return add(tensor);
  };
  int32_t x = add({"input", {1, side, side, 3}, 3, {}, {1.0f / 128}, {128}});
  model.inputs = {x};
  int32_t channels = 3;
  int index = 0;
  for (const auto& item : network.named_modules("", false)) {
    const auto* conv = item.value()->as<torch::nn::Conv2d>();
    if (conv == nullptr) continue;
    const auto& options = conv->options;
    const auto out = static_cast<int32_t>(options.out_channels());
    const auto k = static_cast<int32_t>((*options.kernel_size())[0]);
    const bool depthwise = options.groups() > 1;
    const std::string name = "conv" + std::to_string(index++);
    const int32_t w = depthwise ? weights(name + "/weights", {1, k, k, out})
                                : weights(name + "/weights", {out, k, k, channels});
    const int32_t b = bias(name + "/bias", out);
    const int32_t y = add({name + "/out", {1, 1, 1, out}, 3, {}, {0.05f}, {0}});
    FakeOp op;
    op.opcode = depthwise ? 4 : 3;
    op.inputs = {x, w, b};
    op.outputs = {y};
    op.stride = static_cast<int32_t>((*options.stride())[0]);
    op.activation = 3;
    model.ops.push_back(op);
    x = y;
    channels = out;
  }
  const int32_t pooled = add({"pool", {1, 1, 1, channels}, 3, {}, {0.05f}, {0}});
  FakeOp pool;
  pool.opcode = 1;
  pool.inputs = {x};
  pool.outputs = {pooled};
  pool.padding = 1;
  pool.filter = 7;
  pool.stride = 2;
  model.ops.push_back(pool);
  x = pooled;
  if (with_head) {
    int32_t classes = 0;
    for (const auto& item : network.named_modules("", false)) {
      if (const auto* linear = item.value()->as<torch::nn::Linear>()) {
        classes = static_cast<int32_t>(linear->options.out_features());
      }
    }
    const int32_t w = weights("logits/weights", {classes, 1, 1, channels});
    const int32_t b = bias("logits/bias", classes);
    const int32_t y = add({"logits", {1, 1, 1, classes}, 3, {}, {0.1f}, {0}});
    FakeOp head;
    head.inputs = {x, w, b};
    head.outputs = {y};
    model.ops.push_back(head);
    const int32_t flat = add({"flat", {1, classes}, 3, {}, {0.1f}, {0}});
    FakeOp reshape;
    reshape.opcode = 22;
    reshape.inputs = {y};
    reshape.outputs = {flat};
    model.ops.push_back(reshape);
    const int32_t probs = add({"probs", {1, classes}, 3, {}, {1.0f / 256}, {0}});
    FakeOp softmax;
    softmax.opcode = 25;
    softmax.inputs = {flat};
    softmax.outputs = {probs};
    model.ops.push_back(softmax);
    x = probs;
  }
  model.outputs = {x};
  return model;
}

}  // namespace xfer::testing
