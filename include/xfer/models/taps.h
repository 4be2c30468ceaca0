#pragma once
// Named intermediate outputs. LibTorch's C++ modules have no forward hooks, so every model in the
// zoo calls its children through xfer::models::run(), which records a child's output when a Taps
// on the calling thread asked for that child's path (any path named_modules() lists).

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace xfer::models {

namespace detail {
/// Records `output` as the output of `module` if an active Taps wants it. Cheap when none is.
void record(const torch::nn::Module* module, const torch::Tensor& output);
}  // namespace detail

/// While alive, records on this thread the outputs of the modules of `root` at `paths`.
/// A module called more than once in a forward pass (a shared ReLU) keeps its last output, as a
/// forward hook writing into a dict would.
class Taps {
 public:
  /// Watches `paths` of `root`. Throws InvalidArgument for a path `root.named_modules()` does not
  /// list, naming the closest valid paths; and for a second Taps on the same thread.
  Taps(const torch::nn::Module& root, const std::vector<std::string>& paths);
  ~Taps();
  Taps(const Taps&) = delete;
  Taps& operator=(const Taps&) = delete;

  /// Outputs recorded so far, by path. Throws InvalidArgument for a watched path whose module did
  /// not run (e.g. GoogLeNet's aux heads in eval mode).
  std::map<std::string, torch::Tensor> take();

  /// Every module path of `root` (named_modules() without the root itself), in its order.
  static std::vector<std::string> paths_of(const torch::nn::Module& root);

 private:
  friend void detail::record(const torch::nn::Module* module, const torch::Tensor& output);
  std::unordered_map<const torch::nn::Module*, std::string> wanted_;
  std::map<std::string, torch::Tensor> outputs_;
};

/// Runs `module` (a ModuleHolder such as torch::nn::Conv2d or one of ours) on `input` and records
/// the output for Taps.
template <typename Holder>
torch::Tensor run(Holder& module, const torch::Tensor& input) {
  torch::Tensor output = module->forward(input);
  detail::record(static_cast<const torch::nn::Module*>(module.get()), output);
  return output;
}

/// Runs each child of `sequence` in order, recording each child's output, then the sequence's own.
/// (LibTorch cannot hold a Sequential inside a Sequential: nest a module whose forward uses run().)
torch::Tensor run(torch::nn::Sequential& sequence, const torch::Tensor& input);

/// Runs a type-erased module (a replaceable head) and records its output.
torch::Tensor run(torch::nn::AnyModule& module, const torch::Tensor& input);

/// The valid paths closest to `path` by edit distance (at most `count`), for error messages.
std::vector<std::string> closest_paths(const std::string& path,
                                       const std::vector<std::string>& valid, size_t count = 3);

}  // namespace xfer::models
