#include "xfer/train/trainer.h"

#include "detail/start.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/core/runtime.h"
#include "xfer/data/download.h"
#include "xfer/data/loader.h"
#include "xfer/data/splits.h"
#include "xfer/dist/gradients.h"
#include "xfer/dist/group.h"
#include "xfer/download/fetch.h"
#include "xfer/infer/frozen.h"
#include "xfer/models/registry.h"
#include "xfer/run/log.h"
#include "xfer/train/checkpoint.h"
#include "xfer/train/feature_cache.h"
#include "xfer/train/mix.h"
#include "xfer/transforms/random.h"
#include "xfer/train/optimizer.h"
#include "xfer/train/schedule.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/load.h"
#include "xfer/weights/pth.h"
#include "xfer/weights/safetensors.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize/input-archive.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <set>

namespace xfer::train {
namespace {

using detail::build;
using detail::initial_model;
using detail::load_data;
using detail::Start;
using detail::train_transform_for;
using detail::training_layout;

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// `v` with 3 significant digits (a learning rate: "0.000316").
std::string number(double v) {
  std::ostringstream out;
  out.precision(3);
  out << v;
  return out.str();
}

std::string fixed(double v, int digits = 4) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(digits);
  out << v;
  return out.str();
}

weights::StateDict cpu_copy(const weights::StateDict& tensors) {
  weights::StateDict copy;
  for (const auto& item : tensors) copy.insert(item.key(), item.value().detach().to(torch::kCPU).clone());
  return copy;
}

void write_best(const run::RunDirectory& dir, const weights::StateDict& best) {
  weights::write_safetensors(dir.best_weights(), best);
  weights::write_pth(dir.best_pth(), best);
}

// The seeded order of epoch `epoch` over n cached samples.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch));
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

// One training run, fresh or resumed: everything after the model and data exist.
class Run {
 public:
  Run(TrainConfig config, run::ModelDescription arch, models::Classifier model, data::Splits splits,
      run::RunDirectory dir, run::RunLog& log, const TrainEvents& events, dist::Group* group)
      : group_(group != nullptr && group->size() > 1 ? group : nullptr),
        ranks_(group_ != nullptr ? group_->size() : 1),
        rank_(group_ != nullptr ? group_->rank() : 0),
        main_(rank_ == 0),
        c_(std::move(config)),
        arch_(std::move(arch)),
        model_(std::move(model)),
        splits_(std::move(splits)),
        dir_(std::move(dir)),
        log_(log),
        events_(events),
        device_(parse_device(c_.device)),
        eval_tf_(eval_transform_for(c_, arch_.input)),
        train_tf_(train_transform_for(c_, arch_.input, eval_tf_)) {
    if (arch_.tf_same_padding && c_.strategy == Strategy::kFinetune &&
        c_.batch_norm == BatchNormPolicy::kTrain) {
      // TFLite weights come with batch norm folded into the convolutions: the model's batch-norm
      // layers hold identities, and batch statistics in training mode would undo the folding.
      c_.batch_norm = BatchNormPolicy::kEval;
      log_("batch norm: eval (TFLite weights have it folded into the convolutions)");
    }
    aux_loss_weight_ = models::find_model(c_.model).aux_loss_weight;
    const auto size = eval_tf_.output_size();
    layout_ = training_layout(c_, size ? size->height : 0);
    model_->to(device_);
    set_layout(*model_, layout_);
    if (group_ != nullptr) {
      // Every rank starts from rank 0's tensors, whatever its own initialisation drew.
      std::vector<at::Tensor> tensors;
      for (const auto& item : weights::state_dict_of(*model_)) tensors.push_back(item.value());
      group_->broadcast(tensors);
      log_("distributed: rank " + std::to_string(rank_) + " of " + std::to_string(ranks_) + " (" +
           group_->backend() + "); each rank trains on its shard with batches of " +
           std::to_string(c_.batch_size) + ", a global batch of " +
           std::to_string(c_.batch_size * ranks_));
    }
    backbone_precision_ = backbone_precision(c_, device_);
    if (c_.precision == PrecisionChoice::kBf16 && !has_native_bf16(device_)) {
      log_("precision: bf16 asked for, but this device emulates it (much slower than fp32)");
    }
    mix_.mixup_alpha = c_.mixup_alpha;
    mix_.cutmix_alpha = c_.cutmix_alpha;
    mix_.prob = c_.mix_prob;
    mix_.switch_prob = c_.mix_switch_prob;
    if (mixing()) {
      log_("mixing: MixUp α " + number(c_.mixup_alpha) + ", CutMix α " + number(c_.cutmix_alpha) +
           ", a batch mixed with probability " + number(c_.mix_prob) +
           (c_.mixup_alpha > 0 && c_.cutmix_alpha > 0
                ? ", CutMix for " + number(c_.mix_switch_prob) + " of them"
                : "") +
           "; soft targets" +
           (c_.strategy == Strategy::kFeatures ? "; features computed every batch (not cached)"
                                               : ""));
    }
  }

