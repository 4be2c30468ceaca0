#pragma once
// A training run from a TrainConfig to a run directory (docs/run-directory.md): the strategy's
// model and optimizer, epochs with validation, the best epoch kept, a checkpoint every epoch (the
// tensors training moves, over best.safetensors: train/checkpoint.h), and one final evaluation on
// the test split.

#include "xfer/core/runtime.h"
#include "xfer/data/dataset.h"
#include "xfer/data/splits.h"
#include "xfer/eval/metrics.h"
#include "xfer/models/classifier.h"
#include "xfer/models/registry.h"
#include "xfer/run/files.h"
#include "xfer/train/config.h"
#include "xfer/train/evaluate.h"
#include "xfer/train/lr_find.h"
#include "xfer/transforms/transform.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace xfer::dist {
class Group;
}

namespace xfer::train {

/// How a run reports while it works; every callback is optional and called on the caller's
/// thread. An exception thrown by one ends the run (the last checkpoint stays).
struct TrainEvents {
  /// One line of the run's account, also appended to log.txt.
  std::function<void(const std::string& line)> log;
  /// After every batch.
  std::function<void(const BatchProgress& progress)> progress;
  /// After every epoch's validation.
  std::function<void(const run::EpochMetrics& metrics)> epoch_end;
};

/// What a finished run measured.
struct TrainResult {
  /// The run directory.
  std::filesystem::path run_dir;
  /// One row per epoch trained (those of an interrupted run included, after --resume).
  std::vector<run::EpochMetrics> epochs;
  /// The epoch whose weights were kept (run::best_epoch).
  int64_t best_epoch = 0;
  /// Whether patience ended the run before config.epochs.
  bool stopped_early = false;
  /// The best weights on the test split; count 0 when the dataset has no test split.
  eval::Evaluation test;
  /// Class names, indexed by label.
  std::vector<std::string> classes;
  /// Parameters the optimizer trained (in the last phase).
  int64_t trainable_parameters = 0;
  /// Parameters in the model.
  int64_t total_parameters = 0;
  /// Wall time of the whole run, in seconds (of this invocation, for a resumed run).
  double seconds = 0;
  /// The splits the run trained, validated and tested on (run_splits of its config), for
  /// pictures of its samples without reading the data again.
  data::Splits splits;
};

/// Trains as `config` says, into the run directory config.out (created; an existing run there
/// is refused, so nothing is overwritten by mistake). Throws InvalidArgument for a bad config
/// or an existing run, and what reading the data and the weights throws.
///
/// Process-wide effects, left in place when it returns: LibTorch's intra-op threads become
/// config.threads (set_threads) and the global generator is seeded with config.seed and then
/// advanced by the run; a host program that trains beside other LibTorch work sees both.
///
/// With a `group` of several processes, each calls train() with the same config: data-parallel
/// (docs/distributed.md). Rank 0's weights are broadcast at the start; each rank trains on its
/// shard of every epoch with config.batch_size samples a step (a global batch of batch_size ×
/// ranks), gradients averaged across ranks; metrics are summed across ranks; only rank 0 writes
/// the run directory. Throws DistributedError when another rank fails.
TrainResult train(const TrainConfig& config, const TrainEvents& events = {},
                  dist::Group* group = nullptr);

/// The learning-rate range test (lr_find.h) from where `config` would start: its model,
/// weights, data, strategy, head, optimizer, batch size and backbone_lr_mult (a fine-tune sweeps
/// everything it would train after freeze_epochs); not its lr, schedule, epochs or accumulate.
/// Nothing is written — the model and optimizer live in memory — except the frozen backbone's
/// feature cache, as training writes it. Progress comes as phase "lr-find", `loss` the smoothed
/// loss. Throws InvalidArgument for a bad config or options, and what reading the data and the
/// weights throws.
LrSweep find_lr(const TrainConfig& config, const LrFindOptions& options = {},
                const TrainEvents& events = {});

/// Continues the run in `run_dir` from its last checkpoint (its config.json, its checkpoint.pt)
/// and finishes it as if it had never stopped (setting threads and the global generator as
/// train() does, the generator from the checkpoint); with the same threads and seed on the CPU the
/// result is bitwise the uninterrupted one. A finished run is evaluated again. Throws IoError /
/// FormatError for a missing or damaged run directory. With a `group`, every rank reads the run
/// directory (shared storage across machines), whose checkpoint must come from as many ranks.
TrainResult resume(const std::filesystem::path& run_dir, const TrainEvents& events = {},
                   dist::Group* group = nullptr);

/// A run's best model, ready to predict.
struct TrainedModel {
  /// The model with its best weights, in eval mode.
  models::Classifier model;
  /// The run's config.json.
  TrainConfig config;
  /// Class names, indexed by label.
  std::vector<std::string> classes;
  /// The transform the run evaluated with.
  transforms::Transform eval_transform;
  /// The model's input as the run fed it (size, and normalisation of its weights); with
  /// image_size set, size and resize are both image_size.
  models::InputSpec input;
};

/// Loads the best weights of the run in `run_dir` (config.json, model.json for the architecture,
/// classes and input, best.safetensors). Throws IoError when a file is missing, FormatError when
/// one is damaged.
TrainedModel load_run(const std::filesystem::path& run_dir);

/// The splits a run with `config` trains, validates and tests on (the same ones every time for
/// the same config and files). Throws what data::load_splits throws.
data::Splits run_splits(const TrainConfig& config);

/// The transform a run evaluates with: image_size × image_size with no crop when
/// config.image_size is set, else the model's registry input spec; normalised as the weights
/// expect (`input`).
transforms::Transform eval_transform_for(const TrainConfig& config, const models::InputSpec& input);

/// The five-crop test-time transform of that run (five_crop_transform of `input`). Throws
/// InvalidArgument when config.image_size is set: such a run resizes whole images, so its eval
/// transform has no crop to move (and five crops at the model's own size would change the
/// resolution it was trained at).
transforms::Transform five_crop_transform_for(const TrainConfig& config,
                                              const models::InputSpec& input);

/// The precision `choice` means on `device`: bf16 for kBf16, and for kAuto on a device with
/// native bf16 (has_native_bf16); fp32 otherwise.
Precision resolve_precision(PrecisionChoice choice, c10::Device device);

/// The precision of a run's frozen-backbone pass on `device`: config.precision resolved
/// (resolve_precision).
Precision backbone_precision(const TrainConfig& config, c10::Device device);

/// The precision a run's model is evaluated in: the backbone's (backbone_precision) for feature
/// extraction, whose features were computed so; fp32 for a fine-tune.
Precision evaluation_precision(const TrainConfig& config, c10::Device device);

}  // namespace xfer::train
