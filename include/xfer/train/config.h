#pragma once
// Everything a training run is made of, as one plain struct: what the command line and a config
// file fill in, what the run directory's config.json records, and what --resume reads back.
// The defaults documented here are the ones in force (docs/training.md lists them too).

#include "xfer/train/schedule.h"

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::train {

/// How a run adapts the pretrained network.
enum class Strategy {
  /// Frozen backbone (excluded from the optimizer, kept in eval mode), new head trained; the
  /// backbone's features are computed once and cached when the train transform is deterministic.
  kFeatures,
  /// New head plus the backbone (all of it, or from `unfreeze_from` on) trained.
  kFinetune,
};

/// What batch-norm layers do while fine-tuning.
enum class BatchNormPolicy {
  /// Trainable layers update their statistics and affine parameters (PyTorch's default).
  kTrain,
  /// Every batch-norm layer keeps its statistics (eval mode); affine parameters still train.
  kEval,
  /// Every batch-norm layer keeps its statistics and its affine parameters.
  kFrozen,
};

/// What layer-norm layers (ViT, Swin, ConvNeXt, MaxViT) do while fine-tuning: they have no
/// statistics, only a scale and a shift.
enum class LayerNormPolicy {
  /// Trainable layers train their scale and shift.
  kTrain,
  /// Every layer norm keeps its scale and shift.
  kFrozen,
};

/// The optimizer of a run.
enum class OptimizerKind {
  /// Adam, L2 weight decay.
  kAdam,
  /// AdamW, decoupled weight decay.
  kAdamW,
  /// SGD with momentum (Nesterov's when asked), L2 weight decay.
  kSgd,
};

/// The numeric precision a run asks for.
enum class PrecisionChoice {
  /// bf16 for the frozen backbone's pass where the device computes it natively (CUDA, or a CPU
  /// with AVX-512 BF16 / AMX), fp32 elsewhere and for every training step.
  kAuto,
  /// fp32 everywhere.
  kFp32,
  /// bf16 autocast for the frozen backbone's pass and the training steps.
  kBf16,
};

/// One training run (or one stage of a multi-stage run).
struct TrainConfig {
  /// Architecture, a registry name (`xfer models`).
  std::string model = "resnet18";
  /// Initial weights: a file, a registry weights name, `imagenet`, a run directory (its best
  /// weights), or `none` for torchvision's random initialisation.
  std::string weights = "imagenet";
  /// Dataset spec (`cifar10:DIR`, `folder:DIR`, `fashion-mnist`, ...).
  std::string data = "fashion-mnist";
  /// Only these classes of the dataset (names or numbers), relabelled in this order; empty: all.
  std::vector<std::string> classes;
  /// Fetch the dataset's official archive when its files are missing (CIFAR).
  bool download = false;
  /// Feature extraction or fine-tuning.
  Strategy strategy = Strategy::kFeatures;
  /// The new head: `linear` or `mlp:W1,W2,...` (hidden widths, each followed by ReLU and dropout).
  std::string head = "linear";
  /// Dropout probability inside an MLP head.
  double dropout = 0.0;
  /// Epochs to train.
  int64_t epochs = 10;
  /// Samples per batch.
  int64_t batch_size = 32;
  /// Batches whose gradients are summed before each optimizer step (gradient accumulation),
  /// each batch's loss weighted by its share of the group's samples: the step of one batch of
  /// batch_size × accumulate samples (exactly so for models without batch norm, whose
  /// statistics see the smaller batches). An epoch's last group may be shorter.
  int64_t accumulate = 1;
  /// The optimizer (`adam`, `adamw` or `sgd` in flags and files).
  OptimizerKind optimizer = OptimizerKind::kAdam;
  /// Learning rate of the head (and of the backbone, times backbone_lr_mult).
  double lr = 1e-3;
  /// SGD momentum.
  double momentum = 0.9;
  /// SGD with Nesterov momentum.
  bool nesterov = false;
  /// Weight decay (L2 for Adam and SGD, decoupled for AdamW).
  double weight_decay = 0.0;
  /// Learning-rate schedule (`constant`, `step`, `cosine` after warm-up, `onecycle`, or `fastai`:
  /// fastai's fine_tune, a one-cycle over the freeze_epochs and another over the rest).
  ScheduleKind schedule = ScheduleKind::kConstant;
  /// Epochs of linear warm-up from 0 (cosine and step schedules).
  double warmup_epochs = 0;
  /// Step schedule: multiply the rate by `gamma` every `step_epochs` epochs.
  int64_t step_epochs = 10;
  /// Step schedule's factor.
  double gamma = 0.1;
  /// Label smoothing of the training loss, in [0, 1).
  double label_smoothing = 0.0;
  /// MixUp's Beta(α, α) (timm's --mixup); 0 is off. Mixing needs image batches, so a features
  /// run that mixes computes its features every batch instead of caching them.
  double mixup_alpha = 0.0;
  /// CutMix's Beta(α, α) (timm's --cutmix); 0 is off.
  double cutmix_alpha = 0.0;
  /// Probability that a batch is mixed when MixUp or CutMix is on (timm's --mixup-prob).
  double mix_prob = 1.0;
  /// With both on, probability of CutMix for a mixed batch (timm's --mixup-switch-prob).
  double mix_switch_prob = 0.5;
  /// Clip the gradients' global L2 norm to this; 0 disables clipping.
  double clip_grad_norm = 0.0;
  /// Fine-tuning: train the backbone only from this module path on (`layer3`), in
  /// named_modules order; empty trains all of it.
  std::string unfreeze_from;
  /// Fine-tuning: the backbone's learning rate is lr × this.
  double backbone_lr_mult = 1.0;
  /// Fine-tuning: layer-wise rate decay (timm's --layer-decay), in (0, 1]. Below 1, each block
  /// of the backbone (block_of in train/optimizer.h) gets its own rate, the backbone's times
  /// this to the power of its distance from the head: the last block × decay, the first ×
  /// decay^layers. 1 gives the whole backbone one rate.
  double layer_decay = 1.0;
  /// Fine-tuning: when > 0, the backbone's first block trains at lr × backbone_lr_mult × this and
  /// the blocks after it at geometrically higher rates, up to lr × backbone_lr_mult × this^(1/n)
  /// for the last of n (layer decay this^(1/n), fastai's slice(lr/100, lr) for 0.01, whatever
  /// the block count); needs layer_decay 1. 0 is off.
  double lowest_lr_mult = 0.0;
  /// Fine-tuning: epochs at the start with the backbone frozen (head only), as fastai's fine_tune.
  int64_t freeze_epochs = 0;
  /// Fine-tuning: what batch-norm layers do.
  BatchNormPolicy batch_norm = BatchNormPolicy::kTrain;
  /// Fine-tuning: what layer-norm layers do.
  LayerNormPolicy layer_norm = LayerNormPolicy::kTrain;
  /// Decay of a moving average of the weights (timm's ModelEmaV2), in [0, 1); 0 keeps none.
  /// After every optimizer step each floating-point tensor of the model that training moves
  /// becomes ema = decay × ema + (1 − decay) × weight (integer counters are copied); every epoch
  /// validates the average too, and an epoch's best weights are the average's when it validates
  /// better (run::ema_is_better).
  double ema_decay = 0.0;
  /// Stop after this many epochs without a better validation accuracy; 0 never stops early.
  int64_t patience = 0;
  /// Seed of initialisation, shuffling, augmentation, dropout and the data splits.
  uint64_t seed = 0;
  /// Fraction of each class of train held out for validation.
  double val_fraction = 0.1;
  /// When > 0, at most this many samples per class of train and of test (quick runs).
  int64_t per_class = 0;
  /// At most this many samples per class of test: -1 for the same as per_class, 0 for all.
  int64_t test_per_class = -1;
  /// Image folders: skip files that do not decode instead of stopping.
  bool skip_bad = false;
  /// The side of the square images the model sees; 0 for the model's own (InputSpec::size).
  /// When set, images are resized to size × size with no crop (the article's Resize(224)).
  int64_t image_size = 0;
  /// Train transform spec (transforms/transform.h grammar, normalisation appended), or `eval`
  /// for the eval transform (deterministic, so features can be cached), `augment` for
  /// RandomResizedCrop + horizontal flip at the model's size, or `trivial` for torchvision's
  /// reference recipe: augment + TrivialAugmentWide, then RandomErasing(0.1).
  std::string train_transform = "eval";
  /// `auto`, `cpu`, `cuda` or `cuda:N`.
  std::string device = "auto";
  /// Numeric precision (`auto`, `fp32` or `bf16`).
  PrecisionChoice precision = PrecisionChoice::kAuto;
  /// Intra-op threads; 0 for every CPU the process may use (usable_cpus).
  int64_t threads = 0;
  /// Loader worker threads; 0 for every CPU the process may use (usable_cpus).
  int64_t workers = 0;
  /// Cache the frozen backbone's features on disk (features strategy, deterministic transform).
  bool cache_features = true;
  /// Run the frozen backbone (feature extraction, a fine-tune's frozen epochs, evaluation) on
  /// the traced graph with batch norm folded (infer::FrozenBackbone); false: the eager pass.
  bool fuse = true;
  /// The run directory.
  std::string out;
};

/// How flags and config files spell every value of an enum field of TrainConfig, in declaration
/// order: `Enum` is Strategy, BatchNormPolicy, LayerNormPolicy, OptimizerKind, ScheduleKind or
/// PrecisionChoice (e.g. {"adam", "adamw", "sgd"}).
template <typename Enum>
std::vector<std::string> spellings();

/// How flags and config files spell `value` (`OptimizerKind::kAdamW` is "adamw").
template <typename Enum>
std::string spelling(Enum value);

/// The value spelt `text`. Throws InvalidArgument naming `field`, the accepted spellings and
/// `text`: `optimizer: expected adam, adamw or sgd, got 'lbfgs'`.
template <typename Enum>
Enum parse_spelling(const std::string& field, const std::string& text);

/// Checks every field's range and spelling (not whether files exist). Throws InvalidArgument
/// naming the field, what it expects and what it got.
void validate(const TrainConfig& config);

/// The config as a JSON object, every field present (config.json of a run).
std::string to_json(const TrainConfig& config);

/// `base` with the fields of the JSON object `json` set; `origin` names it in errors. Throws
/// FormatError for malformed JSON, InvalidArgument for an unknown field or a value of the wrong
/// type (naming the field).
TrainConfig apply_json(const TrainConfig& base, const std::string& json, const std::string& origin);

/// The stages of a config file: `{"stages": [{...}, {...}], ...}` gives one config per stage,
/// each the file's top-level fields (over `base`) overridden by the stage's; a file without
/// "stages" gives one config. Throws as apply_json, and InvalidArgument for an empty stage list.
std::vector<TrainConfig> configs_from_file_text(const TrainConfig& base, const std::string& json,
                                                const std::string& origin);

/// What makes `stages` one multi-stage run in the folder `root`: with several stages, stage i
/// trains into root/stage-(i+1), and every stage after the first starts from the best weights
/// of the one before (its `weights` are that stage's folder); one stage trains into its own
/// `out`, or into root when that is empty.
std::vector<TrainConfig> chain_stages(std::vector<TrainConfig> stages, const std::string& root);

/// The names of the presets (`seed-features`, `seed-finetune`, `fine-tune`).
std::vector<std::string> preset_names();
/// `base` with a preset's fields set: seed-features is the article's feature extraction
/// (resnet18, 224 px, MLP head 512-256, dropout 0.4, Adam 1e-4, weight decay 1e-5, batch 32,
/// 20 epochs); seed-finetune its fine-tuning done right (30 epochs, linear head, every layer
/// trained); fine-tune is fastai's fine_tune(4) on the model and data given (AdamW with weight
/// decay 0.01, one frozen epoch, the fastai schedule, lr 1e-3, lowest_lr_mult 0.01). Throws
/// InvalidArgument for an unknown name, listing the presets.
TrainConfig apply_preset(const TrainConfig& base, const std::string& name);

}  // namespace xfer::train