  TrainResult go(RunState state, const SavedRun* saved) {
    const auto start = Clock::now();
    state_ = std::move(state);
    start_ema();
    best_written_ = saved != nullptr;
    best_written_at_ = start;
    if (saved != nullptr) {
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      generator.set_state(saved->rng);
    }
    const bool use_cache = uses_cached_features();
    if (use_cache) compute_features();
    const int64_t shard = (splits_.train.size() + ranks_ - 1) / ranks_;
    const int64_t batches = use_cache ? (shard + c_.batch_size - 1) / c_.batch_size
                                      : train_loader().batches_per_epoch();
    const int64_t steps_per_epoch = (batches + c_.accumulate - 1) / c_.accumulate;
    if (c_.accumulate > 1) {
      log_("gradient accumulation: " + std::to_string(c_.accumulate) + " batches of " +
           std::to_string(c_.batch_size) + " a step (" + std::to_string(steps_per_epoch) +
           " steps an epoch)");
    }
    schedule_.kind = c_.schedule;
    schedule_.steps_per_epoch = steps_per_epoch;
    schedule_.total_steps = steps_per_epoch * c_.epochs;
    schedule_.warmup_epochs = c_.warmup_epochs;
    schedule_.step_epochs = c_.step_epochs;
    schedule_.gamma = c_.gamma;
    schedule_.frozen_steps =
        c_.strategy == Strategy::kFinetune ? steps_per_epoch * c_.freeze_epochs : 0;
    TrainResult result;
    for (int64_t epoch = state_.epoch + 1; epoch <= c_.epochs && !state_.stopped_early; ++epoch) {
      enter_phase(epoch, saved);
      saved = nullptr;  // its optimizer state belongs to the epoch it stopped after
      const auto epoch_start = Clock::now();
      run::EpochMetrics m = use_cache ? train_epoch_cached(epoch) : train_epoch_loader(epoch);
      if (!use_cache) sync_buffers();
      // Every rank holds all cached features, so each evaluates the whole validation split;
      // through the loader each evaluates its shard and the sums are shared.
      const eval::Evaluation val =
          use_cache ? evaluate_features(*model_, features_.val, 256, device_, nullptr, nullptr)
                    : evaluate_split(splits_.val, progress_for("val", epoch), nullptr);
      m.val_loss = val.loss;
      m.val_acc = val.top1;
      if (!state_.ema.is_empty()) {
        const eval::Evaluation ema_val = with_ema_weights([&] {
          return use_cache ? evaluate_features(*model_, features_.val, 256, device_, nullptr, nullptr)
                           : evaluate_split(splits_.val, progress_for("val ema", epoch), nullptr);
        });
        m.ema_val_loss = ema_val.loss;
        m.ema_val_acc = ema_val.top1;
      }
      m.seconds = seconds_since(epoch_start);
      state_.rows.push_back(m);
      state_.epoch = epoch;
      const int64_t best = run::best_epoch(state_.rows);
      const bool improved = best == epoch;
      if (improved) {
        state_.best = cpu_copy(run::ema_is_better(m) ? state_.ema : weights::state_dict_of(*model_));
      }
      if (c_.patience > 0 && epoch - best >= c_.patience && epoch < c_.epochs) {
        state_.stopped_early = true;
      }
      if (main_) {
        if (improved && (!best_written_ || seconds_since(best_written_at_) >= kBestInterval)) {
          write_best(dir_, state_.best);
          best_written_ = true;
          best_written_at_ = Clock::now();
        }
        write_checkpoint(dir_.checkpoint(), *model_, *optimizer_, state_, moving_, ranks_);
        run::write_metrics(dir_.metrics(), state_.rows);
      }
      const std::string ema_text =
          state_.ema.is_empty() ? ""
                                : ", EMA val loss " + fixed(m.ema_val_loss) + " acc " +
                                      fixed(m.ema_val_acc);
      log_("epoch " + std::to_string(epoch) + "/" + std::to_string(c_.epochs) + ": train loss " +
           fixed(m.train_loss) + " acc " + fixed(m.train_acc) + ", val loss " + fixed(m.val_loss) +
           " acc " + fixed(m.val_acc) + ema_text + ", lr " + fixed(m.lr, 6) + ", " +
           fixed(m.seconds, 1) + " s" +
           (improved ? (run::ema_is_better(m) ? " (best: the EMA weights)" : " (best)") : ""));
      if (events_.epoch_end) events_.epoch_end(m);
      if (state_.stopped_early) {
        log_("early stop: no better validation accuracy for " + std::to_string(c_.patience) +
             " epochs (best epoch " + std::to_string(best) + ")");
      }
    }
    result.run_dir = dir_.root();
    result.epochs = state_.rows;
    result.best_epoch = run::best_epoch(state_.rows);
    result.stopped_early = state_.stopped_early;
    result.classes = arch_.classes;
    result.trainable_parameters = plan_.trainable;
    result.total_parameters = plan_.total;
    finish(result);
    result.seconds = seconds_since(start);
    result.splits = std::move(splits_);
    return result;
  }

