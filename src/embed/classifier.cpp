#include "xfer/embed/classifier.h"

#include "xfer/core/error.h"
#include "xfer/core/shape.h"
#include "xfer/infer/frozen.h"
#include "xfer/models/classifier.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/train/trainer.h"
#include "xfer/transforms/transform.h"

#include <torch/cuda.h>
#include <torch/nn.h>

#include <algorithm>

namespace xfer {

struct Classifier::State {
  models::Classifier model;
  std::unique_ptr<infer::FrozenBackbone> backbone;
  std::vector<std::string> classes;
  models::InputSpec input;
  transforms::Transform transform;
  ClassifierOptions options;
  Layout layout = Layout::kNchw;
  std::string description;
  std::vector<std::string> notes;
};

namespace {

// Refuses options that cannot work before any file is read or downloaded, then sets the threads
// (loading uses them too).
void apply_options(const ClassifierOptions& options) {
  if (options.threads() < 0) {
    throw InvalidArgument("classifier: expected threads >= 0 (0 keeps the process's setting), "
                          "found " + std::to_string(options.threads()));
  }
  if (options.batch_size() < 1) {
    throw InvalidArgument("classifier: expected batch_size >= 1, found " +
                          std::to_string(options.batch_size()));
  }
  if (options.device().is_cuda() && !torch::cuda::is_available()) {
    throw InvalidArgument("classifier: device " + options.device().str() +
                          " asked for, but this LibTorch sees no CUDA GPU");
  }
  if (options.threads() > 0) set_threads(options.threads());
}

}  // namespace

std::shared_ptr<Classifier::State> Classifier::settle(std::shared_ptr<State> state) {
  const auto& options = state->options;
  if (!options.labels().empty()) {
    if (options.labels().size() != state->classes.size()) {
      throw InvalidArgument("classifier: expected " + std::to_string(state->classes.size()) +
                            " labels (one per output of " + state->description + "), found " +
                            std::to_string(options.labels().size()));
    }
    state->classes = options.labels();
  }
  state->layout = default_layout(state->input.size);
  state->model->to(options.device());
  set_layout(*state->model, state->layout);
  state->model->eval();
  state->backbone = std::make_unique<infer::FrozenBackbone>(
      *state->model,
      infer::FrozenOptions{options.precision().value_or(has_native_bf16(options.device())
                                                            ? Precision::kBFloat16
                                                            : Precision::kFloat32),
                           options.fuse(), options.log()});
  return state;
}

namespace {

// [N, 3, H, W] floating point, or InvalidArgument saying what came instead.
void check_images(const at::Tensor& images) {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3 ||
      !images.is_floating_point()) {
    throw InvalidArgument(
        "classifier: expected images [N, 3, H, W] float32, found " +
        (images.defined()
             ? shape_text(images.sizes()) + " " + std::string(c10::toString(images.scalar_type()))
             : std::string("an undefined tensor")));
  }
}

}  // namespace

Classifier::Classifier(std::shared_ptr<const State> state) : state_(std::move(state)) {}

Classifier Classifier::open_run(const std::filesystem::path& run_dir,
                                const ClassifierOptions& options) {
  if (options.whole_image()) {
    throw InvalidArgument("classifier: whole_image is for open_weights; " + run_dir.string() +
                          " prepares images with its run's own eval transform");
  }
  apply_options(options);
  auto trained = train::load_run(run_dir);
  auto state = std::make_shared<State>();
  state->model = trained.model;
  state->classes = trained.classes;
  state->input = trained.input;
  state->transform = options.tta_five_crop()
                         ? train::five_crop_transform_for(trained.config, trained.input)
                         : trained.eval_transform;
  state->options = options;
  state->description = "run " + run_dir.string() + " (" + trained.config.model + ", " +
                       train::spelling(trained.config.strategy) + " on " + trained.config.data +
                       ")";
  return Classifier(settle(std::move(state)));
}

Classifier Classifier::open_weights(const std::string& model, const std::string& weights,
                                    const ClassifierOptions& options) {
  if (options.whole_image() && options.tta_five_crop()) {
    throw InvalidArgument("classifier: tta_five_crop crops the resized image, but whole_image "
                          "resizes the whole picture to the input square: nothing to crop");
  }
  apply_options(options);
  auto loaded = pretrained::load_pretrained(
      model, weights,
      pretrained::PretrainedOptions().progress(options.progress()).url_override(
          options.weights_url()));
  auto state = std::make_shared<State>();
  state->model = loaded.model;
  state->classes = loaded.weights.labels;
  if (state->classes.empty()) {
    for (int64_t i = 0; i < loaded.options.num_classes(); ++i) {
      state->classes.push_back("class " + std::to_string(i));
    }
  }
  state->input = loaded.weights.input;
  transforms::EvalParams params;
  params.size = state->input.size;
  params.resize = state->input.resize;
  params.mean = state->input.mean;
  params.std = state->input.std;
  params.interpolation = state->input.interpolation;
  state->transform = options.whole_image()
                         ? transforms::Transform()
                               .resize(transforms::Size{params.size, params.size})
                               .normalize(params.mean, params.std)
                     : options.tta_five_crop() ? train::five_crop_transform(state->input)
                                               : transforms::Transform::eval(params);
  state->options = options;
  state->description =
      model + " with " + loaded.weights.file + " (" + loaded.weights.format + ")";
  state->notes = loaded.weights.notes;
  return Classifier(settle(std::move(state)));
}

