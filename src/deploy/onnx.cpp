#include "xfer/deploy/onnx.h"

#include "detail/graph.h"
#include "detail/trace.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"

#include <ATen/ATen.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <set>

namespace xfer::deploy {
namespace {

namespace fs = std::filesystem;
using torch::jit::Graph;

onnx::ValueInfoProto& float_value(onnx::ValueInfoProto& info, const std::string& name,
                                  const std::vector<int64_t>& sizes) {
  info.set_name(name);
  auto& tensor = *info.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(onnx::TensorProto::FLOAT);
  auto& shape = *tensor.mutable_shape();
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto& dim = *shape.add_dim();
    if (i == 0) {
      dim.set_dim_param("N");
    } else {
      dim.set_dim_value(sizes[i]);
    }
  }
  return info;
}

// "[2, 64, 56, 56]", or "?" where the tracer did not record it.
std::string traced_shape(const torch::jit::Value* value) {
  const auto sizes = detail::OnnxGraph::traced_sizes(value);
  if (!sizes) return "?";
  std::string text;
  for (const int64_t size : *sizes) text += (text.empty() ? "[" : ", ") + std::to_string(size);
  return text.empty() ? "[]" : text + "]";
}

void check(onnx::ModelProto& model, const fs::path& file) {
  try {
    onnx::checker::check_model(model);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true,
                                                                   /*strict_mode=*/1));
  } catch (const std::exception& e) {
    throw FormatError(file.string() + ": ONNX's checker refused the exported graph: " + e.what());
  }
}

// Protobuf refuses to serialise a message of 2 GB or more (RegNetY-128GF's 2.6 GB of weights).
constexpr size_t kProtobufLimit = (size_t{1} << 31) - 1;
// Initializers smaller than this stay in the model file when the others go beside it.
constexpr size_t kExternalMinBytes = 1024;

void add_entry(onnx::TensorProto& tensor, const std::string& key, const std::string& value) {
  auto& entry = *tensor.add_external_data();
  entry.set_key(key);
  entry.set_value(value);
}

// ONNX's external data: moves the bytes of every initializer of at least kExternalMinBytes into
// one blob, returned, that is stored beside the model as `location`; each initializer names
// location, offset and length in it.
std::string externalize(onnx::GraphProto& graph, const std::string& location) {
  std::string blob;
  for (auto& tensor : *graph.mutable_initializer()) {
    if (tensor.raw_data().size() < kExternalMinBytes) continue;
    const size_t offset = blob.size();
    blob += tensor.raw_data();
    tensor.clear_raw_data();
    tensor.set_data_location(onnx::TensorProto::EXTERNAL);
    add_entry(tensor, "location", location);
    add_entry(tensor, "offset", std::to_string(offset));
    add_entry(tensor, "length", std::to_string(blob.size() - offset));
  }
  return blob;
}

}  // namespace

fs::path external_data_file(const fs::path& file) {
  return file.parent_path() / (file.filename().string() + ".data");
}

OnnxExport write_onnx(models::ClassifierImpl& model, const OnnxOptions& options,
                      const fs::path& file) {
  if (options.input_size < 1) {
    throw InvalidArgument("export: input size must be at least 1, got " +
                          std::to_string(options.input_size));
  }
  const std::shared_ptr<Graph> traced = detail::trace(model, options.input_size, options.features);
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("xfer");
  proto.set_doc_string(options.description);
  auto& opset = *proto.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOnnxOpset);
  for (const auto& [key, value] : options.metadata) {
    auto& entry = *proto.add_metadata_props();
    entry.set_key(key);
    entry.set_value(value);
  }
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name("xfer_classifier");
  detail::OnnxGraph builder(graph, detail::weight_names(model));

  const torch::jit::Value* input = traced->inputs().at(0);
  builder.reserve(input, "input");
  float_value(*graph.add_input(), "input", {-1, 3, options.input_size, options.input_size});
  const std::vector<std::string> output_names =
      options.features ? std::vector<std::string>{"logits", "features"}
                       : std::vector<std::string>{"logits"};
  for (size_t i = 0; i < output_names.size(); ++i) {
    builder.reserve(traced->outputs().at(i), output_names[i]);
  }

  const auto& table = detail::converters();
  for (const torch::jit::Node* node : traced->nodes()) {
    const std::string kind = node->kind().toQualString();
    if (kind == "prim::Constant" || kind == "prim::ListConstruct") continue;  // read by users
    const auto converter = table.find(kind);
    if (converter == table.end()) {
      std::string known;
      for (const auto& item : table) known += (known.empty() ? "" : ", ") + item.first;
      throw InvalidArgument("export: the model's forward pass uses " + kind +
                            " (making a tensor of shape " + traced_shape(node->output(0)) +
                            "), which has no ONNX converter (src/deploy/converters.cpp has " +
                            known + ")");
    }
    converter->second(*node, builder);
  }

  std::set<std::string> operators;
  for (size_t i = 0; i < output_names.size(); ++i) {
    const torch::jit::Value* value = traced->outputs().at(i);
    // An output that is another name for a tensor (a dropout at the end) gets its own node.
    if (builder.tensor(value) != output_names[i]) {
      auto& identity = *graph.add_node();
      identity.set_op_type("Identity");
      identity.set_name("output_" + output_names[i]);
      identity.add_input(builder.tensor(value));
      identity.add_output(output_names[i]);
    }
    float_value(*graph.add_output(), output_names[i], detail::OnnxGraph::sizes(value));
  }
  if (options.probabilities) {
    auto& softmax = *graph.add_node();
    softmax.set_op_type("Softmax");
    softmax.set_name("probabilities");
    softmax.add_input("logits");
    softmax.add_output("probabilities");
    detail::attribute(softmax, "axis", int64_t{1});
    float_value(*graph.add_output(), "probabilities",
                detail::OnnxGraph::sizes(traced->outputs().at(0)));
  }
  for (const auto& node : graph.node()) operators.insert(node.op_type());

  check(proto, file);
  OnnxExport done;
  const fs::path data_file = external_data_file(file);
  if (options.external_data || proto.ByteSizeLong() > kProtobufLimit) {
    const std::string blob = externalize(*proto.mutable_graph(), data_file.filename().string());
    write_file_atomically(data_file, blob);
    done.data_file = data_file;
  }
  std::string bytes;
  if (proto.ByteSizeLong() > kProtobufLimit || !proto.SerializeToString(&bytes)) {
    if (!done.data_file.empty()) fs::remove(data_file);
    throw InvalidArgument("export: the graph does not fit one ONNX file even without its weights "
                          "(protobuf's 2 GB limit)");
  }
  try {
    write_file_atomically(file, bytes);
  } catch (...) {
    if (!done.data_file.empty()) fs::remove(data_file);
    throw;
  }
  // A weights file left by an earlier export to the same name belongs to the model just replaced.
  std::error_code ignored;
  if (done.data_file.empty()) fs::remove(data_file, ignored);
  done.file = file;
  done.nodes = graph.node_size();
  done.initializers = graph.initializer_size();
  done.operators.assign(operators.begin(), operators.end());
  return done;
}

}  // namespace xfer::deploy