  // The learning-rate range test from this run's start (find_lr): one optimizer step a batch
  // at exponentially growing rates, the backbone's kept at backbone_lr_mult times the head's.
  LrSweep sweep_lr(const LrFindOptions& o) {
    const bool use_cache = uses_cached_features();
    if (use_cache) compute_features();
    enter_phase(c_.strategy == Strategy::kFeatures ? 1 : c_.freeze_epochs + 1, nullptr);
    const auto start = Clock::now();
    LrSweep sweep;
    int64_t epoch = 1;
    int64_t next = 0;  // the next batch of the cached features' epoch
    at::Tensor order;
    if (!use_cache) train_loader().start_epoch(epoch);
    epoch_ = epoch;
    // One step on the next batch, a new epoch started when one ends; the batch's mean loss.
    const auto learn_next = [&]() {
      int64_t correct = 0;
      if (use_cache) {
        const auto& x = features_.train.features;
        const int64_t n = x.size(0);
        if (!order.defined() || next * c_.batch_size >= n) {
          if (order.defined()) ++epoch;
          order = torch::tensor(epoch_order(n, c_.seed, epoch), torch::kLong);
          next = 0;
        }
        const auto rows =
            order.slice(0, next * c_.batch_size, std::min(n, (next + 1) * c_.batch_size));
        ++next;
        const auto labels = features_.train.labels.index_select(0, rows).to(device_);
        const auto logits = model_->classify(x.index_select(0, rows).to(device_));
        return step(logits, {}, labels, {}, correct) / static_cast<double>(rows.size(0));
      }
      auto batch = train_loader().next();
      if (!batch) {
        train_loader().start_epoch(++epoch);
        epoch_ = epoch;
        batch = train_loader().next();
      }
      return learn(*batch, {}, correct) / static_cast<double>(batch->labels.size(0));
    };
    constexpr double kBeta = 0.98;
    double average = 0;
    double lowest = std::numeric_limits<double>::infinity();
    auto& groups = optimizer_->param_groups();
    for (int64_t i = 0; i < o.iterations(); ++i) {
      const double lr = o.start_lr() * std::pow(o.end_lr() / o.start_lr(),
                                                static_cast<double>(i) /
                                                    static_cast<double>(o.iterations() - 1));
      for (size_t g = 0; g < groups.size(); ++g) {
        groups[g].options().set_lr(lr * base_lrs_[g] / base_lrs_.front());
      }
      average = kBeta * average + (1 - kBeta) * learn_next();
      const double smoothed = average / (1 - std::pow(kBeta, static_cast<double>(i + 1)));
      sweep.lrs.push_back(lr);
      sweep.losses.push_back(smoothed);
      lowest = std::min(lowest, smoothed);
      BatchProgress p;
      p.batch = i + 1;
      p.batches = o.iterations();
      p.seconds = seconds_since(start);
      p.loss = smoothed;
      show(p, "lr-find", 0);
      if (o.stop_div() && (!std::isfinite(smoothed) || smoothed > 4 * lowest)) {
        sweep.diverged = true;
        break;
      }
    }
    sweep.valley = lr_valley(sweep.losses, o.iterations());
    log_("lr-find: " + std::to_string(sweep.lrs.size()) + " batches from " +
         number(sweep.lrs.front()) + " to " + number(sweep.lrs.back()) +
         (sweep.diverged ? " (stopped: the loss diverged)" : "") + "; valley at " +
         number(sweep.lrs[sweep.valley]) + " (smoothed loss " +
         fixed(sweep.losses[sweep.valley]) + ")");
    return sweep;
  }

 private:
  // MixUp or CutMix is on.
  bool mixing() const { return c_.mixup_alpha > 0 || c_.cutmix_alpha > 0; }

  // The frozen backbone's features are computed once: a features run whose images are the
  // same every epoch.
  bool uses_cached_features() const {
    return c_.strategy == Strategy::kFeatures && !train_tf_.is_random() && !mixing();
  }

  // The one place progress leaves the run: `p` as a pass measured it, named by `phase` and
  // `epoch` (0 outside the epochs).
  void show(BatchProgress p, const std::string& phase, int64_t epoch) const {
    if (!events_.progress) return;
    p.phase = phase;
    p.epoch = epoch;
    p.epochs = c_.epochs;
    events_.progress(p);
  }

  // For a pass that measures its own progress (evaluate).
  std::function<void(const BatchProgress&)> progress_for(const std::string& phase, int64_t epoch) {
    if (!events_.progress) return {};
    return [this, phase, epoch](const BatchProgress& p) { show(p, phase, epoch); };
  }

  data::Loader& train_loader() {
    if (!train_loader_) {
      train_loader_ = std::make_unique<data::Loader>(
          splits_.train, train_tf_,
          data::LoaderOptions()
              .batch_size(c_.batch_size)
              .shuffle(true)
              .seed(c_.seed)
              .shard(rank_)
              .shards(ranks_)
              .workers(c_.workers)
              .channels_last(layout_ == Layout::kChannelsLast)
              .pin_memory(device_.is_cuda()));
    }
    return *train_loader_;
  }

