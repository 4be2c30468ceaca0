// The converter table: each aten operator the zoo's forward passes trace to (and only those: every
// entry is exercised by the export tests), as ONNX nodes of opset 14. A model whose trace holds an operator missing here is refused by name; adding the
// operator here is how it becomes exportable (docs/export.md).

#include "detail/graph.h"
#include "xfer/core/error.h"

#include <ATen/ATen.h>
#include <ATen/PadNd.h>
#include <torch/csrc/jit/ir/constants.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace xfer::deploy::detail {
namespace {

using torch::jit::Node;
using torch::jit::Value;

std::string what(const Node& node, const std::string& argument) {
  return std::string(node.kind().toQualString()) + " " + argument;
}

// A float scalar as a 0-d initializer (Clip's bounds, Pad's value, Add's constant operand).
std::string scalar(OnnxGraph& graph, double value, const std::string& hint) {
  return graph.initializer(at::scalar_tensor(value, at::kFloat), hint);
}

// An int64 list as a 1-d initializer (Slice's starts and ends, Pad's pads).
std::string int64s(OnnxGraph& graph, const std::vector<int64_t>& values, const std::string& hint) {
  return graph.initializer(at::tensor(values, at::kLong), hint);
}

// The tensor operand `value` of an elementwise operator: a traced tensor, or a constant scalar.
std::string operand(OnnxGraph& graph, const Value* value, const Node& node) {
  if (value->type()->cast<c10::TensorType>()) return graph.tensor(value);
  return scalar(graph, number(value, what(node, "operand")), "scalar");
}

// [a, b] per spatial axis as ONNX's [a_begin, b_begin, a_end, b_end] (symmetric padding).
std::vector<int64_t> symmetric(const std::vector<int64_t>& padding) {
  std::vector<int64_t> pads = padding;
  pads.insert(pads.end(), padding.begin(), padding.end());
  return pads;
}

// One value for every spatial axis: torch lets `[k]` mean `[k, k]`.
std::vector<int64_t> per_axis(std::vector<int64_t> values, size_t axes) {
  if (values.size() == 1) values.assign(axes, values.front());
  return values;
}

void convolution(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();
  if (flag(in[6], what(node, "transposed"))) {
    throw InvalidArgument("export: transposed convolutions have no converter yet");
  }
  const auto weight = OnnxGraph::sizes(in[1]);  // [out, in / groups, kH, kW]
  const size_t axes = weight.size() - 2;
  std::vector<std::string> inputs = {graph.tensor(in[0]), graph.tensor(in[1])};
  if (!is_none(in[2])) inputs.push_back(graph.tensor(in[2]));
  auto& conv = graph.node("Conv", inputs, node.output());
  attribute(conv, "kernel_shape", std::vector<int64_t>(weight.begin() + 2, weight.end()));
  attribute(conv, "strides", per_axis(integers(in[3], what(node, "stride")), axes));
  attribute(conv, "pads", symmetric(per_axis(integers(in[4], what(node, "padding")), axes)));
  attribute(conv, "dilations", per_axis(integers(in[5], what(node, "dilation")), axes));
  attribute(conv, "group", integer(in[8], what(node, "groups")));
}

void batch_norm(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();
  if (flag(in[5], what(node, "training"))) {
    throw InvalidArgument("export: batch norm traced in training mode (the model must be in eval)");
  }
  const int64_t channels = OnnxGraph::sizes(in[0]).at(1);
  const std::string scale =
      is_none(in[1]) ? graph.initializer(at::ones({channels}), "bn_scale") : graph.tensor(in[1]);
  const std::string bias =
      is_none(in[2]) ? graph.initializer(at::zeros({channels}), "bn_bias") : graph.tensor(in[2]);
  auto& bn = graph.node("BatchNormalization",
                        {graph.tensor(in[0]), scale, bias, graph.tensor(in[3]), graph.tensor(in[4])},
                        node.output());
  attribute(bn, "epsilon", static_cast<float>(number(in[7], what(node, "eps"))));
}

// An operator with one tensor input and the same ONNX operator without attributes.
Converter unary(const std::string& op) {
  return [op](const Node& node, OnnxGraph& graph) {
    graph.node(op, {graph.tensor(node.input(0))}, node.output());
  };
}

void relu6(const Node& node, OnnxGraph& graph) {
  graph.node("Clip",
             {graph.tensor(node.input(0)), scalar(graph, 0, "clip_min"),
              scalar(graph, 6, "clip_max")},
             node.output());
}

void hardsigmoid(const Node& node, OnnxGraph& graph) {
  // torch: relu6(x + 3) / 6, which is ONNX's max(0, min(1, alpha x + beta)) at 1/6 and 1/2.
  auto& op = graph.node("HardSigmoid", {graph.tensor(node.input(0))}, node.output());
  attribute(op, "alpha", 1.0F / 6);
  attribute(op, "beta", 0.5F);
}

void silu(const Node& node, OnnxGraph& graph) {
  // x * sigmoid(x): ONNX opset 14 has no SiLU of its own.
  const std::string x = graph.tensor(node.input(0));
  const auto& sigmoid = graph.step("Sigmoid", {x});
  graph.node("Mul", {x, output(sigmoid)}, node.output());
}

void gelu(const Node& node, OnnxGraph& graph) {
  // The exact GELU, x * (1 + erf(x / sqrt(2))) / 2: opset 14 has no Gelu of its own.
  const auto approximate = torch::jit::toIValue(node.input(1));
  if (approximate && approximate->isString() && approximate->toStringRef() != "none") {
    throw InvalidArgument("export: aten::gelu with approximate='" + approximate->toStringRef() +
                          "' has no converter (only the exact GELU)");
  }
  const std::string x = graph.tensor(node.input(0));
  const auto& scaled = graph.step("Div", {x, scalar(graph, std::sqrt(2.0), "sqrt2")});
  const auto& erf = graph.step("Erf", {output(scaled)});
  const auto& one_plus = graph.step("Add", {output(erf), scalar(graph, 1, "one")});
  const auto& half_x = graph.step("Mul", {x, scalar(graph, 0.5, "half")});
  graph.node("Mul", {output(half_x), output(one_plus)}, node.output());
}

void layer_norm(const Node& node, OnnxGraph& graph) {
  // Over the last axes, decomposed (LayerNormalization is opset 17): (x - mean) / sqrt(var + eps)
  // * weight + bias, with the biased variance as torch computes it.
  const auto in = node.inputs();  // input, normalized_shape, weight, bias, eps, cudnn_enable
  const int64_t axes = static_cast<int64_t>(integers(in[1], what(node, "normalized_shape")).size());
  std::vector<int64_t> last;
  for (int64_t i = axes; i > 0; --i) last.push_back(-i);
  const std::string x = graph.tensor(in[0]);
  auto& mean = graph.step("ReduceMean", {x});
  attribute(mean, "axes", last);
  const auto& centred = graph.step("Sub", {x, output(mean)});
  const auto& squared = graph.step("Mul", {output(centred), output(centred)});
  auto& variance = graph.step("ReduceMean", {output(squared)});
  attribute(variance, "axes", last);
  const auto& shifted = graph.step(
      "Add", {output(variance), scalar(graph, number(in[4], what(node, "eps")), "eps")});
  const auto& deviation = graph.step("Sqrt", {output(shifted)});
  const auto& normalised = graph.step("Div", {output(centred), output(deviation)});
  std::string y = output(normalised);
  if (!is_none(in[2])) y = output(graph.step("Mul", {y, graph.tensor(in[2])}));
  if (is_none(in[3])) {
    graph.alias(node.output(), y);
  } else {
    graph.node("Add", {y, graph.tensor(in[3])}, node.output());
  }
}

void permute(const Node& node, OnnxGraph& graph) {
  auto& op = graph.node("Transpose", {graph.tensor(node.input(0))}, node.output());
  attribute(op, "perm", integers(node.input(1), what(node, "dims")));
}

void add(const Node& node, OnnxGraph& graph) {
  if (node.inputs().size() > 2 && number(node.input(2), what(node, "alpha")) != 1.0) {
    throw InvalidArgument("export: aten::add with alpha other than 1 has no converter");
  }
  graph.node("Add", {operand(graph, node.input(0), node), operand(graph, node.input(1), node)},
             node.output());
}

// x.add_(y) where nothing else reads x (a Linear's bias added to its matmul): the sum, as add.
void add_in_place(const Node& node, OnnxGraph& graph) {
  if (node.input(0)->uses().size() != 1) {
    throw InvalidArgument("export: aten::add_ on a tensor that other operators also read has no "
                          "converter");
  }
  add(node, graph);
}

void mul(const Node& node, OnnxGraph& graph) {
  graph.node("Mul", {operand(graph, node.input(0), node), operand(graph, node.input(1), node)},
             node.output());
}

void cat(const Node& node, OnnxGraph& graph) {
  const Node& list = *node.input(0)->node();
  if (list.kind() != c10::prim::ListConstruct) {
    throw InvalidArgument("export: aten::cat of a list that is not built in the graph");
  }
  std::vector<std::string> inputs;
  for (const Value* item : list.inputs()) inputs.push_back(graph.tensor(item));
  auto& concat = graph.node("Concat", inputs, node.output());
  attribute(concat, "axis", integer(node.input(1), what(node, "dim")));
}

void max_pool(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();
  const auto kernel = per_axis(integers(in[1], what(node, "kernel_size")), 2);
  auto stride = integers(in[2], what(node, "stride"));
  if (stride.empty()) stride = kernel;  // torch's default
  auto& pool = graph.node("MaxPool", {graph.tensor(in[0])}, node.output());
  attribute(pool, "kernel_shape", kernel);
  attribute(pool, "strides", per_axis(stride, 2));
  attribute(pool, "pads", symmetric(per_axis(integers(in[3], what(node, "padding")), 2)));
  attribute(pool, "dilations", per_axis(integers(in[4], what(node, "dilation")), 2));
  attribute(pool, "ceil_mode", int64_t{flag(in[5], what(node, "ceil_mode"))});
}

void avg_pool(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();
  if (!is_none(in[6])) {
    throw InvalidArgument("export: aten::avg_pool2d with a divisor_override has no converter");
  }
  const auto kernel = per_axis(integers(in[1], what(node, "kernel_size")), 2);
  auto stride = integers(in[2], what(node, "stride"));
  if (stride.empty()) stride = kernel;
  auto& pool = graph.node("AveragePool", {graph.tensor(in[0])}, node.output());
  attribute(pool, "kernel_shape", kernel);
  attribute(pool, "strides", per_axis(stride, 2));
  attribute(pool, "pads", symmetric(per_axis(integers(in[3], what(node, "padding")), 2)));
  attribute(pool, "ceil_mode", int64_t{flag(in[4], what(node, "ceil_mode"))});
  attribute(pool, "count_include_pad", int64_t{flag(in[5], what(node, "count_include_pad"))});
}

void adaptive_avg_pool(const Node& node, OnnxGraph& graph) {
  const auto size = OnnxGraph::sizes(node.input(0));  // [N, C, H, W] as traced
  const auto out = per_axis(integers(node.input(1), what(node, "output_size")), 2);
  const std::string x = graph.tensor(node.input(0));
  if (out[0] == 1 && out[1] == 1) {
    graph.node("GlobalAveragePool", {x}, node.output());
    return;
  }
  if (out[0] == size[2] && out[1] == size[3]) {  // each cell its own average: nothing to do
    graph.alias(node.output(), x);
    return;
  }
  if (size[2] % out[0] != 0 || size[3] % out[1] != 0) {
    throw InvalidArgument("export: aten::adaptive_avg_pool2d from " + std::to_string(size[2]) +
                          "x" + std::to_string(size[3]) + " to " + std::to_string(out[0]) + "x" +
                          std::to_string(out[1]) +
                          " is not a fixed pooling (export at an input size where it divides)");
  }
  const std::vector<int64_t> kernel = {size[2] / out[0], size[3] / out[1]};
  auto& pool = graph.node("AveragePool", {x}, node.output());
  attribute(pool, "kernel_shape", kernel);
  attribute(pool, "strides", kernel);
}

void flatten(const Node& node, OnnxGraph& graph) {
  const int64_t rank = static_cast<int64_t>(OnnxGraph::sizes(node.input(0)).size());
  const int64_t start = integer(node.input(1), what(node, "start_dim"));
  const int64_t end = integer(node.input(2), what(node, "end_dim"));
  if (start != 1 || (end != -1 && end != rank - 1)) {
    throw InvalidArgument("export: aten::flatten(" + std::to_string(start) + ", " +
                          std::to_string(end) + ") has no converter (only flatten(1))");
  }
  auto& op = graph.node("Flatten", {graph.tensor(node.input(0))}, node.output());
  attribute(op, "axis", int64_t{1});
}

// Whether `value` is made by aten::t and read only by aten::addmm as its second matrix (a linear
// layer's weight, which Gemm reads untransposed with transB).
bool transposed_weight(const Value* value) {
  if (value->node()->kind() != c10::aten::t) return false;
  for (const auto& use : value->uses()) {
    if (use.user->kind() != c10::aten::addmm || use.offset != 2) return false;
  }
  return true;
}

void transpose(const Node& node, OnnxGraph& graph) {
  if (transposed_weight(node.output())) return;  // Gemm reads the weight itself
  auto& op = graph.node("Transpose", {graph.tensor(node.input(0))}, node.output());
  attribute(op, "perm", std::vector<int64_t>{1, 0});
}

// torch.matmul and ONNX's MatMul follow numpy's rules alike (a Linear on channels-last pixels:
// [N, H, W, C] @ [C, out]).
void matmul(const Node& node, OnnxGraph& graph) {
  graph.node("MatMul", {graph.tensor(node.input(0)), graph.tensor(node.input(1))}, node.output());
}

void addmm(const Node& node, OnnxGraph& graph) {
  // beta * bias + alpha * (x @ w); a linear layer's w is t(weight [out, in]): Gemm with transB
  // reads the weight as it is stored, the form every runtime knows.
  const auto in = node.inputs();
  const bool linear = transposed_weight(in[2]);
  const std::string w = linear ? graph.tensor(in[2]->node()->input(0)) : graph.tensor(in[2]);
  auto& gemm = graph.node("Gemm", {graph.tensor(in[1]), w, graph.tensor(in[0])}, node.output());
  attribute(gemm, "beta", static_cast<float>(number(in[3], what(node, "beta"))));
  attribute(gemm, "alpha", static_cast<float>(number(in[4], what(node, "alpha"))));
  if (linear) attribute(gemm, "transB", int64_t{1});
}

// x.select(dim, i): Gather of one index, which drops the axis as select does.
void select(const Node& node, OnnxGraph& graph) {
  auto& gather = graph.node(
      "Gather",
      {graph.tensor(node.input(0)),
       graph.initializer(at::scalar_tensor(integer(node.input(2), what(node, "index")), at::kLong),
                         "select_index")},
      node.output());
  attribute(gather, "axis", integer(node.input(1), what(node, "dim")));
}

void unsqueeze(const Node& node, OnnxGraph& graph) {
  graph.node("Unsqueeze",
             {graph.tensor(node.input(0)),
              int64s(graph, {integer(node.input(1), what(node, "dim"))}, "unsqueeze_axes")},
             node.output());
}

// x.view(shape) / x.reshape(shape): Reshape to the traced shape, whose -1 (the batch, where the
// model leaves it open) stays -1.
void reshape(const Node& node, OnnxGraph& graph) {
  graph.node("Reshape",
             {graph.tensor(node.input(0)),
              int64s(graph, integers(node.input(1), what(node, "shape")), "reshape_shape")},
             node.output());
}

// x.transpose(a, b), negative dims counted from the traced rank.
void swap_axes(const Node& node, OnnxGraph& graph) {
  const auto rank = static_cast<int64_t>(OnnxGraph::sizes(node.input(0)).size());
  const auto axis = [&](const Value* value) {
    const int64_t dim = integer(value, what(node, "dim"));
    return dim < 0 ? dim + rank : dim;
  };
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  for (int64_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  std::swap(perm[static_cast<size_t>(axis(node.input(1)))],
            perm[static_cast<size_t>(axis(node.input(2)))]);
  auto& op = graph.node("Transpose", {graph.tensor(node.input(0))}, node.output());
  attribute(op, "perm", perm);
}

// x.mean(dims, keepdim): ReduceMean (its axes an attribute up to opset 17).
void mean(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();  // input, dims, keepdim, dtype
  if (in.size() > 3 && !is_none(in[3])) {
    throw InvalidArgument("export: aten::mean with a dtype has no converter");
  }
  auto& op = graph.node("ReduceMean", {graph.tensor(in[0])}, node.output());
  attribute(op, "axes", integers(in[1], what(node, "dim")));
  attribute(op, "keepdims", int64_t{flag(in[2], what(node, "keepdim")) ? 1 : 0});
}

// The 2-norm over `dims` (what normalize() divides by): ONNX's ReduceL2.
void norm(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();  // input, p, dims, keepdim
  if (in.size() != 4 || (!is_none(in[1]) && number(in[1], what(node, "p")) != 2.0)) {
    throw InvalidArgument("export: aten::norm has a converter for the 2-norm over dims only");
  }
  auto& op = graph.node("ReduceL2", {graph.tensor(in[0])}, node.output());
  attribute(op, "axes", integers(in[2], what(node, "dim")));
  attribute(op, "keepdims", int64_t{flag(in[3], what(node, "keepdim")) ? 1 : 0});
}

void clamp_min(const Node& node, OnnxGraph& graph) {
  graph.node("Max",
             {graph.tensor(node.input(0)),
              scalar(graph, number(node.input(1), what(node, "min")), "clamp_min")},
             node.output());
}

void softmax(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();  // input, dim, dtype
  if (!is_none(in[2])) throw InvalidArgument("export: aten::softmax with a dtype has no converter");
  auto& op = graph.node("Softmax", {graph.tensor(in[0])}, node.output());
  attribute(op, "axis", integer(in[1], what(node, "dim")));
}

void divide(const Node& node, OnnxGraph& graph) {
  if (node.inputs().size() > 2) {
    throw InvalidArgument("export: aten::div with a rounding mode has no converter");
  }
  graph.node("Div", {operand(graph, node.input(0), node), operand(graph, node.input(1), node)},
             node.output());
}

// x.expand_as(y): Expand to y's shape as the graph computes it, so a batch stays dynamic.
void expand_as(const Node& node, OnnxGraph& graph) {
  const auto& shape = graph.step("Shape", {graph.tensor(node.input(1))});
  graph.node("Expand", {graph.tensor(node.input(0)), output(shape)}, node.output());
}

void pass_through(const Node& node, OnnxGraph& graph) {
  graph.alias(node.output(), graph.tensor(node.input(0)));
}

void slice(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();
  const int64_t start = is_none(in[2]) ? 0 : integer(in[2], what(node, "start"));
  const int64_t end = is_none(in[3]) ? std::numeric_limits<int64_t>::max()
                                     : integer(in[3], what(node, "end"));
  graph.node("Slice",
             {graph.tensor(in[0]), int64s(graph, {start}, "slice_starts"),
              int64s(graph, {end}, "slice_ends"),
              int64s(graph, {integer(in[1], what(node, "dim"))}, "slice_axes"),
              int64s(graph, {integer(in[4], what(node, "step"))}, "slice_steps")},
             node.output());
}

// x.narrow(dim, start, length): Slice of [start, start + length) on dim.
void narrow(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();  // input, dim, start, length
  const int64_t start = integer(in[2], what(node, "start"));
  graph.node("Slice",
             {graph.tensor(in[0]), int64s(graph, {start}, "narrow_starts"),
              int64s(graph, {start + integer(in[3], what(node, "length"))}, "narrow_ends"),
              int64s(graph, {integer(in[1], what(node, "dim"))}, "narrow_axes")},
             node.output());
}

// Constant padding (F::pad in constant mode is aten::_pad_enum, TensorFlow SAME padding
// aten::constant_pad_nd): torch lists (begin, end) pairs from the last axis back; ONNX lists every
// axis's begin, then every axis's end.
void pad(const Node& node, OnnxGraph& graph) {
  const auto in = node.inputs();  // input, pad, [mode,] value
  const bool with_mode = node.kind() == c10::Symbol::fromQualString("aten::_pad_enum");
  if (with_mode &&
      integer(in[2], what(node, "mode")) != static_cast<int64_t>(at::padding_mode::constant)) {
    throw InvalidArgument("export: only constant padding has a converter");
  }
  const auto torch_pads = integers(in[1], what(node, "pad"));
  const size_t rank = OnnxGraph::sizes(in[0]).size();
  std::vector<int64_t> pads(2 * rank, 0);
  for (size_t i = 0; i + 1 < torch_pads.size() && i / 2 < rank; i += 2) {
    const size_t axis = rank - 1 - i / 2;
    pads[axis] = torch_pads[i];
    pads[rank + axis] = torch_pads[i + 1];
  }
  const Value* fill = with_mode ? in[3] : in[2];
  const double value = is_none(fill) ? 0.0 : number(fill, what(node, "value"));
  graph.node("Pad",
             {graph.tensor(in[0]), int64s(graph, pads, "pads"), scalar(graph, value, "pad_value")},
             node.output());
}

}  // namespace

const std::map<std::string, Converter>& converters() {
  static const std::map<std::string, Converter> table = {
      {"aten::_convolution", convolution},
      {"aten::batch_norm", batch_norm},
      {"aten::relu", unary("Relu")},
      {"aten::relu6", relu6},
      {"aten::hardswish", unary("HardSwish")},
      {"aten::hardsigmoid", hardsigmoid},
      {"aten::sigmoid", unary("Sigmoid")},
      {"aten::tanh", unary("Tanh")},
      {"aten::silu", silu},
      {"aten::gelu", gelu},
      {"aten::layer_norm", layer_norm},
      {"aten::permute", permute},
      {"aten::add", add},
      {"aten::add_", add_in_place},
      {"aten::mul", mul},
      {"aten::cat", cat},
      {"aten::max_pool2d", max_pool},
      {"aten::avg_pool2d", avg_pool},
      {"aten::adaptive_avg_pool2d", adaptive_avg_pool},
      {"aten::flatten", flatten},
      {"aten::addmm", addmm},
      {"aten::matmul", matmul},
      {"aten::t", transpose},
      {"aten::select", select},
      {"aten::unsqueeze", unsqueeze},
      {"aten::dropout", pass_through},
      {"aten::contiguous", pass_through},
      {"aten::view", reshape},
      {"aten::reshape", reshape},
      {"aten::transpose", swap_axes},
      {"aten::mean", mean},
      {"aten::norm", norm},
      {"aten::clamp_min", clamp_min},
      {"aten::softmax", softmax},
      {"aten::div", divide},
      {"aten::expand_as", expand_as},
      {"aten::slice", slice},
      {"aten::narrow", narrow},
      {"aten::_pad_enum", pad},
      {"aten::constant_pad_nd", pad},
  };
  return table;
}

}  // namespace xfer::deploy::detail
