// The TFLite reader and the MobileNet importer on flatbuffers written by the test itself.

#include "tflite_builder.h"

#include "entries.h"
#include "support/compare.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/models/registry.h"
#include "xfer/pretrained/tflite.h"
#include "xfer/pretrained/tflite_import.h"
#include "xfer/weights/load.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace xfer::testing {
namespace {

using pretrained::read_tflite;
using pretrained::read_tflite_bytes;
using pretrained::TfliteOpcode;

// input -> CONV_2D 3x3 stride 2 (uint8 weights, int32 bias) -> AVERAGE_POOL_2D.
FakeModel small_model() {
  FakeModel model;
  model.tensors.push_back({"input", {1, 4, 4, 3}, 3, {}, {1.0f / 128}, {128}});
  FakeTensor weights{"conv/weights", {2, 3, 3, 3}, 3, {}, {0.5f}, {100}};
  for (int i = 0; i < 54; ++i) weights.data.push_back(static_cast<uint8_t>(90 + i));
  model.tensors.push_back(weights);
  FakeTensor bias{"conv/bias", {2}, 2, {}, {0.25f}, {0}};
  for (const int32_t value : {-8, 12}) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
    bias.data.insert(bias.data.end(), bytes, bytes + 4);
  }
  model.tensors.push_back(bias);
  model.tensors.push_back({"conv/out", {1, 2, 2, 2}, 3, {}, {0.1f}, {0}});
  model.tensors.push_back({"pool", {1, 1, 1, 2}, 3, {}, {0.1f}, {0}});
  FakeOp conv;
  conv.inputs = {0, 1, 2};
  conv.outputs = {3};
  conv.stride = 2;
  conv.activation = 3;
  FakeOp pool;
  pool.opcode = 1;
  pool.inputs = {3};
  pool.outputs = {4};
  pool.padding = 1;
  pool.filter = 2;
  pool.stride = 2;
  model.ops = {conv, pool};
  model.inputs = {0};
  model.outputs = {4};
  return model;
}