  void compute_features() {
    FeatureOptions options;
    options.batch_size = std::max<int64_t>(c_.batch_size, 64);
    options.workers = c_.workers;
    options.precision = backbone_precision_;
    options.fuse = c_.fuse;
    options.log = [this](const std::string& message) { log_(message); };
    options.group = group_;
    if (c_.cache_features) {
      try {
        options.cache_dir = download::cache_dir() / "features";
      } catch (const IoError& e) {
        log_(std::string("feature cache: off (") + e.what() + ")");
      }
    }
    const auto start = Clock::now();
    options.progress = [this, start](const std::string& split, int64_t done, int64_t total) {
      BatchProgress p;
      p.batch = done;
      p.batches = total;
      p.seconds = seconds_since(start);
      show(p, "features " + split, 0);
    };
    features_ = extract_features(c_.model, *model_, splits_, eval_tf_, options);
    log_(std::string("features: ") + (features_.cached ? "read from " : "computed once") +
         (features_.cached ? features_.file.string()
                           : " (" + to_string(backbone_precision_) +
                                 (c_.fuse ? " fused" : " eager") + ", " +
                                 fixed(seconds_since(start), 1) + " s" +
                                 (features_.file.empty() ? "" : ", cached in " +
                                                                    features_.file.string()) +
                                 ")") +
         ": train " + std::to_string(features_.train.features.size(0)) + ", val " +
         std::to_string(features_.val.features.size(0)) + ", test " +
         std::to_string(features_.test.features.size(0)) + " × " +
         std::to_string(model_->feature_dim()));
  }

  // Sets requires_grad, modes and the optimizer for the phase `epoch` belongs to: the backbone
  // frozen (features, or the first freeze_epochs of a fine-tune) or trained.
  void enter_phase(int64_t epoch, const SavedRun* saved) {
    const bool frozen = c_.strategy == Strategy::kFeatures || epoch <= c_.freeze_epochs;
    const int64_t phase = frozen ? 0 : 1;
    if (optimizer_ && phase == state_.phase) {
      set_modes(*model_, c_);
      return;
    }
    plan_ = plan_parameters(*model_, c_, frozen);
    PhaseOptimizer made = make_optimizer(c_, plan_);
    optimizer_ = std::move(made.optimizer);
    base_lrs_ = std::move(made.base_lrs);
    check_optimizer(*optimizer_, *model_);
    if (group_ != nullptr) {
      averager_.reset();  // its hooks are on the previous phase's parameters
      std::vector<at::Tensor> trainable;
      for (const auto& p : model_->parameters(true)) {
        if (p.requires_grad()) trainable.push_back(p);
      }
      averager_ = std::make_unique<dist::GradientAverager>(*group_, trainable);
    }
    if (saved != nullptr && saved->state.phase == phase) {
      torch::serialize::InputArchive archive;
      archive.load_from(saved->optimizer.data(), saved->optimizer.size());
      optimizer_->load(archive);
    }
    state_.phase = phase;
    set_modes(*model_, c_);
    frozen_.reset();
    if (frozen) {
      frozen_ = std::make_unique<infer::FrozenBackbone>(
          *model_, infer::FrozenOptions{backbone_precision_, c_.fuse,
                                        [this](const std::string& message) { log_(message); }});
    }
    add_moving_keys(*model_, moving_);
    pair_ema();
    log_(std::string(frozen ? "backbone frozen" : "backbone training") + ": optimizer holds " +
         std::to_string(plan_.trainable) + " of " + std::to_string(plan_.total) +
         " parameters (" + std::to_string(plan_.head.size() + plan_.backbone.size()) +
         " tensors; checked equal to those that require gradients)");
    if ((c_.layer_decay < 1 || c_.lowest_lr_mult > 0) && base_lrs_.size() > 1) {
      const double decay = c_.lowest_lr_mult > 0
                               ? std::pow(c_.lowest_lr_mult, 1.0 / static_cast<double>(plan_.layers))
                               : c_.layer_decay;
      log_("layer decay " + number(decay) + ": " + std::to_string(base_lrs_.size() - 1) +
           " backbone blocks of " + std::to_string(plan_.layers) + " train, at rates from " +
           number(base_lrs_[1]) + " to " + number(base_lrs_.back()) + " (head " +
           number(base_lrs_.front()) + ")");
    }
  }

  void set_rates() {
    const double factor = schedule_.factor(state_.step);
    auto& groups = optimizer_->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(base_lrs_[g] * factor);
    lr_ = base_lrs_.front() * factor;
  }

  // Where a batch sits in its group of c_.accumulate batches, whose gradients make one optimizer
  // step.
  struct GroupPlace {
    // The first batch of its group: gradients start from zero.
    bool first = true;
    // The last batch of its group: the optimizer steps.
    bool last = true;
    // The batch's share of its group's loss: its samples over the group's.
    double weight = 1;
  };

  // The place of batch `batch` (from 0, `size` samples) in an epoch of `batches` batches and
  // `samples` samples.
  GroupPlace group_place(int64_t batch, int64_t batches, int64_t samples, int64_t size) const {
    const int64_t a = c_.accumulate;
    if (a == 1) return {};
    const int64_t begin = batch / a * a;
    const int64_t group_samples =
        std::min(samples, (begin + a) * c_.batch_size) - begin * c_.batch_size;
    return {batch == begin, (batch + 1) % a == 0 || batch + 1 == batches,
            static_cast<double>(size) / static_cast<double>(group_samples)};
  }

