#include "detail/graph.h"

#include "xfer/core/error.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>

namespace xfer::deploy::detail {
namespace {

std::string describe(const torch::jit::Value* value) {
  return "%" + value->debugName() + " (made by " + value->node()->kind().toQualString() + ")";
}

c10::IValue constant(const torch::jit::Value* value, const std::string& what) {
  auto ivalue = torch::jit::toIValue(value);
  if (!ivalue) {
    throw InvalidArgument("export: " + what + ": expected a constant, found the computed value " +
                          describe(value));
  }
  return *ivalue;
}

}  // namespace

OnnxGraph::OnnxGraph(onnx::GraphProto& graph, std::unordered_map<const void*, std::string> names)
    : graph_(graph), weight_names_(std::move(names)) {}

std::string OnnxGraph::tensor(const torch::jit::Value* value) {
  const auto found = names_.find(value);
  if (found != names_.end()) return found->second;
  const auto ivalue = torch::jit::toIValue(value);
  if (!ivalue || !ivalue->isTensor()) {
    throw InvalidArgument("export: the traced value " + describe(value) +
                          " is used before any converter made it");
  }
  const at::Tensor tensor = ivalue->toTensor();
  const auto key = weight_names_.find(tensor.data_ptr());
  const std::string name =
      initializer(tensor, key != weight_names_.end() ? key->second : std::string("constant"));
  names_[value] = name;
  return name;
}

void OnnxGraph::alias(const torch::jit::Value* value, const std::string& name) {
  names_[value] = name;
}

void OnnxGraph::reserve(const torch::jit::Value* value, const std::string& name) {
  taken_.insert(name);
  names_[value] = name;
}

std::string OnnxGraph::initializer(const at::Tensor& tensor, const std::string& hint) {
  const bool integral = at::isIntegralType(tensor.scalar_type(), /*includeBool=*/true);
  const at::Tensor data =
      tensor.detach().to(at::kCPU, integral ? at::kLong : at::kFloat).contiguous();
  onnx::TensorProto& proto = *graph_.add_initializer();
  proto.set_name(fresh(hint));
  for (const int64_t size : data.sizes()) proto.add_dims(size);
  proto.set_data_type(integral ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
  proto.set_raw_data(data.data_ptr(), data.numel() * data.element_size());
  return proto.name();
}

onnx::NodeProto& OnnxGraph::node(const std::string& op, const std::vector<std::string>& inputs,
                                 const torch::jit::Value* value) {
  onnx::NodeProto& node = *graph_.add_node();
  node.set_op_type(op);
  node.set_name(fresh(op));
  for (const auto& input : inputs) node.add_input(input);
  const auto reserved = names_.find(value);
  const std::string name = reserved != names_.end() ? reserved->second : fresh(node.name() + "_out");
  node.add_output(name);
  names_[value] = name;
  return node;
}

onnx::NodeProto& OnnxGraph::step(const std::string& op, const std::vector<std::string>& inputs) {
  onnx::NodeProto& node = *graph_.add_node();
  node.set_op_type(op);
  node.set_name(fresh(op));
  for (const auto& input : inputs) node.add_input(input);
  node.add_output(fresh(node.name() + "_out"));
  return node;
}

c10::optional<std::vector<int64_t>> OnnxGraph::traced_sizes(const torch::jit::Value* value) {
  const auto type = value->type()->cast<c10::TensorType>();
  return type ? type->sizes().concrete_sizes() : c10::nullopt;
}

std::vector<int64_t> OnnxGraph::sizes(const torch::jit::Value* value) {
  const auto sizes = traced_sizes(value);
  if (!sizes) {
    throw InvalidArgument("export: the shape of " + describe(value) + " was not traced");
  }
  return *sizes;
}

std::string OnnxGraph::fresh(const std::string& hint) {
  std::string name = hint;
  int64_t& next = next_[hint];
  while (taken_.count(name) > 0) name = hint + "_" + std::to_string(++next);
  taken_.insert(name);
  return name;
}

void attribute(onnx::NodeProto& node, const std::string& name, int64_t value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
}

void attribute(onnx::NodeProto& node, const std::string& name, float value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(value);
}

void attribute(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (const int64_t v : values) a.add_ints(v);
}

int64_t integer(const torch::jit::Value* value, const std::string& what) {
  const c10::IValue v = constant(value, what);
  if (!v.isInt()) throw InvalidArgument("export: " + what + ": expected an integer");
  return v.toInt();
}

double number(const torch::jit::Value* value, const std::string& what) {
  const c10::IValue v = constant(value, what);
  if (v.isInt()) return static_cast<double>(v.toInt());
  if (!v.isDouble()) throw InvalidArgument("export: " + what + ": expected a number");
  return v.toDouble();
}

bool flag(const torch::jit::Value* value, const std::string& what) {
  const c10::IValue v = constant(value, what);
  if (!v.isBool()) throw InvalidArgument("export: " + what + ": expected true or false");
  return v.toBool();
}

std::vector<int64_t> integers(const torch::jit::Value* value, const std::string& what) {
  if (value->node()->kind() == c10::prim::ListConstruct) {  // a list built of constants
    std::vector<int64_t> out;
    for (const torch::jit::Value* item : value->node()->inputs()) out.push_back(integer(item, what));
    return out;
  }
  const c10::IValue v = constant(value, what);
  if (v.isInt()) return {v.toInt()};
  if (!v.isIntList()) throw InvalidArgument("export: " + what + ": expected a list of integers");
  return v.toIntVector();
}

bool is_none(const torch::jit::Value* value) {
  const auto v = torch::jit::toIValue(value);
  return v && v->isNone();
}

}  // namespace xfer::deploy::detail