template <typename F>
void expect_format_error(F&& f, const std::string& substring) {
  try {
    f();
    FAIL() << "expected a FormatError containing '" << substring << "'";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

TEST(ReadTflite, ReadsTensorsOperatorsAndOptions) {
  const auto graph = read_tflite_bytes(build_tflite(small_model()), "small.tflite");
  ASSERT_EQ(graph.tensors.size(), 5u);
  EXPECT_EQ(graph.tensors[1].name, "conv/weights");
  EXPECT_EQ(graph.tensors[1].shape, (std::vector<int64_t>{2, 3, 3, 3}));
  EXPECT_EQ(graph.tensors[1].type, pretrained::TfliteType::kUint8);
  EXPECT_EQ(graph.tensors[1].data.size(), 54u);
  EXPECT_EQ(graph.tensors[1].zero_point, (std::vector<int64_t>{100}));
  EXPECT_TRUE(graph.tensors[3].data.empty());
  ASSERT_EQ(graph.operators.size(), 2u);
  const auto& conv = graph.operators[0];
  EXPECT_EQ(conv.opcode, TfliteOpcode::kConv2d);
  EXPECT_EQ(conv.inputs, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(conv.stride_h, 2);
  EXPECT_EQ(conv.padding, pretrained::TflitePadding::kSame);
  EXPECT_EQ(conv.activation, pretrained::TfliteActivation::kRelu6);
  const auto& pool = graph.operators[1];
  EXPECT_EQ(pool.opcode, TfliteOpcode::kAveragePool2d);
  EXPECT_EQ(pool.padding, pretrained::TflitePadding::kValid);
  EXPECT_EQ(pool.filter_h, 2);
  EXPECT_EQ(graph.inputs, (std::vector<int32_t>{0}));
  EXPECT_EQ(graph.outputs, (std::vector<int32_t>{4}));
}

TEST(ReadTflite, DequantizesWeightsAndInt32Biases) {
  const auto graph = read_tflite_bytes(build_tflite(small_model()), "small.tflite");
  const auto weights = pretrained::dequantize(graph.tensors[1]);
  EXPECT_EQ(weights.sizes(), (std::vector<int64_t>{2, 3, 3, 3}));
  // element 0 is q = 90: 0.5 * (90 - 100); element 53 is q = 143.
  EXPECT_FLOAT_EQ(weights.flatten()[0].item<float>(), -5.0f);
  EXPECT_FLOAT_EQ(weights.flatten()[53].item<float>(), 21.5f);
  const auto bias = pretrained::dequantize(graph.tensors[2]);
  EXPECT_FLOAT_EQ(bias[0].item<float>(), -2.0f);
  EXPECT_FLOAT_EQ(bias[1].item<float>(), 3.0f);
  expect_format_error([&] { pretrained::dequantize(graph.tensors[3]); }, "found an activation");
}

TEST(ReadTflite, ReadsFromAFileAndReportsAMissingOne) {
  const auto file = temp_dir("tflite") / "small.tflite";
  std::ofstream(file, std::ios::binary) << build_tflite(small_model());
  EXPECT_EQ(read_tflite(file).operators.size(), 2u);
  EXPECT_THROW(read_tflite(file.parent_path() / "absent.tflite"), IoError);
}

TEST(ReadTflite, RejectsTruncatedFilesWithTheOffset) {
  const std::string bytes = build_tflite(small_model());
  expect_format_error([&] { read_tflite_bytes(bytes.substr(0, 5), "cut.tflite"); },
                      "cut.tflite: offset 5: truncated");
  // Every cut must be a FormatError, never a crash.
  for (size_t size = 0; size < bytes.size(); size += 7) {
    EXPECT_THROW(read_tflite_bytes(bytes.substr(0, size), "cut.tflite"), FormatError) << size;
  }
}

TEST(ReadTflite, RejectsAnotherIdentifier) {
  std::string bytes = build_tflite(small_model());
  bytes.replace(4, 4, "ABCD");
  expect_format_error([&] { read_tflite_bytes(bytes, "x.tflite"); },
                      "offset 4: expected the TFLite file identifier 'TFL3', found 'ABCD'");
}

// Every third byte flipped in turn: each damaged file is either refused with a FormatError that
// names it, or read into a graph that keeps the reader's promises (tensor indices in range,
// constants that dequantize or are refused by name, an import that fits or is refused) —
// fuzz_tflite checks both and throws anything else. Both outcomes must occur: a byte inside a
// weight buffer leaves a valid model, a byte in the tables does not.
TEST(ReadTflite, SurvivesCorruptedBytes) {
  const std::string bytes = build_tflite(small_model());
  int refused = 0;
  int read = 0;
  for (size_t i = 8; i < bytes.size(); i += 3) {
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    const auto* data = reinterpret_cast<const uint8_t*>(corrupt.data());
    try {
      (fuzz::fuzz_tflite(data, corrupt.size()) ? read : refused) += 1;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "byte " << i << ": " << e.what();
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(read, 0);
}

TEST(ReadTflite, RejectsUnsupportedOperatorsAndOptions) {
  FakeModel model = small_model();
  model.ops[1].opcode = 17;  // MAX_POOL_2D
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "operator 1: operator MAX_POOL_2D is not supported");

  model = small_model();
  model.ops[0].activation = 4;
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "fused activation TANH is not supported");

  model = small_model();
  model.ops[0].dilation = 2;
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "dilation 2x2 is not supported");

  model = small_model();
  model.ops[0].custom_code = "TFLite_Detection_PostProcess";
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "custom operator 'TFLite_Detection_PostProcess' is not supported");

  model = small_model();
  model.ops[0].stride = 0;
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "stride_h: expected a positive value, found 0");
}

TEST(ReadTflite, RejectsInconsistentGraphs) {
  FakeModel model = small_model();
  model.version = 2;
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "expected TFLite schema version 3, found 2");

  model = small_model();
  model.subgraphs = 2;
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "expected exactly one subgraph, found 2");

  model = small_model();
  model.ops[0].inputs[0] = 9;
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "operator 0 input 0: tensor index 9 outside [0, 5)");

  model = small_model();
  model.tensors[1].shape = {2, 3, 3, 4};
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "tensor 'conv/weights': data of 54 bytes, expected 72");

  model = small_model();
  model.tensors[1].type = 5;  // STRING
  expect_format_error([&] { read_tflite_bytes(build_tflite(model), "m"); },
                      "constant of type STRING is not supported");
}

// A MobileNet's fake graph imported into the model: weights land permuted where they belong,
// and each BatchNorm only adds the folded bias.
class ImportTflite : public ::testing::Test {
 protected:
  models::Classifier model = models::create_model(
      "mobilenet_v1", models::ModelOptions().width_mult(0.25).num_classes(7));
  FakeModel fake = fake_mobilenet(*model, 32, 1);
  std::vector<pretrained::TfliteGraph> parts = {read_tflite_bytes(build_tflite(fake), "fake")};
};