  // Backward of a batch, and the optimizer step when it ends its group; returns the summed loss
  // and adds the right predictions.
  // `targets` are a mixed batch's soft targets, undefined for hard labels.
  double step(const at::Tensor& logits, const std::vector<at::Tensor>& aux, const at::Tensor& labels,
              const GroupPlace& place, int64_t& correct, const at::Tensor& targets = {}) {
    namespace F = torch::nn::functional;
    const auto options = F::CrossEntropyFuncOptions().label_smoothing(c_.label_smoothing);
    const auto loss_of = [&](const at::Tensor& out) {
      return targets.defined() ? soft_target_cross_entropy(out, targets)
                               : F::cross_entropy(out, labels, options);
    };
    at::Tensor loss = loss_of(logits);
    at::Tensor total = loss;
    for (const auto& a : aux) total = total + aux_loss_weight_ * loss_of(a);
    correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
    const double summed = loss.item<double>() * static_cast<double>(labels.size(0));
    if (place.first) optimizer_->zero_grad();
    if (averager_) averager_->hold(!place.last);
    (c_.accumulate == 1 ? total : total * place.weight).backward();
    if (!place.last) return summed;
    if (averager_) averager_->average();
    if (c_.clip_grad_norm > 0) {
      std::vector<at::Tensor> params = plan_.head;
      params.insert(params.end(), plan_.backbone.begin(), plan_.backbone.end());
      torch::nn::utils::clip_grad_norm_(params, c_.clip_grad_norm);
    }
    optimizer_->step();
    ++state_.step;
    update_ema();
    return summed;
  }

  // The moving average of the weights (--ema): a copy of the model as the run starts it, on its
  // device; a resumed run's average as its checkpoint saved it.
  void start_ema() {
    if (c_.ema_decay <= 0) return;
    if (state_.ema.is_empty()) {
      for (const auto& item : weights::state_dict_of(*model_)) {
        state_.ema.insert(item.key(), item.value().detach().clone());
      }
    } else {
      for (auto& item : state_.ema) item.value() = item.value().to(device_);
    }
    log_("EMA of the weights: decay " + number(c_.ema_decay) + " a step, validated every epoch");
  }

  // Pairs each tensor training moves (moving_, over every phase so far) with its average; the
  // others equal theirs for good.
  void pair_ema() {
    ema_weights_.clear();
    ema_averages_.clear();
    ema_counters_.clear();
    if (state_.ema.is_empty()) return;
    for (const auto& item : weights::state_dict_of(*model_)) {
      if (moving_.count(item.key()) == 0) continue;
      const at::Tensor& average = state_.ema[item.key()];
      if (at::isFloatingType(average.scalar_type())) {
        ema_weights_.push_back(item.value());
        ema_averages_.push_back(average);
      } else {
        ema_counters_.emplace_back(item.value(), average);
      }
    }
  }

  // timm's ModelEmaV2 update after an optimizer step: ema = decay × ema + (1 − decay) × weight;
  // integer counters (batch norm's) are copied.
  void update_ema() {
    if (ema_averages_.empty()) return;
    torch::NoGradGuard no_grad;
    at::_foreach_mul_(ema_averages_, c_.ema_decay);
    at::_foreach_add_(ema_averages_, ema_weights_, 1.0 - c_.ema_decay);
    for (auto& [weight, counter] : ema_counters_) counter.copy_(weight);
  }

  // `evaluate` run with the model holding the average's weights, its own put back after.
  template <typename Evaluate>
  eval::Evaluation with_ema_weights(Evaluate evaluate) {
    weights::StateDict own;
    for (const auto& item : weights::state_dict_of(*model_)) {
      own.insert(item.key(), item.value().detach().clone());
    }
    weights::load_into(*model_, state_.ema);
    const eval::Evaluation result = evaluate();
    weights::load_into(*model_, own);
    return result;
  }

  // A training batch done: `samples` so far this epoch, their summed loss.
  void report_step(int64_t epoch, int64_t batch, int64_t batches, int64_t samples,
                   double loss_sum, Clock::time_point start) const {
    BatchProgress p;
    p.batch = batch;
    p.batches = batches;
    p.samples = samples;
    p.seconds = seconds_since(start);
    p.loss = samples > 0 ? loss_sum / static_cast<double>(samples) : 0;
    show(p, "train", epoch);
  }

  run::EpochMetrics train_epoch_cached(int64_t epoch) {
    const auto start = Clock::now();
    const auto& x = features_.train.features;
    const auto& y = features_.train.labels;
    const auto order = torch::tensor(
        data::shard_positions(epoch_order(x.size(0), c_.seed, epoch), rank_, ranks_, true),
        torch::kLong);
    const int64_t n = order.size(0);
    const int64_t batches = (n + c_.batch_size - 1) / c_.batch_size;
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const auto rows = order.slice(0, b * c_.batch_size, std::min(n, (b + 1) * c_.batch_size));
      const auto labels = y.index_select(0, rows).to(device_);
      set_rates();
      const auto logits = model_->classify(x.index_select(0, rows).to(device_));
      loss_sum += step(logits, {}, labels, group_place(b, batches, n, rows.size(0)), correct);
      report_step(epoch, b + 1, batches, std::min(n, (b + 1) * c_.batch_size), loss_sum, start);
    }
    return epoch_metrics(epoch, loss_sum, correct, n);
  }

