#include "detail/start.h"

#include "xfer/core/error.h"
#include "xfer/data/download.h"
#include "xfer/models/registry.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/train/head.h"
#include "xfer/train/trainer.h"

#include <filesystem>
#include <sstream>
#include <system_error>

namespace xfer::train::detail {

namespace fs = std::filesystem;

namespace {

// Whether `model` needs the head `spec` put on: an MLP head, which no factory builds, or any head
// on a model whose own head does not classify pooled features (SqueezeNet's convolution), since
// training classifies cached and frozen features.
bool needs_new_head(const models::ClassifierImpl& model, const std::string& spec) {
  return !parse_head(spec).empty() || !model.classifies_features();
}

}  // namespace

models::Classifier build(const run::ModelDescription& a) {
  auto model = models::create_model(a.model, models::ModelOptions()
                                                 .num_classes(a.num_classes)
                                                 .width_mult(a.width_mult)
                                                 .tf_same_padding(a.tf_same_padding)
                                                 .image_size(a.image_size)
                                                 .transform_input(a.transform_input));
  if (needs_new_head(*model, a.head)) set_head(*model, a.head, a.num_classes, a.dropout);
  return model;
}

data::Splits load_data(const TrainConfig& c, run::RunLog& log) {
  if (c.download) {
    const auto installed = data::ensure_dataset(data::parse_dataset_spec(c.data));
    if (installed.extracted)
      log("data: downloaded and extracted into " + installed.folder.string());
  }
  return run_splits(c);
}

Start initial_model(const TrainConfig& c, const std::vector<std::string>& classes,
                    run::RunLog& log) {
  run::ModelDescription a;
  a.model = c.model;
  a.num_classes = static_cast<int64_t>(classes.size());
  a.head = c.head;
  a.dropout = c.dropout;
  a.input = models::find_model(c.model).input;
  a.classes = classes;
  const bool mlp_head = !parse_head(c.head).empty();
  if (c.weights == "none") {
    log("weights: none (torchvision's random initialisation, seed " + std::to_string(c.seed) + ")");
    return {build(a), a};
  }
  std::error_code error;
  if (fs::is_directory(c.weights, error)) {
    const run::ModelDescription previous =
        run::read_model_description(run::RunDirectory(c.weights).model());
    if (previous.model != c.model) {
      throw InvalidArgument("weights: the run '" + c.weights + "' trained " + previous.model +
                            ", expected " + c.model);
    }
    TrainedModel before = load_run(c.weights);
    a.width_mult = previous.width_mult;
    a.tf_same_padding = previous.tf_same_padding;
    a.image_size = previous.image_size;
    a.transform_input = previous.transform_input;
    a.input = previous.input;
    log("weights: best of run " + c.weights);
    // A head is kept only for the same classes in the same order: a head trained on other
    // classes of the same count would start the new task confidently wrong.
    if (previous.classes != a.classes || previous.head != c.head || previous.dropout != c.dropout) {
      set_head(*before.model, c.head, a.num_classes, c.dropout);
      log("new head " + c.head + " for " + std::to_string(a.num_classes) + " classes" +
          (previous.classes != a.classes ? " (the previous run's classes differ)" : ""));
    } else {
      log("head kept from the previous run (same classes and head)");
    }
    return {before.model, a};
  }
  auto loaded = pretrained::load_pretrained(
      c.model, c.weights, pretrained::PretrainedOptions().num_classes(a.num_classes));
  a.input = loaded.weights.input;
  a.tf_same_padding = loaded.options.tf_same_padding();
  a.width_mult = loaded.options.width_mult();
  a.image_size = loaded.options.image_size();
  a.transform_input = loaded.options.transform_input();
  log("weights: " + loaded.weights.file + " (" + loaded.weights.format + ")");
  std::istringstream summary(loaded.weights.report.summary());
  for (std::string line; std::getline(summary, line);) log("  " + line);
  for (const auto& note : loaded.weights.notes) log("  " + note);
  if (needs_new_head(*loaded.model, c.head)) {
    set_head(*loaded.model, c.head, a.num_classes, c.dropout);
    log("new head " + c.head + " for " + std::to_string(a.num_classes) + " classes" +
        (mlp_head ? "" : " on the pooled features (" + c.model +
                             "'s own head classifies the map before pooling)"));
  }
  return {loaded.model, a};
}

transforms::Transform train_transform_for(const TrainConfig& c, const models::InputSpec& input,
                                          const transforms::Transform& eval) {
  if (c.train_transform == "eval") return eval;
  const int64_t size = c.image_size > 0 ? c.image_size : input.size;
  if (c.train_transform == "augment" || c.train_transform == "trivial") {
    transforms::EvalParams params;
    params.size = size;
    params.resize = c.image_size > 0 ? c.image_size : input.resize;
    params.mean = input.mean;
    params.std = input.std;
    auto transform = transforms::Transform::train(params);
    // torchvision's classification reference recipe (ClassificationPresetTrain with
    // auto_augment_policy "ta_wide" and random_erase 0.1).
    if (c.train_transform == "trivial") transform.trivial_augment().random_erasing(0.1);
    return transform;
  }
  auto transform = transforms::Transform::parse(c.train_transform);
  if (c.train_transform.find("normalize=") == std::string::npos) {
    transform.normalize(input.mean, input.std);
  }
  return transform;
}

Layout training_layout(const TrainConfig& c, int64_t image_size) {
  if (c.strategy == Strategy::kFinetune && models::find_model(c.model).finetune_in_nchw) {
    return Layout::kNchw;
  }
  return default_layout(image_size);
}

}  // namespace xfer::train::detail
