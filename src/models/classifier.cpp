#include "xfer/models/classifier.h"

#include "xfer/core/error.h"

#include <torch/nn/modules/linear.h>

namespace xfer::models {
namespace {

// The parent module of dotted `path` inside `root`, and the last name of the path.
std::pair<torch::nn::Module*, std::string> parent_of(torch::nn::Module& root,
                                                     const std::string& path) {
  torch::nn::Module* parent = &root;
  size_t start = 0;
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
    const std::string name = path.substr(start, dot - start);
    auto children = parent->named_children();
    if (!children.contains(name)) {
      throw InvalidArgument("head path '" + path + "': no child '" + name + "' in " +
                            parent->name());
    }
    parent = children[name].get();
    start = dot + 1;
  }
  return {parent, path.substr(start)};
}

}  // namespace

std::pair<torch::Tensor, std::map<std::string, torch::Tensor>> ClassifierImpl::forward_with(
    const torch::Tensor& images, const std::vector<std::string>& paths) {
  Taps taps(*this, paths);
  torch::Tensor logits = forward(images);
  return {logits, taps.take()};
}

void ClassifierImpl::set_head(const std::string& path, int64_t feature_dim,
                              torch::nn::AnyModule head) {
  auto [parent, name] = parent_of(*this, path);
  parent->register_module(name, head.ptr());
  head_path_ = path;
  feature_dim_ = feature_dim;
  head_ = std::move(head);
}

void ClassifierImpl::replace_head(torch::nn::AnyModule head) {
  auto [parent, name] = parent_of(*this, head_path_);
  parent->replace_module(name, head.ptr());
  head_ = std::move(head);
}

void ClassifierImpl::reset_head(int64_t num_classes) {
  if (num_classes < 1) {
    throw InvalidArgument("num_classes: expected at least 1, got " + std::to_string(num_classes));
  }
  torch::nn::Linear linear(feature_dim_, num_classes);
  init_head(*linear);
  replace_head(torch::nn::AnyModule(linear));
}

}  // namespace xfer::models