  run::EpochMetrics train_epoch_loader(int64_t epoch) {
    const auto start = Clock::now();
    auto& loader = train_loader();
    loader.start_epoch(epoch);
    epoch_ = epoch;
    const int64_t batches = loader.batches_per_epoch();
    // Every rank's shard holds as many samples (the loader pads the order).
    const int64_t shard = (splits_.train.size() + ranks_ - 1) / ranks_;
    double loss_sum = 0;
    int64_t correct = 0;
    int64_t samples = 0;
    while (auto batch = loader.next()) {
      const auto place = group_place(batch->number, batches, shard, batch->labels.size(0));
      set_rates();
      loss_sum += learn(*batch, place, correct);
      samples += batch->labels.size(0);
      report_step(epoch, batch->number + 1, batches, samples, loss_sum, start);
    }
    return epoch_metrics(epoch, loss_sum, correct, samples);
  }

  // Forward and step() on a batch of images: the frozen backbone under no-grad in its
  // precision, or the whole network.
  double learn(const data::Batch& batch, const GroupPlace& place, int64_t& correct) {
    at::Tensor images = batch.images.to(device_, /*non_blocking=*/true);
    const auto labels = batch.labels.to(device_, /*non_blocking=*/true);
    at::Tensor targets;
    if (mixing()) {
      // One draw a batch, from (seed, epoch, batch) alone: a resumed run mixes as the first did.
      std::mt19937_64 rng(transforms::sample_seed(c_.seed ^ 0x4D4958ULL, epoch_, batch.number));
      const BatchMix mix = draw_mix(mix_, images.size(2), images.size(3), rng);
      if (mix.lam < 1) {  // an unmixed batch trains on its labels, exactly as without mixing
        mix_images(images, mix);  // in place: the loader made this batch for this step alone
        targets = mix_targets(labels, static_cast<int64_t>(arch_.classes.size()), mix.lam,
                              c_.label_smoothing);
      }
    }
    if (state_.phase == 0) {
      at::Tensor features;
      {
        torch::NoGradGuard no_grad;
        features = frozen_->features(images);
      }
      return step(model_->classify(features), {}, labels, place, correct, targets);
    }
    PrecisionScope precision(
        c_.precision == PrecisionChoice::kBf16 ? Precision::kBFloat16 : Precision::kFloat32,
        device_);
    const auto out = model_->forward_full(images);
    return step(out.logits.to(torch::kFloat), out.aux_logits, labels, place, correct, targets);
  }

  // An epoch's training loss and accuracy, over every rank's samples.
  run::EpochMetrics epoch_metrics(int64_t epoch, double loss_sum, int64_t correct,
                                  int64_t samples) {
    if (group_ != nullptr) {
      at::Tensor sums = torch::tensor({loss_sum, static_cast<double>(correct),
                                       static_cast<double>(samples)}, torch::kDouble);
      group_->all_reduce_sum(sums);
      loss_sum = sums[0].item<double>();
      correct = static_cast<int64_t>(sums[1].item<double>());
      samples = static_cast<int64_t>(sums[2].item<double>());
    }
    return {epoch, loss_sum / static_cast<double>(samples),
            static_cast<double>(correct) / static_cast<double>(samples), 0, 0, lr_, 0};
  }

  // Batch-norm statistics move on each rank with its own batches: rank 0's are given to all
  // before they evaluate (PyTorch's DistributedDataParallel broadcasts them before each forward).
  void sync_buffers() {
    if (group_ == nullptr) return;
    std::vector<at::Tensor> buffers;
    for (const auto& module : model_->modules()) {
      if (!module->is_training()) continue;
      for (const auto& b : module->buffers(false)) buffers.push_back(b);
    }
    group_->broadcast(buffers);
  }

  // A split through the loader, as every evaluation of the run's model is done.
  eval::Evaluation evaluate_split(const data::Dataset& split,
                                  std::function<void(const BatchProgress&)> progress,
                                  std::vector<run::Prediction>* predictions) {
    EvalOptions options;
    options.transform = eval_tf_;
    options.batch_size = c_.batch_size;
    options.workers = c_.workers;
    options.backbone_precision = evaluation_precision(c_, device_);
    options.fuse = c_.fuse;
    options.log = [this](const std::string& message) { log_(message); };
    options.predictions = predictions;
    options.progress = std::move(progress);
    options.group = group_;
    return evaluate(*model_, split, options);
  }

  // The best weights, evaluated once on the test split, and the files that say so.
  void finish(TrainResult& result) {
    if (state_.best.is_empty()) return;
    weights::load_into(*model_, state_.best);
    const bool cached = uses_cached_features();
    if (!main_ && (cached || splits_.test.empty())) return;
    if (main_) write_best(dir_, state_.best);
    std::vector<run::Prediction> predictions;
    if (!splits_.test.empty()) {
      result.test = cached ? evaluate_features(*model_, features_.test, 256, device_,
                                               &predictions, &splits_.test)
                           : evaluate_split(splits_.test, progress_for("test", 0), &predictions);
      if (!main_) return;
      run::write_predictions(dir_.predictions(), predictions, arch_.classes);
      const bool ema = std::any_of(state_.rows.begin(), state_.rows.end(), [&](const auto& row) {
        return row.epoch == result.best_epoch && run::ema_is_better(row);
      });
      log_("test (best epoch " + std::to_string(result.best_epoch) + (ema ? ", its EMA weights" : "") +
           ", " +
           std::to_string(result.test.count) + " images): loss " + fixed(result.test.loss) +
           ", top-1 " + fixed(result.test.top1) + ", top-5 " + fixed(result.test.top5));
    } else {
      log_("test: the dataset has no test split; nothing evaluated");
    }
    run::Results results;
    results.best_epoch = result.best_epoch;
    results.epochs_trained = static_cast<int64_t>(result.epochs.size());
    results.stopped_early = result.stopped_early;
    results.test = result.test;  // the measures, without the confusion matrix
    results.classes = arch_.classes;
    results.trainable_parameters = result.trainable_parameters;
    results.total_parameters = result.total_parameters;
    run::write_results(dir_.results(), results);
  }