TEST_F(ImportTflite, MapsEveryConvolutionAndTheHead) {
  const auto state = pretrained::tflite_state_dict(*model, parts);
  const auto report = weights::load_into(*model, state);
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.unexpected.empty());

  const auto& graph = parts.front();
  // The stem: OHWI [8, 3, 3, 3] → OIHW.
  const auto stem = pretrained::dequantize(graph.tensors[1]).permute({0, 3, 1, 2});
  const auto params = model->named_parameters();
  EXPECT_TRUE(torch::equal(params["features.0.0.weight"], stem));
  EXPECT_TRUE(
      torch::equal(params["features.0.1.bias"], pretrained::dequantize(graph.tensors[2])));
  // The first depthwise: 1HWC [1, 3, 3, 8] → C1HW.
  const auto depthwise = pretrained::dequantize(graph.tensors[4]).permute({3, 0, 1, 2});
  EXPECT_TRUE(torch::equal(params["features.1.0.0.weight"], depthwise));
  // The head: [7, 1, 1, 256] → [7, 256].
  const auto& head_op = graph.operators[graph.operators.size() - 3];
  const auto head = pretrained::dequantize(graph.tensors[head_op.inputs[1]]).reshape({7, 256});
  EXPECT_TRUE(torch::equal(params["classifier.1.weight"], head));

  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 16, 16});
  const auto expected = torch::conv2d(x, stem, {}, 2, 1) +
                        pretrained::dequantize(graph.tensors[2]).reshape({1, 8, 1, 1});
  auto [logits, taps] = model->forward_with(x, {"features.0.1"});
  // The same 27-term sums through the model's convolution and conv2d here (kernels may differ by
  // layout), ~1e-6 of the outputs' scale apart; 1e-4 of each element or of the scale.
  const double scale = expected.abs().max().item<double>();
  EXPECT_TRUE(all_close(taps["features.0.1"], expected, 1e-4, 1e-4 * scale));
}

TEST_F(ImportTflite, ReadsTheModelShape) {
  const auto shape = pretrained::tflite_model_shape(parts);
  EXPECT_EQ(shape.stem_channels, 8);
  ASSERT_TRUE(shape.num_classes.has_value());
  EXPECT_EQ(*shape.num_classes, 7);
  EXPECT_EQ(shape.input.size, 32);
  EXPECT_EQ(shape.input.resize, 36);
  EXPECT_NEAR(shape.input.mean[0], 128.0 / 255, 1e-9);
  EXPECT_NEAR(shape.input.std[0], 128.0 / 255, 1e-7);
}

TEST_F(ImportTflite, LeavesTheHeadOutOfAHeadlessGraph) {
  const auto headless = fake_mobilenet(*model, 32, 2, false);
  const std::vector<pretrained::TfliteGraph> backbone = {
      read_tflite_bytes(build_tflite(headless), "backbone")};
  EXPECT_FALSE(pretrained::tflite_model_shape(backbone).num_classes.has_value());
  const auto state = pretrained::tflite_state_dict(*model, backbone);
  EXPECT_EQ(state.find("classifier.1.weight"), nullptr);
  EXPECT_NE(state.find("features.13.1.1.bias"), nullptr);
}

TEST_F(ImportTflite, NamesBothSidesOfAShapeMismatch) {
  auto wider = models::create_model("mobilenet_v1",
                                    models::ModelOptions().width_mult(0.5).num_classes(7));
  try {
    pretrained::tflite_state_dict(*wider, parts);
    FAIL() << "expected WeightMismatch";
  } catch (const WeightMismatch& e) {
    EXPECT_NE(std::string(e.what()).find("wrong shape for 'features.0.0.weight': got [8, 3, 3, 3] "
                                         "from fake operator 0 (CONV_2D, tensor 'conv0/weights'), "
                                         "expected [16, 3, 3, 3]"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(ImportTflite, RejectsAnotherArchitecture) {
  auto v2 = models::create_model("mobilenet_v2", models::ModelOptions().num_classes(7));
  try {
    pretrained::tflite_state_dict(*v2, parts);
    FAIL() << "expected WeightMismatch";
  } catch (const WeightMismatch& e) {
    EXPECT_NE(std::string(e.what()).find("the model has 52 convolutions"), std::string::npos)
        << e.what();
  }
}

TEST_F(ImportTflite, RejectsAStrideThatDiffers) {
  fake.ops[0].stride = 1;
  const std::vector<pretrained::TfliteGraph> changed = {
      read_tflite_bytes(build_tflite(fake), "fake")};
  try {
    pretrained::tflite_state_dict(*model, changed);
    FAIL() << "expected WeightMismatch";
  } catch (const WeightMismatch& e) {
    EXPECT_NE(std::string(e.what()).find("wrong stride for 'features.0.0.weight': got 1x1"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace xfer::testing
