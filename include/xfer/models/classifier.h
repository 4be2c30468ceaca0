#pragma once
// The base of every architecture in the zoo: a backbone that turns images into pooled features,
// and a replaceable head that turns features into logits.

#include "xfer/models/taps.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>

#include <map>
#include <string>
#include <vector>

namespace xfer::models {

/// What a forward pass of a classifier returns.
struct ClassifierOutput {
  /// [N, num_classes] float32.
  torch::Tensor logits;
  /// Auxiliary logits [N, num_classes] of training-mode GoogLeNet (aux1, then aux2: the position
  /// order of torchvision's GoogLeNetOutputs); empty for every other model and in eval mode.
  std::vector<torch::Tensor> aux_logits;
};

/// An image classifier whose children carry torchvision's attribute names, so a torchvision
/// state_dict loads key for key.
class ClassifierImpl : public torch::nn::Module {
 public:
  /// Logits [N, num_classes] of images [N,3,H,W] float32, normalised as the weights expect.
  torch::Tensor forward(const torch::Tensor& images) { return forward_full(images).logits; }

  /// Logits and, where the model has them and is training, auxiliary logits.
  virtual ClassifierOutput forward_full(const torch::Tensor& images) {
    return {classify(features(images)), {}};
  }

  /// Pooled backbone features [N, feature_dim] of images [N,3,H,W]: what the head receives.
  virtual torch::Tensor features(const torch::Tensor& images) = 0;

  /// Logits [N, num_classes] of pooled features [N, feature_dim]: whatever stands between the
  /// pooled features and the head in torchvision (a dropout), then the head.
  virtual torch::Tensor classify(const torch::Tensor& features) = 0;

  /// Whether classify(features(images)) is forward(images): false only while SqueezeNet keeps
  /// torchvision's head, a 1x1 convolution that classifies every position of the map before the
  /// pooling. Callers then take logits from forward(), and give the model a head on pooled
  /// features (reset_head) before training one.
  virtual bool classifies_features() const { return true; }

  /// Logits and the outputs of the modules at `paths` (any path named_modules() lists), in one
  /// forward pass. Throws InvalidArgument for an unknown path, naming the closest valid ones.
  std::pair<torch::Tensor, std::map<std::string, torch::Tensor>> forward_with(
      const torch::Tensor& images, const std::vector<std::string>& paths);

  /// Dotted path of the head module, torchvision's (`fc`, `classifier.6`, `classifier.1`, ...).
  const std::string& head_path() const { return head_path_; }

  /// Width of the pooled features, the head's input.
  int64_t feature_dim() const { return feature_dim_; }

  /// Replaces the head by `head` (features [N, feature_dim] → logits [N, C]) at head_path().
  void replace_head(torch::nn::AnyModule head);

  /// Replaces the head by a new torch::nn::Linear(feature_dim(), num_classes), initialised as
  /// torchvision initialises this model's head (GoogLeNet's auxiliary heads follow).
  /// Throws InvalidArgument for num_classes < 1.
  virtual void reset_head(int64_t num_classes);

  /// The module at head_path().
  std::shared_ptr<torch::nn::Module> head_module() const { return head_.ptr(); }

 protected:
  /// Called by the architecture's constructor: registers `head` at `path` (whose parent must
  /// already be registered) and records the feature width.
  void set_head(const std::string& path, int64_t feature_dim, torch::nn::AnyModule head);

  /// Runs the head through run(), so it can be tapped.
  torch::Tensor run_head(const torch::Tensor& features) { return run(head_, features); }

  /// Runs the head on `input` [N, feature_dim] and records its logits [N, num_classes] as the
  /// output of `container` too: the module holding the head (`classifier`), which is never run as
  /// a whole because the features are taken from inside it.
  torch::Tensor run_head_in(const torch::nn::Module& container, const torch::Tensor& input) {
    torch::Tensor logits = run_head(input);
    detail::record(&container, logits);
    return logits;
  }

  /// Initialises a freshly made Linear head; the default is torchvision's nn.Linear default.
  virtual void init_head(torch::nn::Module& head) {}

 private:
  std::string head_path_;
  int64_t feature_dim_ = 0;
  torch::nn::AnyModule head_;
};

/// A shared handle to any architecture of the zoo.
using Classifier = std::shared_ptr<ClassifierImpl>;

}  // namespace xfer::models