  dist::Group* group_;  // null for one process
  int64_t ranks_;
  int64_t rank_;
  bool main_;  // rank 0: the one that writes
  TrainConfig c_;
  run::ModelDescription arch_;
  models::Classifier model_;
  data::Splits splits_;
  run::RunDirectory dir_;
  run::RunLog& log_;
  const TrainEvents& events_;
  c10::Device device_;
  transforms::Transform eval_tf_;
  transforms::Transform train_tf_;
  Layout layout_ = Layout::kNchw;
  Precision backbone_precision_ = Precision::kFloat32;
  std::unique_ptr<data::Loader> train_loader_;
  // The backbone's pass while it is frozen (phase 0), from the weights it has then.
  std::unique_ptr<infer::FrozenBackbone> frozen_;
  // MixUp and CutMix (TrainConfig's mixup_alpha, ...), and the epoch training is in, which
  // seeds each batch's draw.
  MixOptions mix_;
  int64_t epoch_ = 0;
  RunFeatures features_;
  Schedule schedule_;
  RunState state_;
  ParameterPlan plan_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<dist::GradientAverager> averager_;
  std::vector<double> base_lrs_;
  double lr_ = 0;
  // Each auxiliary classifier's share of the loss (ModelInfo::aux_loss_weight).
  double aux_loss_weight_ = 0;
  // The keys a checkpoint holds (add_moving_keys), over every phase so far.
  std::set<std::string> moving_;
  // The floating-point tensors training moves and their moving averages (pair_ema), and the
  // integer ones with theirs.
  std::vector<at::Tensor> ema_weights_;
  std::vector<at::Tensor> ema_averages_;
  std::vector<std::pair<at::Tensor, at::Tensor>> ema_counters_;
  // best.safetensors/.pth: written at the first epoch (a checkpoint reads the unchanged weights
  // from it), then on an improvement at most every kBestInterval seconds, and when the run ends.
  static constexpr double kBestInterval = 60;
  bool best_written_ = false;
  Clock::time_point best_written_at_;
};

void describe_data(const data::Splits& splits, run::RunLog& log) {
  log("data: " + std::to_string(splits.train.classes().size()) + " classes; train " +
      std::to_string(splits.train.size()) + ", val " + std::to_string(splits.val.size()) +
      ", test " + std::to_string(splits.test.size()) +
      (splits.bad_files.empty() ? ""
                                : "; skipped " + std::to_string(splits.bad_files.size()) +
                                      " files that do not decode"));
}

}  // namespace

data::Splits run_splits(const TrainConfig& c) {
  return data::load_splits(data::parse_dataset_spec(c.data), data::DataOptions()
                                                                 .val_fraction(c.val_fraction)
                                                                 .per_class(c.per_class)
                                                                 .test_per_class(c.test_per_class)
                                                                 .seed(c.seed)
                                                                 .skip_bad(c.skip_bad)
                                                                 .classes(c.classes)
                                                                 .threads(c.workers));
}

transforms::Transform eval_transform_for(const TrainConfig& config,
                                         const models::InputSpec& input) {
  if (config.image_size > 0) {
    transforms::Transform transform;
    transform.resize(transforms::Size{config.image_size, config.image_size});
    transform.normalize(input.mean, input.std);
    return transform;
  }
  transforms::EvalParams params;
  params.size = input.size;
  params.resize = input.resize;
  params.mean = input.mean;
  params.std = input.std;
  params.interpolation = input.interpolation;
  return transforms::Transform::eval(params);
}

transforms::Transform five_crop_transform_for(const TrainConfig& config,
                                              const models::InputSpec& input) {
  if (config.image_size > 0) {
    throw InvalidArgument("tta five-crop: expected a run whose eval transform crops, got one that "
                          "resizes whole images to " +
                          std::to_string(config.image_size) + " x " +
                          std::to_string(config.image_size) + " (--image-size)");
  }
  return five_crop_transform(input);
}

