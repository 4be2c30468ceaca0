#include "xfer/train/evaluate.h"

#include "detail/pass.h"
#include "xfer/data/loader.h"
#include "xfer/core/error.h"
#include "xfer/dist/group.h"
#include "xfer/infer/frozen.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>

namespace xfer::train {
namespace {

using Clock = std::chrono::steady_clock;

// The layout of `model`'s convolution weights (set_layout), which its input should match.
Layout layout_of(const torch::nn::Module& model) {
  for (const auto& p : model.parameters()) {
    if (p.dim() != 4) continue;
    return p.is_contiguous() ? Layout::kNchw : Layout::kChannelsLast;
  }
  return Layout::kNchw;
}

// The measures of `logits` [N, C] against `labels` [N], on the CPU; with `predictions`, one row
// per sample appended, `file(i)` naming sample i's image.
eval::Evaluation evaluation_of(const at::Tensor& logits, const at::Tensor& labels,
                               std::vector<run::Prediction>* predictions,
                               const std::function<std::string(int64_t)>& file) {
  eval::Evaluator evaluator(logits.size(1));
  evaluator.add(logits, labels);
  if (predictions != nullptr) {
    const auto [top, index] = at::softmax(logits, 1).max(1);
    for (int64_t i = 0; i < logits.size(0); ++i) {
      predictions->push_back({i, labels[i].item<int64_t>(), index[i].item<int64_t>(),
                              top[i].item<double>(), file(i)});
    }
  }
  return evaluator.result();
}

}  // namespace

at::Tensor tta_flip_logits(const at::Tensor& logits, const at::Tensor& mirrored) {
  return tta_mean_logits(at::stack({logits, mirrored}, 1));
}

at::Tensor tta_mean_logits(const at::Tensor& logits) {
  return at::logsumexp(at::log_softmax(logits, 2), 1) -
         std::log(static_cast<double>(logits.size(1)));
}

transforms::Transform five_crop_transform(const models::InputSpec& input) {
  if (input.resize <= input.size) {
    throw InvalidArgument("tta five-crop: expected an eval transform that resizes beyond its crop, "
                          "got resize " +
                          std::to_string(input.resize) + " and crop " +
                          std::to_string(input.size) +
                          " (five crops of the whole image would all be the image)");
  }
  transforms::Transform transform;
  transform.resize(input.resize, input.interpolation).five_crop({input.size, input.size});
  transform.normalize(input.mean, input.std);
  return transform;
}

at::Tensor five_crops_as_batch(const at::Tensor& images, at::MemoryFormat format) {
  const int64_t n = images.size(0);
  const int64_t side = images.size(3);
  return images.reshape({n, 3, 5, side, side})
      .permute({0, 2, 1, 3, 4})
      .reshape({n * 5, 3, side, side})
      .contiguous(format);
}

eval::Evaluation evaluate(models::ClassifierImpl& model, const data::Dataset& dataset,
                          const EvalOptions& options) {
  dist::Group* group = options.group;
  if (dataset.empty()) return {};
  const c10::Device device =
      model.parameters().empty() ? c10::Device(c10::kCPU) : model.parameters().front().device();
  const int64_t ranks = group != nullptr ? group->size() : 1;
  const int64_t rank = group != nullptr ? group->rank() : 0;
  model.eval();
  torch::NoGradGuard no_grad;
  // [0, num_classes]: what an empty shard contributes.
  at::Tensor logits = model.classify(at::zeros({1, model.feature_dim()}, device))
                          .to(at::kCPU, at::kFloat)
                          .slice(0, 0, 0);
  at::Tensor labels = at::empty({0}, at::kLong);
  if (rank < dataset.size()) {
    const Layout layout = layout_of(model);
    data::Loader loader(dataset, options.transform,
                        detail::pass_options(options.batch_size, options.workers, rank, ranks,
                                             layout == Layout::kChannelsLast));
    std::vector<at::Tensor> all_logits = {logits};
    std::vector<at::Tensor> all_labels = {labels};
    loader.start_epoch(0);
    const auto start = Clock::now();
    int64_t samples = 0;
    infer::FrozenBackbone backbone(model, {options.backbone_precision, options.fuse, options.log});
    // [B, 3, H, W] → [B, classes] on the CPU.
    const auto logits_of = [&](const at::Tensor& images) {
      return backbone.logits(images).to(at::kCPU);
    };
    while (auto batch = loader.next()) {
      at::Tensor images = batch->images.to(device);
      const int64_t n = images.size(0);
      if (options.tta_five_crop) {
        images = five_crops_as_batch(images, layout == Layout::kChannelsLast
                                                 ? at::MemoryFormat::ChannelsLast
                                                 : at::MemoryFormat::Contiguous);
      }
      std::vector<at::Tensor> views;
      views.push_back(logits_of(images));
      if (options.tta_flip) views.push_back(logits_of(images.flip({3})));
      // [B × crops, C] per view → [B, crops × views, C].
      const at::Tensor stacked = at::stack(views, 1).reshape({n, -1, views.front().size(1)});
      all_logits.push_back(stacked.size(1) == 1 ? stacked.select(1, 0) : tta_mean_logits(stacked));
      all_labels.push_back(batch->labels);
      samples += batch->labels.size(0);
      if (options.progress) {
        BatchProgress p;
        p.batch = batch->number + 1;
        p.batches = loader.batches_per_epoch();
        p.samples = samples;
        p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        options.progress(p);
      }
    }
    logits = at::cat(all_logits);
    labels = at::cat(all_labels);
  }
  if (ranks > 1) {
    // Shards hold rows rank, rank + ranks, ...: gathered, they are in the dataset's order again.
    logits = dist::gather_shards(*group, logits, dataset.size());
    labels = dist::gather_shards(*group, labels, dataset.size());
  }
  return evaluation_of(logits, labels, options.predictions,
                       [&dataset](int64_t i) { return dataset.file(i).string(); });
}

eval::Evaluation evaluate_features(models::ClassifierImpl& model, const SplitFeatures& split,
                                   int64_t batch_size, c10::Device device,
                                   std::vector<run::Prediction>* predictions,
                                   const data::Dataset* dataset) {
  const int64_t n = split.features.size(0);
  std::vector<at::Tensor> all;
  torch::NoGradGuard no_grad;
  model.eval();  // the trainer sets each module's mode again before it trains
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    all.push_back(model.classify(split.features.slice(0, begin, end).to(device)).to(at::kCPU));
  }
  if (all.empty()) return {};
  return evaluation_of(at::cat(all), split.labels, predictions, [dataset](int64_t i) {
    return dataset != nullptr ? dataset->file(i).string() : std::string();
  });
}

}  // namespace xfer::train