const std::vector<std::string>& Classifier::classes() const { return state_->classes; }

const models::InputSpec& Classifier::input() const { return state_->input; }

const std::string& Classifier::description() const { return state_->description; }

const std::vector<std::string>& Classifier::notes() const { return state_->notes; }

at::Tensor Classifier::prepare(const transforms::Image& image) const {
  return state_->transform(image, 0);
}

at::Tensor Classifier::pass(const at::Tensor& images, bool features) const {
  check_images(images);
  torch::NoGradGuard no_grad;
  const auto& options = state_->options;
  const auto input = to_layout(images.to(options.device(), at::kFloat), state_->layout);
  // [N, F] or [N, C] float32
  const auto out = features ? state_->backbone->features(input) : state_->backbone->logits(input);
  return out.to(at::kCPU).contiguous();
}

at::Tensor Classifier::logits(const at::Tensor& images) const { return pass(images, false); }

at::Tensor Classifier::probabilities(const at::Tensor& images) const {
  const auto& options = state_->options;
  if (!options.tta_flip() && !options.tta_five_crop()) return at::softmax(logits(images), 1);
  check_images(images);
  at::Tensor views = images;  // [N, 3, H, W]
  if (options.tta_five_crop()) {
    if (images.size(2) != 5 * images.size(3)) {
      throw InvalidArgument("classifier: tta_five_crop expects prepare()'s stacked crops "
                            "[N, 3, 5S, S], found " + shape_text(images.sizes()));
    }
    views = train::five_crops_as_batch(images, at::MemoryFormat::Contiguous);  // [5N, 3, S, S]
  }
  std::vector<at::Tensor> probabilities{at::softmax(logits(views), 1)};
  if (options.tta_flip()) probabilities.push_back(at::softmax(logits(views.flip({3})), 1));
  // [N × crops, C] per view → [N, crops × views, C] → the mean over an image's views.
  return at::stack(probabilities, 1)
      .reshape({images.size(0), -1, probabilities.front().size(1)})
      .mean(1);
}

at::Tensor Classifier::features(const at::Tensor& images) const { return pass(images, true); }

std::vector<Prediction> Classifier::classify(const std::vector<transforms::Image>& images,
                                             int64_t topk) const {
  if (topk < 1) {
    throw InvalidArgument("classifier: expected topk >= 1, found " + std::to_string(topk));
  }
  const int64_t k = std::min<int64_t>(topk, static_cast<int64_t>(state_->classes.size()));
  const auto batch_size = static_cast<size_t>(state_->options.batch_size());
  std::vector<Prediction> predictions;
  predictions.reserve(images.size());
  for (size_t first = 0; first < images.size(); first += batch_size) {
    const size_t end = std::min(images.size(), first + batch_size);
    std::vector<at::Tensor> prepared;
    for (size_t i = first; i < end; ++i) prepared.push_back(prepare(images[i]));
    const auto [top, index] = probabilities(at::stack(prepared)).topk(k, 1);
    for (int64_t row = 0; row < top.size(0); ++row) {
      Prediction prediction;
      for (int64_t j = 0; j < k; ++j) {
        const auto c = index[row][j].item<int64_t>();
        prediction.indices.push_back(c);
        prediction.labels.push_back(state_->classes[static_cast<size_t>(c)]);
        prediction.probabilities.push_back(top[row][j].item<double>());
      }
      predictions.push_back(std::move(prediction));
    }
  }
  return predictions;
}

Prediction Classifier::classify(const transforms::Image& image, int64_t topk) const {
  return classify(std::vector<transforms::Image>{image}, topk).front();
}

std::vector<Prediction> Classifier::classify(const std::vector<std::filesystem::path>& files,
                                             int64_t topk) const {
  const auto batch_size = static_cast<size_t>(state_->options.batch_size());
  std::vector<Prediction> predictions;
  predictions.reserve(files.size());
  for (size_t first = 0; first < files.size(); first += batch_size) {
    std::vector<transforms::Image> images;
    for (size_t i = first; i < std::min(files.size(), first + batch_size); ++i) {
      images.push_back(transforms::decode_image(files[i]));
    }
    for (auto& prediction : classify(images, topk)) predictions.push_back(std::move(prediction));
  }
  return predictions;
}

Prediction Classifier::classify(const std::filesystem::path& file, int64_t topk) const {
  return classify(transforms::decode_image(file), topk);
}

}  // namespace xfer
