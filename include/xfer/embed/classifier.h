#pragma once
// The embedding API: what xfer trained (a run directory), or a zoo model with pretrained weights,
// as an image classifier inside another program. A program built against the installed package
// (find_package(xfer), target xfer::xfer; examples/classify) needs only this header.
//
//   auto classifier = xfer::Classifier::open_run("runs/flowers");
//   for (const auto& p : classifier.classify(std::vector<std::filesystem::path>{"a.jpg"}, 3))
//     std::cout << p.labels[0] << " " << p.probabilities[0] << "\n";
//
// It prints nothing; every failure is an exception of xfer/core/error.h.

#include "xfer/core/runtime.h"
#include "xfer/download/fetch.h"
#include "xfer/models/input_spec.h"
#include "xfer/transforms/image.h"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/arg.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xfer {

/// One image's most probable classes, most probable first.
struct Prediction {
  /// Class indices (the model's outputs).
  std::vector<int64_t> indices;
  /// Their names.
  std::vector<std::string> labels;
  /// Their softmax probabilities.
  std::vector<double> probabilities;
};

/// How a Classifier opens and runs.
struct ClassifierOptions {
  /// LibTorch's intra-op threads, set when the classifier opens (they are process-wide):
  /// > 0 exactly that many; 0 leaves the process's setting alone.
  TORCH_ARG(int, threads) = 0;
  /// Where the model runs.
  TORCH_ARG(c10::Device, device) = c10::Device(c10::kCPU);
  /// The forward pass's precision: fp32 or bf16; unset, bf16 where the device computes it natively
  /// (has_native_bf16), else fp32, as the xfer program's `--precision auto` default.
  TORCH_ARG(std::optional<Precision>, precision) = std::nullopt;
  /// Run the backbone on its traced graph with batch norm folded (infer::FrozenBackbone); false:
  /// the eager pass.
  TORCH_ARG(bool, fuse) = true;
  /// Told, once, why the traced graph fell back to the eager pass.
  TORCH_ARG(std::function<void(const std::string&)>, log) = {};
  /// Images per forward pass when classifying a list.
  TORCH_ARG(int64_t, batch_size) = 32;
  /// Class names to use instead of the model's own, one per output; empty keeps the model's
  /// (a run's classes, the weights' label set, else "class 0", "class 1", ...).
  TORCH_ARG(std::vector<std::string>, labels) = {};
  /// open_weights only: resize the whole picture to the input square (as Coral's examples do)
  /// instead of torchvision's eval transform (shorter side to `resize`, then the centre crop).
  TORCH_ARG(bool, whole_image) = false;
  /// Test-time augmentation: probabilities() and classify() average each image's class
  /// probabilities with its horizontal mirror's (logits() and features() stay one pass).
  TORCH_ARG(bool, tta_flip) = false;
  /// Test-time augmentation: prepare() returns torchvision's five crops of the resized image,
  /// stacked [3, 5S, S], and probabilities() and classify() average over them (with tta_flip,
  /// over the ten crops and mirrors). Refused by open_weights with whole_image, and for a run or
  /// weights whose eval transform resizes to its crop or resizes whole images.
  TORCH_ARG(bool, tta_five_crop) = false;
  /// open_weights only: download progress, for a registry weights name not cached yet.
  TORCH_ARG(download::Progress, progress) = {};
  /// open_weights only: the address to download from instead of the registry's (a mirror).
  TORCH_ARG(std::string, weights_url) = "";
};

/// An image classifier: a model in eval mode, its class names and its eval transform.
/// Copies share the model. The const methods may be called from several threads at once.
class Classifier {
 public:
  /// The best model of the run in `run_dir` (config.json, model.json, best.safetensors), which
  /// prepares images with the run's own eval transform. Throws IoError when a file is missing,
  /// FormatError when one is damaged, InvalidArgument for options that do not fit (labels of
  /// the wrong count, whole_image, a device LibTorch lacks).
  static Classifier open_run(const std::filesystem::path& run_dir,
                             const ClassifierOptions& options = {});

  /// The zoo model `model` (see `xfer models`) with `weights`: a weight file (.pth, .th,
  /// .safetensors, .tflite), `imagenet` or a registry weights name, fetched and cached as
  /// `xfer classify --weights` does. Images are prepared as the weights expect (their input
  /// spec). Throws InvalidArgument for an unknown model or weights name or options that do not
  /// fit, IoError / FormatError / WeightMismatch as pretrained::load_pretrained.
  static Classifier open_weights(const std::string& model, const std::string& weights,
                                 const ClassifierOptions& options = {});

  /// Class names, index = the model's output.
  const std::vector<std::string>& classes() const;

  /// The input the model takes: side, resize, mean and std.
  const models::InputSpec& input() const;

  /// `image` prepared as the model expects it: [3, S, S] float32, S = input().size; under
  /// tta_five_crop its five crops stacked, [3, 5S, S].
  at::Tensor prepare(const transforms::Image& image) const;

  /// Logits of prepared images: [N, 3, H, W] float32 → [N, classes] float32 on the CPU.
  /// Throws InvalidArgument for a tensor of another rank, channel count or dtype.
  at::Tensor logits(const at::Tensor& images) const;

  /// softmax(logits(images)), averaged with the mirrored images' under tta_flip: [N, 3, H, W] →
  /// [N, classes] float32 on the CPU. Under tta_five_crop, images are prepare()'s stacked crops
  /// [N, 3, 5S, S] and each row is the mean over an image's crops (and their mirrors).
  at::Tensor probabilities(const at::Tensor& images) const;

  /// What the model's head receives: [N, 3, H, W] → [N, feature_dim] float32 on the CPU.
  at::Tensor features(const at::Tensor& images) const;

  /// The `topk` most probable classes of each image (at most classes().size()), images batched
  /// by batch_size. Throws InvalidArgument for topk < 1.
  std::vector<Prediction> classify(const std::vector<transforms::Image>& images,
                                   int64_t topk = 5) const;

  /// The `topk` most probable classes of one image.
  Prediction classify(const transforms::Image& image, int64_t topk = 5) const;

  /// Decodes the files a batch at a time (transforms::decode_image) and classifies them as
  /// above, so a long list never is in memory at once. Throws IoError / FormatError naming the
  /// first file that cannot be read or decoded.
  std::vector<Prediction> classify(const std::vector<std::filesystem::path>& files,
                                   int64_t topk = 5) const;

  /// Decodes `file` and classifies it.
  Prediction classify(const std::filesystem::path& file, int64_t topk = 5) const;

  /// What the classifier was opened from: "run DIR (MODEL, STRATEGY on DATA)" or
  /// "MODEL with WEIGHTS (FORMAT)".
  const std::string& description() const;

  /// What opening found worth telling a user: weights skipped and why, files combined.
  const std::vector<std::string>& notes() const;

 private:
  struct State;
  explicit Classifier(std::shared_ptr<const State> state);
  // Applies the options that need the opened model (labels, device, layout).
  static std::shared_ptr<State> settle(std::shared_ptr<State> state);
  // The model's features (`features`) or logits of checked images, float32 on the CPU.
  at::Tensor pass(const at::Tensor& images, bool features) const;
  std::shared_ptr<const State> state_;
};

}  // namespace xfer
