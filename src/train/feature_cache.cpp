#include "xfer/train/feature_cache.h"

#include "detail/pass.h"
#include "xfer/core/error.h"
#include "xfer/data/loader.h"
#include "xfer/dist/group.h"
#include "xfer/infer/frozen.h"
#include "xfer/download/digest.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/load.h"
#include "xfer/weights/safetensors.h"

#include <ATen/ATen.h>
#include <torch/types.h>
#include <torch/utils.h>

namespace xfer::train {
namespace {

// Bumped when the file layout or what the key covers changes.
constexpr const char* kCacheVersion = "xfer-features-1";

void hash_split(download::Sha256& hash, const std::string& name, const data::Dataset& split) {
  hash.update(name + ":" + std::to_string(split.size()) + ";");
  for (int64_t i = 0; i < split.size(); ++i) {
    const auto file = split.file(i);
    hash.update(std::to_string(split.label(i)) + "," +
                (file.empty() ? std::to_string(split.source_index(i)) : file.string()) + ";");
  }
}

// `split`'s features through `backbone` (of `model`); one backbone serves every split, so each
// input shape is traced once.
SplitFeatures run_backbone(models::ClassifierImpl& model, infer::FrozenBackbone& backbone,
                           const data::Dataset& split, const std::string& name,
                           const transforms::Transform& transform, const FeatureOptions& options,
                           c10::Device device) {
  if (split.empty()) return {torch::empty({0, model.feature_dim()}), torch::empty({0}, torch::kLong)};
  dist::Group* group = options.group;
  const int64_t ranks = group != nullptr ? group->size() : 1;
  const int64_t rank = group != nullptr ? group->rank() : 0;
  if (rank >= split.size()) {  // a shard with nothing in it still takes part in the gather
    return {dist::gather_shards(*group, torch::empty({0, model.feature_dim()}), split.size()),
            dist::gather_shards(*group, torch::empty({0}, torch::kLong), split.size())};
  }
  const auto size = transform.output_size();
  data::Loader loader(split, transform,
                      detail::pass_options(options.batch_size, options.workers, rank, ranks,
                                           default_layout(size ? size->height : 0) ==
                                               Layout::kChannelsLast));
  std::vector<at::Tensor> features;
  std::vector<at::Tensor> labels;
  loader.start_epoch(0);
  const int64_t total = loader.batches_per_epoch();
  while (auto batch = loader.next()) {
    features.push_back(backbone.features(batch->images.to(device)).to(torch::kCPU));
    labels.push_back(batch->labels);
    if (options.progress) options.progress(name, batch->number + 1, total);
  }
  if (group == nullptr) return {torch::cat(features), torch::cat(labels)};
  return {dist::gather_shards(*group, torch::cat(features), split.size()),
          dist::gather_shards(*group, torch::cat(labels), split.size())};
}

}  // namespace

std::string feature_key(const std::string& model_name, const models::ClassifierImpl& model,
                        const transforms::Transform& transform, const data::Splits& splits,
                        Precision precision, bool fused) {
  download::Sha256 hash;
  hash.update(std::string(kCacheVersion) + ";" + model_name + ";" + transform.spec() + ";" +
              to_string(precision) + (fused ? ";fused;" : ";eager;"));
  const std::string head = model.head_path() + ".";
  for (const auto& item : weights::state_dict_of(model)) {
    if (item.key().rfind(head, 0) == 0) continue;
    const at::Tensor tensor = item.value().to(torch::kCPU).contiguous();
    hash.update(item.key() + ":" + std::string(c10::toString(tensor.scalar_type())) + ":" +
                c10::str(tensor.sizes()) + ";");
    hash.update(tensor.data_ptr(), tensor.nbytes());
  }
  hash_split(hash, "train", splits.train);
  hash_split(hash, "val", splits.val);
  hash_split(hash, "test", splits.test);
  return hash.hex();
}

RunFeatures extract_features(const std::string& model_name, models::ClassifierImpl& model,
                             const data::Splits& splits, const transforms::Transform& transform,
                             const FeatureOptions& options) {
  if (transform.is_random()) {
    throw InvalidArgument("feature cache: expected a deterministic transform, got '" +
                          transform.spec() + "' (its outputs change every epoch)");
  }
  RunFeatures out;
  if (!options.cache_dir.empty()) {
    out.file = options.cache_dir /
               (model_name + "-" +
                feature_key(model_name, model, transform, splits, options.precision, options.fuse)
                    .substr(0, 32) +
                ".safetensors");
    std::error_code ignored;
    bool read = false;
    if (std::filesystem::exists(out.file, ignored)) {
      try {
        const auto tensors = weights::read_checkpoint(out.file).tensors;
        const auto get = [&](const std::string& key) {
          const auto* found = tensors.find(key);
          if (found == nullptr) throw FormatError(out.file.string() + ": no tensor '" + key + "'");
          return found->clone();
        };
        out.train = {get("train.features"), get("train.labels")};
        out.val = {get("val.features"), get("val.labels")};
        out.test = {get("test.features"), get("test.labels")};
        read = true;
      } catch (const Error&) {
        std::filesystem::remove(out.file, ignored);  // damaged: computed again below
      }
    }
    if (options.group != nullptr) {  // every rank must take the same path
      at::Tensor missing = torch::full({1}, read ? 0 : 1, torch::kInt);
      options.group->all_reduce_sum(missing);
      read = missing.item<int>() == 0;
    }
    if (read) {
      out.cached = true;
      return out;
    }
  }
  const c10::Device device = model.parameters().empty() ? c10::Device(c10::kCPU)
                                                        : model.parameters().front().device();
  model.eval();  // the trainer sets each module's mode again before it trains
  infer::FrozenBackbone backbone(model, {options.precision, options.fuse, options.log});
  out.train = run_backbone(model, backbone, splits.train, "train", transform, options, device);
  out.val = run_backbone(model, backbone, splits.val, "val", transform, options, device);
  out.test = run_backbone(model, backbone, splits.test, "test", transform, options, device);
  const bool writer = options.group == nullptr || options.group->world().local_rank == 0;
  if (!out.file.empty() && writer) {
    std::error_code error;
    std::filesystem::create_directories(out.file.parent_path(), error);
    weights::StateDict tensors;
    tensors.insert("train.features", out.train.features);
    tensors.insert("train.labels", out.train.labels);
    tensors.insert("val.features", out.val.features);
    tensors.insert("val.labels", out.val.labels);
    tensors.insert("test.features", out.test.features);
    tensors.insert("test.labels", out.test.labels);
    try {
      weights::write_safetensors(out.file, tensors, {{"model", model_name}});
    } catch (const IoError&) {
      out.file.clear();  // an unwritable cache costs time, not the run
    }
  }
  return out;
}

}  // namespace xfer::train