TrainResult train(const TrainConfig& config, const TrainEvents& events, dist::Group* group) {
  validate(config);
  const run::RunDirectory dir(config.out);
  const bool main = group == nullptr || group->is_main();
  set_threads(static_cast<int>(config.threads));
  run::RunLog log(events.log);
  if (!main) log.without_file();
  data::Splits splits;
  std::optional<Start> start;
  // The data and the weights are read before the run directory is made: a mistake in either
  // leaves nothing behind, and on any rank stops every rank.
  dist::run_together(group, "reading the data and the weights", [&] {
    if (main && dir.holds_run()) {
      throw InvalidArgument("out: '" + dir.root().string() +
                            "' already holds a run (continue it with --resume, or choose another "
                            "--out)");
    }
    log("run " + dir.root().string() + ": " + config.model + ", " + spelling(config.strategy) + ", " +
        config.data);
    splits = load_data(config, log);
    describe_data(splits, log);
    torch::manual_seed(config.seed);
    start = initial_model(config, splits.train.classes(), log);
    if (config.strategy == Strategy::kFinetune) check_unfreeze_from(*start->model, config);
  });
  dist::run_together(group, "creating the run directory", [&] {
    if (!main) return;
    std::error_code error;
    fs::create_directories(dir.root(), error);
    if (error) {
      throw IoError("cannot create run directory '" + dir.root().string() +
                    "': " + error.message());
    }
    write_file_atomically(dir.config(), to_json(config));
    run::write_model_description(dir.model(), start->arch);
    log.open(dir.log());
  });
  Run run(config, start->arch, start->model, std::move(splits), dir, log, events, group);
  RunState fresh;
  return run.go(std::move(fresh), nullptr);
}

LrSweep find_lr(const TrainConfig& config, const LrFindOptions& options,
                const TrainEvents& events) {
  validate(config);
  validate(options);
  set_threads(static_cast<int>(config.threads));
  run::RunLog log(events.log);
  log.without_file();
  log("lr-find: " + config.model + ", " + spelling(config.strategy) + ", " + config.data);
  data::Splits splits = load_data(config, log);
  describe_data(splits, log);
  torch::manual_seed(config.seed);
  Start start = initial_model(config, splits.train.classes(), log);
  if (config.strategy == Strategy::kFinetune) check_unfreeze_from(*start.model, config);
  Run run(config, start.arch, start.model, std::move(splits), run::RunDirectory(config.out), log,
          events, nullptr);
  return run.sweep_lr(options);
}

TrainResult resume(const fs::path& run_dir, const TrainEvents& events, dist::Group* group) {
  const run::RunDirectory dir(run_dir);
  const bool main = group == nullptr || group->is_main();
  const int64_t ranks = group != nullptr ? group->size() : 1;
  TrainConfig config;
  run::ModelDescription arch;
  SavedRun saved;
  run::RunLog log(events.log);
  if (!main) log.without_file();
  data::Splits splits;
  dist::run_together(group, "reading the run to resume", [&] {
    config = apply_json(TrainConfig{}, read_file(dir.config()), dir.config().string());
    arch = run::read_model_description(dir.model());
    saved = read_saved_run(dir);
    if (saved.world_size != ranks) {
      throw InvalidArgument("resume: '" + run_dir.string() + "' was trained by " +
                            std::to_string(saved.world_size) + " process(es), this job has " +
                            std::to_string(ranks) +
                            " (resume with the same --nproc or WORLD_SIZE: the shards and the "
                            "global batch depend on it)");
    }
    set_threads(static_cast<int>(config.threads));
    if (main) log.open(dir.log());
    log("resume " + run_dir.string() + " after epoch " + std::to_string(saved.state.epoch));
    splits = load_data(config, log);
    describe_data(splits, log);
  });
  torch::manual_seed(config.seed);
  auto model = build(arch);
  weights::load_into(*model, saved.model);
  TrainConfig resolved = config;
  resolved.out = run_dir.string();
  Run run(resolved, arch, model, std::move(splits), dir, log, events, group);
  return run.go(saved.state, &saved);
}

TrainedModel load_run(const fs::path& run_dir) {
  const run::RunDirectory dir(run_dir);
  std::error_code error;
  if (!fs::exists(dir.config(), error)) {
    throw IoError("'" + run_dir.string() + "' is not a run directory (no config.json)");
  }
  TrainedModel out;
  out.config = apply_json(TrainConfig{}, read_file(dir.config()), dir.config().string());
  const run::ModelDescription arch = run::read_model_description(dir.model());
  out.model = build(arch);
  if (!fs::exists(dir.best_weights(), error)) {
    throw IoError("'" + run_dir.string() + "' has no best weights yet (no best.safetensors)");
  }
  weights::load_into(*out.model, weights::read_state_dict(dir.best_weights()));
  out.model->eval();
  out.classes = arch.classes;
  out.eval_transform = eval_transform_for(out.config, arch.input);
  out.input = arch.input;
  if (out.config.image_size > 0) {
    out.input.size = out.config.image_size;
    out.input.resize = out.config.image_size;
    out.input.interpolation = Interpolation::kBilinear;  // eval_transform_for's whole-image resize
  }
  return out;
}

Precision resolve_precision(PrecisionChoice choice, c10::Device device) {
  const bool bf16 = choice == PrecisionChoice::kBf16 ||
                    (choice == PrecisionChoice::kAuto && has_native_bf16(device));
  return bf16 ? Precision::kBFloat16 : Precision::kFloat32;
}

Precision backbone_precision(const TrainConfig& config, c10::Device device) {
  return resolve_precision(config.precision, device);
}

Precision evaluation_precision(const TrainConfig& config, c10::Device device) {
  return config.strategy == Strategy::kFeatures ? backbone_precision(config, device)
                                                : Precision::kFloat32;
}

}  // namespace xfer::train
