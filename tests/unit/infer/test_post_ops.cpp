// oneDNN's post-op convolutions (the fused path on channels_last tensors) against LibTorch's
// convolution, addition and activation one after the other: every activation the zoo puts after
// a convolution, with and without a residual added first, grouped and depthwise, strided with the
// last rows dropped, dilated, asymmetric, on 1x1 maps, in fp32 and in bf16; and the residual
// written into only where nothing reads it afterwards. The same for Linear layers (oneDNN's
// matmul) on rows and on [N, H, W, C] tensors.

#include "detail/post_ops.h"

#include "xfer/core/runtime.h"

#include "support/compare.h"

#include <gtest/gtest.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/graph_rewrite_helper.h>
#include <torch/torch.h>

#include <functional>
#include <string>

namespace {

// Strides, paddings and dilations of two numbers, as torch::nn::Conv2d passes them (LibTorch's
// rewrite of aten::_convolution into aten::conv2d, which the fused path relies on, takes only
// those).
const std::vector<int64_t> kOne{1, 1};
const std::vector<int64_t> kNoPadding{0, 0};

using Pass = std::function<std::vector<torch::Tensor>(const torch::Tensor& x)>;

// A deterministic tensor of `sizes` with values of order 1, channels_last when 4-d.
torch::Tensor closed_form(at::IntArrayRef sizes, double phase) {
  const auto n = c10::multiply_integers(sizes);
  auto t = torch::sin(torch::arange(n, torch::kDouble) * 0.37 + phase).to(torch::kFloat);
  t = t.reshape(sizes);
  return sizes.size() == 4 ? t.contiguous(torch::MemoryFormat::ChannelsLast) : t;
}

// `pass` traced on `x` float32 as the fused path traces a backbone, then its convolutions and
// Linear layers fused for `dtype` (`fused` says how many).
std::shared_ptr<torch::jit::Graph> fused_graph(const torch::Tensor& x, const Pass& pass,
                                               c10::ScalarType dtype, int64_t* fused) {
  torch::NoGradGuard no_grad;
  auto traced = torch::jit::tracer::trace(
      {x},
      [&](torch::jit::Stack inputs) -> torch::jit::Stack {
        torch::jit::Stack outputs;
        for (auto& output : pass(inputs.at(0).toTensor())) outputs.emplace_back(output);
        return outputs;
      },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false);
  auto graph = traced.first->graph;
  torch::jit::graph_rewrite_helper::replaceConvolutionWithAtenConv(graph);
  *fused = xfer::infer::detail::fuse_convolution_post_ops(graph, dtype) +
           xfer::infer::detail::fuse_linear_post_ops(graph, dtype);
  torch::jit::EliminateDeadCode(graph);
  // The constants left (the residual's scale) in the graph's dtype, as fold_for_inference does.
  for (torch::jit::Node* node : graph->nodes()) {
    if (node->kind() == c10::prim::Constant && node->output()->type()->cast<c10::TensorType>()) {
      node->t_(c10::attr::value, node->t(c10::attr::value).to(dtype));
    }
  }
  return graph;
}

std::vector<torch::Tensor> run(const std::shared_ptr<torch::jit::Graph>& graph,
                               const torch::Tensor& x) {
  if (graph->outputs().size() > 1) {  // a Function returns one value
    auto* tuple = graph->insertNode(graph->createTuple(graph->outputs()));
    while (!graph->outputs().empty()) graph->eraseOutput(0);
    graph->registerOutput(tuple->output());
  }
  torch::jit::GraphFunction function("post_ops", graph, nullptr,
                                     torch::jit::ExecutorExecutionMode::SIMPLE);
  torch::jit::Stack stack{x};
  function.run(stack);
  std::vector<torch::Tensor> outputs;
  for (const auto& value : stack) {
    if (value.isTuple()) {
      for (const auto& element : value.toTupleRef().elements()) {
        outputs.push_back(element.toTensor());
      }
    } else {
      outputs.push_back(value.toTensor());
    }
  }
  return outputs;
}

int64_t count(const torch::jit::Graph& graph, const std::string& kind) {
  int64_t n = 0;
  for (const torch::jit::Node* node : graph.nodes()) n += node->kind().toQualString() == kind;
  return n;
}

struct Case {
  std::string name;
  int64_t in_channels, out_channels, groups;
  std::vector<int64_t> kernel, stride, padding, dilation;
  int64_t side;
  std::string activation;  // applied after the (optional) addition; "" for none
  bool residual;           // + a fresh tensor of the output's shape, computed from x
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

torch::Tensor activate(const torch::Tensor& t, const std::string& activation) {
  if (activation == "relu") return torch::relu(t);
  if (activation == "relu6") return torch::hardtanh(t, 0, 6);
  if (activation == "hardswish") return torch::hardswish(t);
  if (activation == "hardsigmoid") return torch::hardsigmoid(t);
  if (activation == "silu") return torch::silu(t);
  if (activation == "sigmoid") return torch::sigmoid(t);
  if (activation == "gelu") return torch::gelu(t);
  return t;
}

const std::string kActivations[] = {"relu", "relu6", "hardswish", "hardsigmoid",
                                    "silu", "sigmoid", "gelu"};

std::vector<Case> cases() {
  std::vector<Case> all{
      {"plain_3x3", 16, 32, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 15, "", false},
      {"residual", 16, 16, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 14, "", true},
      {"residual_relu", 16, 16, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 14, "relu", true},
      {"depthwise_stride2_even", 32, 32, 32, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 16, "relu6", false},
      {"depthwise_stride2_odd", 32, 32, 32, {5, 5}, {2, 2}, {2, 2}, {1, 1}, 15, "silu", false},
      {"grouped", 32, 64, 4, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 15, "relu", false},
      {"dilated", 16, 16, 1, {3, 3}, {1, 1}, {2, 2}, {2, 2}, 13, "silu", true},
      {"asymmetric_1x7", 16, 24, 1, {1, 7}, {1, 1}, {0, 3}, {1, 1}, 12, "relu", false},
      {"pointwise_on_1x1", 64, 16, 1, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, "silu", false},
      {"stem_7x7_stride2", 3, 16, 1, {7, 7}, {2, 2}, {3, 3}, {1, 1}, 33, "relu", false},
  };
  for (const auto& activation : kActivations) {
    all.push_back({"pointwise_" + activation, 24, 32, 1, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 9,
                   activation, false});
  }
  return all;
}

class EveryCase : public ::testing::TestWithParam<Case> {};

// The fused graph of conv (+ residual) (+ activation), and LibTorch's result step by step.
void check(const Case& c, c10::ScalarType dtype, double tolerance) {
  const auto x = closed_form({2, c.in_channels, c.side, c.side}, 0.0);
  const auto weight = closed_form({c.out_channels, c.in_channels / c.groups, c.kernel[0],
                                   c.kernel[1]}, 1.0) * 0.2;
  const auto bias = closed_form({c.out_channels}, 2.0);
  // The residual: a fresh tensor (a second convolution, fused on its own, then scaled).
  const auto to_output = closed_form({c.out_channels, c.in_channels, 1, 1}, 3.0) * 0.3;
  const auto conv = [&](const torch::Tensor& t, const torch::Tensor& w, const torch::Tensor& b) {
    return torch::conv2d(t, w.to(t.scalar_type()), b.to(t.scalar_type()), c.stride, c.padding,
                         c.dilation, c.groups);
  };
  const Pass pass = [&](const torch::Tensor& t) -> std::vector<torch::Tensor> {
    auto y = conv(t, weight, bias);
    if (c.residual) {
      const auto residual =
          torch::conv2d(t, to_output.to(t.scalar_type()), {}, c.stride, kNoPadding, kOne) * 0.5;
      y = y + residual;
    }
    return {activate(y, c.activation)};
  };
  torch::NoGradGuard no_grad;
  const auto input = x.to(dtype);
  int64_t fused = 0;
  const auto graph = fused_graph(x, pass, dtype, &fused);
  EXPECT_EQ(fused, c.residual ? 2 : 1) << *graph;
  EXPECT_EQ(count(*graph, "xfer::conv2d_post"), fused);
  EXPECT_EQ(count(*graph, "aten::conv2d"), 0);
  EXPECT_EQ(count(*graph, "aten::add"), 0);
  if (!c.activation.empty()) {
    EXPECT_EQ(count(*graph, "aten::" + c.activation), 0) << *graph;
  }
  const auto actual = run(graph, input).at(0);
  EXPECT_TRUE(actual.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_EQ(actual.scalar_type(), dtype);
  // The reference in fp32 from the same (rounded) inputs.
  const auto expected = pass(input.to(torch::kFloat)).at(0);
  const double scale = expected.abs().max().item<double>();
  EXPECT_TRUE(xfer::testing::all_close(actual.to(torch::kFloat), expected, tolerance,
                                       tolerance * scale));
}

TEST_P(EveryCase, EqualsLibTorchsStepsInFp32) { check(GetParam(), torch::kFloat, 1e-5); }

TEST_P(EveryCase, StaysCloseInBf16) {
  if (!xfer::has_native_bf16(c10::Device(c10::kCPU))) {
    GTEST_SKIP() << "bf16 convolutions need AVX-512 (oneDNN has no other kernel for them)";
  }
  // bf16 keeps 8 bits of mantissa: the sums and the output rounded to it.
  check(GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(PostOps, EveryCase, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

struct LinearCase {
  std::string name;
  std::vector<int64_t> input;  // [..., I]
  int64_t out_features;
  bool bias;
  std::string activation;
};

void PrintTo(const LinearCase& c, std::ostream* out) { *out << c.name; }

class EveryLinear : public ::testing::TestWithParam<LinearCase> {};

void check_linear(const LinearCase& c, c10::ScalarType dtype, double tolerance) {
  const auto x = closed_form(c.input, 0.0).contiguous();
  const int64_t in_features = c.input.back();
  const auto weight = closed_form({c.out_features, in_features}, 1.0) * 0.2;
  const auto bias = c.bias ? closed_form({c.out_features}, 2.0) : torch::Tensor();
  const Pass pass = [&](const torch::Tensor& t) -> std::vector<torch::Tensor> {
    return {activate(torch::linear(t, weight, bias), c.activation)};
  };
  torch::NoGradGuard no_grad;
  int64_t fused = 0;
  const auto graph = fused_graph(x, pass, dtype, &fused);
  EXPECT_EQ(fused, 1) << *graph;
  EXPECT_EQ(count(*graph, "xfer::linear_post"), 1) << *graph;
  for (const char* kind : {"aten::linear", "aten::addmm", "aten::matmul", "aten::add"}) {
    EXPECT_EQ(count(*graph, kind), 0) << kind << *graph;
  }
  if (!c.activation.empty()) {
    EXPECT_EQ(count(*graph, "aten::" + c.activation), 0) << *graph;
  }
  const auto input = x.to(dtype);
  const auto actual = run(graph, input).at(0);
  EXPECT_EQ(actual.scalar_type(), dtype);
  const auto expected = pass(input.to(torch::kFloat)).at(0);
  const double scale = expected.abs().max().item<double>();
  EXPECT_TRUE(xfer::testing::all_close(actual.to(torch::kFloat), expected, tolerance,
                                       tolerance * scale));
}

TEST_P(EveryLinear, EqualsLibTorchsStepsInFp32) { check_linear(GetParam(), torch::kFloat, 1e-5); }

TEST_P(EveryLinear, StaysCloseInBf16) {
  if (!xfer::has_native_bf16(c10::Device(c10::kCPU))) {
    GTEST_SKIP() << "xfer runs bf16 only where it is native";
  }
  check_linear(GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(
    PostOps, EveryLinear,
    ::testing::Values(LinearCase{"rows_bias_gelu", {6, 48}, 40, true, "gelu"},
                      LinearCase{"rows_no_bias", {6, 48}, 40, false, ""},
                      LinearCase{"rows_hardswish", {2, 96}, 64, true, "hardswish"},
                      LinearCase{"nhwc_bias_gelu", {2, 5, 5, 24}, 96, true, "gelu"},
                      LinearCase{"tokens_bias", {2, 17, 32}, 32, true, ""},
                      LinearCase{"tokens_no_bias_relu", {2, 17, 32}, 16, false, "relu"}),
    [](const auto& info) { return info.param.name; });

// conv(x) + x: the residual is the graph's input, which the fused node must not write into; nor
// into a residual the graph reads again afterwards, nor into a constant (the next run would add
// the changed one).
TEST(PostOps, WritesNoTensorReadAfterwards) {
  const auto x = closed_form({2, 8, 10, 10}, 0.0);
  const auto x_before = x.clone();
  const auto weight = closed_form({8, 8, 3, 3}, 1.0) * 0.2;
  const auto constant = closed_form({2, 8, 10, 10}, 5.0);
  const Pass pass = [&](const torch::Tensor& t) -> std::vector<torch::Tensor> {
    const auto conv = [&] { return torch::conv2d(t, weight, {}, kOne, kOne, kOne); };
    const auto onto_input = torch::relu(conv() + t);
    const auto residual = t * 2;
    const auto onto_fresh = torch::relu(conv() + residual);
    const auto onto_constant = torch::relu(conv() + constant);
    // The residual is read afterwards: an output.
    return {onto_input, onto_fresh, residual, onto_constant};
  };
  torch::NoGradGuard no_grad;
  int64_t fused = 0;
  const auto graph = fused_graph(x, pass, torch::kFloat, &fused);
  EXPECT_EQ(fused, 3) << *graph;
  const auto expected = pass(x);
  for (const int run_index : {1, 2}) {
    const auto actual = run(graph, x);
    ASSERT_EQ(actual.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      SCOPED_TRACE(std::to_string(run_index) + ": output " + std::to_string(i));
      EXPECT_TRUE(xfer::testing::all_close(actual[i], expected[i], 1e-5, 1e-5));
    }
  }
  EXPECT_TRUE(torch::equal(x, x_before));
}

// Where two convolutions are added, one takes the addition and the other runs before it.
TEST(PostOps, TwoConvolutionsAddedFuseOnce) {
  const auto x = closed_form({2, 8, 10, 10}, 0.0);
  const auto a = closed_form({8, 8, 3, 3}, 1.0) * 0.2;
  const auto b = closed_form({8, 8, 1, 1}, 2.0) * 0.2;
  const Pass pass = [&](const torch::Tensor& t) -> std::vector<torch::Tensor> {
    return {torch::relu(torch::conv2d(t, a, {}, kOne, kOne, kOne) +
                        torch::conv2d(t, b, {}, kOne, kNoPadding, kOne))};
  };
  torch::NoGradGuard no_grad;
  int64_t fused = 0;
  const auto graph = fused_graph(x, pass, torch::kFloat, &fused);
  EXPECT_EQ(fused, 2) << *graph;
  EXPECT_EQ(count(*graph, "aten::add"), 0);
  EXPECT_EQ(count(*graph, "aten::relu"), 0);
  EXPECT_TRUE(xfer::testing::all_close(run(graph, x).at(0), pass(x).at(0), 1e-5, 1e-5));
}

// The plain weights are let go once packed: an input of another shape gets its primitive's
// weights from the first packing, for a convolution and a Linear layer alike.
TEST(PostOps, AnotherInputShapeIsPackedFromTheFirstPacking) {
  const auto x = closed_form({2, 8, 10, 10}, 0.0);
  const auto weight = closed_form({16, 8, 3, 3}, 1.0) * 0.2;
  const auto linear = closed_form({5, 16}, 2.0) * 0.2;
  const Pass pass = [&](const torch::Tensor& t) -> std::vector<torch::Tensor> {
    const auto map = torch::relu(torch::conv2d(t, weight, {}, kOne, kOne, kOne));  // [N, 16, H, W]
    return {torch::gelu(torch::linear(map.permute({0, 2, 3, 1}), linear))};         // [N, H, W, 5]
  };
  torch::NoGradGuard no_grad;
  int64_t fused = 0;
  const auto graph = fused_graph(x, pass, torch::kFloat, &fused);
  EXPECT_EQ(fused, 2) << *graph;
  for (const auto& input : {x, closed_form({3, 8, 7, 12}, 4.0), x}) {
    SCOPED_TRACE(input.sizes());
    EXPECT_TRUE(xfer::testing::all_close(run(graph, input).at(0), pass(input).at(0), 1e-5, 1e-5));
  }
}

// A convolution on an NCHW input: oneDNN reads it in channels_last, and the result is the same.
TEST(PostOps, AnNchwInputIsReadInChannelsLast) {
  const auto x = closed_form({2, 8, 10, 10}, 0.0);
  const auto weight = closed_form({8, 8, 3, 3}, 1.0) * 0.2;
  const Pass pass = [&](const torch::Tensor& t) -> std::vector<torch::Tensor> {
    return {torch::relu(torch::conv2d(t, weight, {}, kOne, kOne, kOne))};
  };
  torch::NoGradGuard no_grad;
  int64_t fused = 0;
  const auto graph = fused_graph(x, pass, torch::kFloat, &fused);
  const auto nchw = x.contiguous();
  EXPECT_TRUE(xfer::testing::all_close(run(graph, nchw).at(0), pass(nchw).at(0), 1e-5, 1e-5));
}

}  // namespace
