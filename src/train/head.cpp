#include "xfer/train/head.h"

#include "xfer/core/error.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

namespace xfer::train {
namespace {

// nn::Sequential's forward is a template, which AnyModule cannot hold; this one is not.
class MlpHeadImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  /// Logits [N, C] of features [N, D].
  torch::Tensor forward(const torch::Tensor& features) {
    return SequentialImpl::forward(features);
  }
};
TORCH_MODULE(MlpHead);

}  // namespace

std::vector<int64_t> parse_head(const std::string& spec) {
  const std::string expected = "expected 'linear' or 'mlp:W1,W2,...' with widths >= 1";
  if (spec == "linear") return {};
  if (spec.rfind("mlp:", 0) != 0) throw InvalidArgument("head: " + expected + ", got '" + spec + "'");
  std::vector<int64_t> widths;
  size_t begin = 4;
  while (begin <= spec.size()) {
    const size_t end = std::min(spec.find(',', begin), spec.size());
    const std::string item = spec.substr(begin, end - begin);
    size_t used = 0;
    long long width = 0;
    try {
      width = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || width < 1) {
      throw InvalidArgument("head: " + expected + ", got '" + spec + "' (bad width '" + item + "')");
    }
    widths.push_back(width);
    begin = end + 1;
  }
  return widths;
}

void set_head(models::ClassifierImpl& model, const std::string& spec, int64_t num_classes,
              double dropout) {
  const auto widths = parse_head(spec);
  if (num_classes < 1) {
    throw InvalidArgument("head: expected at least 1 class, got " + std::to_string(num_classes));
  }
  if (widths.empty()) {
    model.reset_head(num_classes);
    return;
  }
  MlpHead head;
  int64_t in = model.feature_dim();
  for (const auto width : widths) {
    head->push_back(torch::nn::Linear(in, width));
    head->push_back(torch::nn::ReLU());
    head->push_back(torch::nn::Dropout(dropout));
    in = width;
  }
  head->push_back(torch::nn::Linear(in, num_classes));
  model.replace_head(torch::nn::AnyModule(head));
}

}  // namespace xfer::train
