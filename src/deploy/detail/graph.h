#pragma once
// The ONNX graph under construction from a traced LibTorch graph, as the converters see it: names
// for traced values, initializers, nodes; and readers of the constant arguments of a traced node.

#include <ATen/core/Tensor.h>
#include <onnx/onnx_pb.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace xfer::deploy::detail {

/// The ONNX graph being built: every traced tensor value has an ONNX name once its producer is
/// converted; constant tensors become initializers when first used.
class OnnxGraph {
 public:
  /// Builds into `graph`; `names` maps a weight's storage to its state_dict key (initializer names).
  OnnxGraph(onnx::GraphProto& graph, std::unordered_map<const void*, std::string> names);

  /// The ONNX name of the tensor `value` holds: a converted node's output, the graph's input, or a
  /// constant tensor (added as an initializer on first use). Throws InvalidArgument for a value
  /// that is none of these.
  std::string tensor(const torch::jit::Value* value);
  /// Makes `value` another name for the ONNX tensor `name` (an operator that passes its input
  /// through, such as dropout in eval mode).
  void alias(const torch::jit::Value* value, const std::string& name);
  /// Gives `value` the name `name` before its producer is converted (the graph's inputs and
  /// outputs: `input`, `logits`).
  void reserve(const torch::jit::Value* value, const std::string& name);
  /// Adds an initializer holding `tensor` (float32 or int64), named `hint` or after it.
  std::string initializer(const at::Tensor& tensor, const std::string& hint);
  /// Adds a node `op` reading `inputs` whose one output is `value`; returns it for attributes.
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const torch::jit::Value* value);
  /// Adds a node `op` reading `inputs` whose one output is a fresh name (a step inside one
  /// conversion); returns it for attributes. Its output is `output(node)`.
  onnx::NodeProto& step(const std::string& op, const std::vector<std::string>& inputs);
  /// The traced sizes of `value` ([N, C, H, W]...). Throws InvalidArgument when unknown.
  static std::vector<int64_t> sizes(const torch::jit::Value* value);
  /// The traced sizes of `value`, or nullopt where the tracer did not record them.
  static c10::optional<std::vector<int64_t>> traced_sizes(const torch::jit::Value* value);

 private:
  std::string fresh(const std::string& hint);

  onnx::GraphProto& graph_;
  std::unordered_map<const void*, std::string> weight_names_;
  std::unordered_map<const torch::jit::Value*, std::string> names_;
  std::set<std::string> taken_;
  std::map<std::string, int64_t> next_;
};

/// The single output of `node`.
inline const std::string& output(const onnx::NodeProto& node) { return node.output(0); }

/// An attribute of `node`: an integer, a float or a list of integers.
void attribute(onnx::NodeProto& node, const std::string& name, int64_t value);
/// An attribute of `node`: a float.
void attribute(onnx::NodeProto& node, const std::string& name, float value);
/// An attribute of `node`: a list of integers.
void attribute(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values);

/// The constant `value` as an integer. Throws InvalidArgument naming `what` when it is not one.
int64_t integer(const torch::jit::Value* value, const std::string& what);
/// The constant `value` as a number.
double number(const torch::jit::Value* value, const std::string& what);
/// The constant `value` as a flag.
bool flag(const torch::jit::Value* value, const std::string& what);
/// The constant `value` as a list of integers.
std::vector<int64_t> integers(const torch::jit::Value* value, const std::string& what);
/// Whether `value` is the constant None (an optional argument not given).
bool is_none(const torch::jit::Value* value);

/// Converts one traced node into ONNX nodes of `graph`. Throws InvalidArgument when the node is
/// called in a way ONNX (or the converter) cannot express.
using Converter = std::function<void(const torch::jit::Node& node, OnnxGraph& graph)>;

/// The converters by aten operator (`aten::relu`): the one place a new operator is added
/// (docs/export.md).
const std::map<std::string, Converter>& converters();

}  // namespace xfer::deploy::detail
