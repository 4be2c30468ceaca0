#include "xfer/pretrained/tflite_import.h"

#include "xfer/core/error.h"
#include "xfer/core/shape.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

namespace xfer::pretrained {
namespace {

// One CONV_2D or DEPTHWISE_CONV_2D of the graphs, with where it sits.
struct GraphConv {
  const TfliteGraph* graph;
  const TfliteOperator* op;
  size_t position;  // index of the operator in its graph

  const TfliteTensor& input(size_t k) const {
    if (k >= op->inputs.size() || op->inputs[k] < 0) {
      throw FormatError(graph->origin + ": operator " + std::to_string(position) + " (" +
                        to_string(op->opcode) + ") has no input " + std::to_string(k));
    }
    return graph->tensors[static_cast<size_t>(op->inputs[k])];
  }

  bool has_bias() const { return op->inputs.size() > 2 && op->inputs[2] >= 0; }

  std::string where() const {
    return graph->origin + " operator " + std::to_string(position) + " (" +
           to_string(op->opcode) + ", tensor '" + input(1).name + "')";
  }
};

// The convolutions of all parts in execution order, and how many of them form the head: the
// CONV_2D ops after the last AVERAGE_POOL_2D (0 for a graph that ends at the pooled features).
struct GraphConvs {
  std::vector<GraphConv> convs;
  size_t head = 0;
};

GraphConvs graph_convs(const std::vector<TfliteGraph>& parts) {
  GraphConvs out;
  for (const auto& graph : parts) {
    for (size_t i = 0; i < graph.operators.size(); ++i) {
      const auto& op = graph.operators[i];
      if (op.opcode == TfliteOpcode::kAveragePool2d) out.head = 0;
      if (op.opcode == TfliteOpcode::kConv2d || op.opcode == TfliteOpcode::kDepthwiseConv2d) {
        out.convs.push_back({&graph, &op, i});
        ++out.head;
      }
    }
  }
  bool pooled = false;
  for (const auto& graph : parts) {
    for (const auto& op : graph.operators) pooled = pooled || op.opcode == TfliteOpcode::kAveragePool2d;
  }
  if (!pooled) out.head = 0;
  return out;
}

// The model's Conv2d modules in named_modules() order, each with the BatchNorm2d that follows it.
struct ModelConv {
  std::string path;
  const torch::nn::Conv2dImpl* conv;
  std::string norm_path;
  const torch::nn::BatchNorm2dImpl* norm = nullptr;
};

torch::Tensor constant(const GraphConv& conv, size_t k) {
  const TfliteTensor& tensor = conv.input(k);
  const std::string where = conv.graph->origin + ": operator " + std::to_string(conv.position) +
                            " (" + to_string(conv.op->opcode) + "): ";
  if (tensor.data.empty()) {
    throw FormatError(where + "expected constant input " + std::to_string(k) +
                      ", found the activation '" + tensor.name + "'");
  }
  try {
    return dequantize(tensor);
  } catch (const FormatError& e) {
    // dequantize names the tensor only; say which file and operator it belongs to.
    throw FormatError(where + e.what());
  }
}

// The weights of a convolution, which the schema stores 4-d (OHWI, or 1HWC for depthwise).
torch::Tensor kernel(const GraphConv& conv) {
  torch::Tensor weights = constant(conv, 1);
  if (weights.dim() != 4) {
    throw FormatError(conv.graph->origin + ": operator " + std::to_string(conv.position) + " (" +
                      to_string(conv.op->opcode) + "): expected 4-d weights, found tensor '" +
                      conv.input(1).name + "' of shape " + shape_text(weights.sizes()));
  }
  return weights;
}

void require_shape(const std::string& key, at::IntArrayRef expected, const torch::Tensor& got,
                   const std::string& where) {
  if (got.sizes() != expected) {
    throw WeightMismatch("wrong shape for '" + key + "': got " + shape_text(got.sizes()) +
                         " from " + where + ", expected " + shape_text(expected));
  }
}

}  // namespace

TfliteModelShape tflite_model_shape(const std::vector<TfliteGraph>& parts) {
  if (parts.empty()) throw FormatError("TFLite import: expected at least one graph, got none");
  const GraphConvs found = graph_convs(parts);
  if (found.convs.empty()) {
    throw FormatError(parts.front().origin + ": expected a convolutional network, found no CONV_2D");
  }
  TfliteModelShape shape;
  shape.stem_channels = kernel(found.convs.front()).size(0);
  if (found.head > 0) shape.num_classes = kernel(found.convs.back()).size(0);

  const TfliteGraph& first = parts.front();
  if (first.inputs.size() != 1) {
    throw FormatError(first.origin + ": expected one input tensor, found " +
                      std::to_string(first.inputs.size()));
  }
  const TfliteTensor& input = first.tensors[static_cast<size_t>(first.inputs[0])];
  if (input.shape.size() != 4 || input.shape[0] != 1 || input.shape[3] != 3 ||
      input.shape[1] != input.shape[2] || input.shape[1] < 1) {
    throw FormatError(first.origin + ": input '" + input.name +
                      "': expected a square RGB image [1, H, H, 3], found " +
                      shape_text(input.shape));
  }
  shape.input.size = input.shape[1];
  shape.input.resize = input.shape[1] * 256 / 224;
  if (input.scale.size() == 1 && input.zero_point.size() == 1 && input.scale[0] > 0) {
    const double mean = static_cast<double>(input.zero_point[0]) / 255.0;
    const double std = 1.0 / (255.0 * static_cast<double>(input.scale[0]));
    shape.input.mean = {mean, mean, mean};
    shape.input.std = {std, std, std};
  } else {
    // A float input: TF-slim's MobileNets take (p - 127.5) / 127.5.
    shape.input.mean = {0.5, 0.5, 0.5};
    shape.input.std = {0.5, 0.5, 0.5};
  }
  return shape;
}

weights::StateDict tflite_state_dict(const torch::nn::Module& model,
                                     const std::vector<TfliteGraph>& parts) {
  std::vector<ModelConv> model_convs;
  std::string head_path;
  const torch::nn::LinearImpl* head = nullptr;
  for (const auto& item : model.named_modules("", false)) {
    const auto& module = item.value();
    if (const auto* conv = module->as<torch::nn::Conv2d>()) {
      model_convs.push_back({item.key(), conv, "", nullptr});
    } else if (const auto* norm = module->as<torch::nn::BatchNorm2d>()) {
      if (!model_convs.empty() && model_convs.back().norm == nullptr) {
        model_convs.back().norm_path = item.key();
        model_convs.back().norm = norm;
      }
    } else if (const auto* linear = module->as<torch::nn::Linear>()) {
      head_path = item.key();
      head = linear;
    }
  }
  const GraphConvs found = graph_convs(parts);
  const size_t body = found.convs.size() - found.head;
  if (body != model_convs.size() || found.head > 1 || (found.head == 1 && head == nullptr)) {
    throw WeightMismatch("TFLite import: the model has " + std::to_string(model_convs.size()) +
                         " convolutions" + (head ? " and a Linear head '" + head_path + "'" : "") +
                         ", the graphs have " + std::to_string(body) + " before the pool and " +
                         std::to_string(found.head) + " after it (" +
                         (parts.empty() ? std::string("no graph") : parts.front().origin) + ")");
  }

  weights::StateDict out;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < body; ++i) {
    const GraphConv& graph_conv = found.convs[i];
    const ModelConv& model_conv = model_convs[i];
    const auto& options = model_conv.conv->options;
    const bool depthwise = options.groups() > 1;
    const bool graph_depthwise = graph_conv.op->opcode == TfliteOpcode::kDepthwiseConv2d;
    const std::string key = model_conv.path + ".weight";
    if (depthwise != graph_depthwise || (depthwise && options.groups() != options.in_channels())) {
      throw WeightMismatch("'" + key + "' is a " +
                           (depthwise ? "depthwise (groups " + std::to_string(options.groups()) + ")"
                                      : std::string("full")) +
                           " convolution, but " + graph_conv.where() + " is not");
    }
    const int64_t stride_h = (*options.stride())[0];
    const int64_t stride_w = (*options.stride())[1];
    if (stride_h != graph_conv.op->stride_h || stride_w != graph_conv.op->stride_w) {
      throw WeightMismatch("wrong stride for '" + key + "': got " +
                           std::to_string(graph_conv.op->stride_h) + "x" +
                           std::to_string(graph_conv.op->stride_w) + " from " + graph_conv.where() +
                           ", expected " + std::to_string(stride_h) + "x" +
                           std::to_string(stride_w));
    }
    const auto stored = constant(graph_conv, 1);
    if (stored.dim() != 4) {
      throw WeightMismatch("wrong shape for '" + key + "': got the 4-d " +
                           shape_text(stored.sizes()) + " from " + graph_conv.where() +
                           " where a 4-d kernel was expected");
    }
    // OHWI → OIHW; depthwise 1HWC → C1HW.
    const auto weight = depthwise ? stored.permute({3, 0, 1, 2}) : stored.permute({0, 3, 1, 2});
    require_shape(key, model_conv.conv->weight.sizes(), weight, graph_conv.where());
    out.insert(key, weight.contiguous());

    const int64_t channels = weight.size(0);
    const auto bias = graph_conv.has_bias() ? constant(graph_conv, 2)
                                            : torch::zeros({channels}, torch::kFloat32);
    if (model_conv.norm == nullptr) {
      throw WeightMismatch("TFLite import: '" + model_conv.path +
                           "' is not followed by a BatchNorm2d to hold the folded bias of " +
                           graph_conv.where());
    }
    const std::string norm = model_conv.norm_path;
    require_shape(norm + ".bias", model_conv.norm->bias.sizes(), bias, graph_conv.where());
    const double eps = model_conv.norm->options.eps();
    out.insert(norm + ".weight", torch::ones({channels}, torch::kFloat32));
    out.insert(norm + ".bias", bias);
    out.insert(norm + ".running_mean", torch::zeros({channels}, torch::kFloat32));
    out.insert(norm + ".running_var", torch::full({channels}, 1.0 - eps, torch::kFloat32));
    out.insert(norm + ".num_batches_tracked", torch::zeros({}, torch::kInt64));
  }
  if (found.head == 1) {
    const GraphConv& graph_conv = found.convs.back();
    const std::string key = head_path + ".weight";
    const auto stored = constant(graph_conv, 1);
    if (graph_conv.op->opcode != TfliteOpcode::kConv2d || stored.dim() != 4 || stored.size(1) != 1 ||
        stored.size(2) != 1) {
      throw WeightMismatch("wrong shape for '" + key + "': got " + shape_text(stored.sizes()) +
                           " from " + graph_conv.where() + ", expected a 1x1 CONV_2D kernel [" +
                           std::to_string(head->weight.size(0)) + ", 1, 1, " +
                           std::to_string(head->weight.size(1)) + "]");
    }
    // The head's class count is load_into's to check: a model with another count skips it.
    const auto weight = stored.reshape({stored.size(0), stored.size(3)});
    out.insert(key, weight.contiguous());
    const auto bias = graph_conv.has_bias() ? constant(graph_conv, 2)
                                            : torch::zeros({weight.size(0)}, torch::kFloat32);
    out.insert(head_path + ".bias", bias);
  }
  return out;
}

}  // namespace xfer::pretrained
