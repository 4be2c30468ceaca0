#include "xfer/train/config.h"

#include "xfer/core/error.h"
#include "xfer/models/registry.h"
#include "xfer/transforms/transform.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

namespace xfer::train {
namespace {

using Json = nlohmann::ordered_json;

// One field of TrainConfig: how it is written to JSON and read back.
struct Field {
  std::function<Json(const TrainConfig&)> get;
  std::function<void(TrainConfig&, const Json&)> set;
};

template <typename T>
Field plain(T TrainConfig::*member) {
  return {[member](const TrainConfig& c) { return Json(c.*member); },
          [member](TrainConfig& c, const Json& v) { c.*member = v.get<T>(); }};
}

// An enum field, written and read as its spelling.
template <typename Enum>
Field choice(Enum TrainConfig::*member, const char* name) {
  return {[member](const TrainConfig& c) { return Json(spelling(c.*member)); },
          [member, name](TrainConfig& c, const Json& v) {
            c.*member = parse_spelling<Enum>(name, v.get<std::string>());
          }};
}

// Every value of each enum field with its spelling, in declaration order.
template <typename Enum>
const std::vector<std::pair<Enum, const char*>>& table();

template <>
const std::vector<std::pair<Strategy, const char*>>& table() {
  static const std::vector<std::pair<Strategy, const char*>> values = {
      {Strategy::kFeatures, "features"}, {Strategy::kFinetune, "finetune"}};
  return values;
}

template <>
const std::vector<std::pair<BatchNormPolicy, const char*>>& table() {
  static const std::vector<std::pair<BatchNormPolicy, const char*>> values = {
      {BatchNormPolicy::kTrain, "train"},
      {BatchNormPolicy::kEval, "eval"},
      {BatchNormPolicy::kFrozen, "frozen"}};
  return values;
}

template <>
const std::vector<std::pair<LayerNormPolicy, const char*>>& table() {
  static const std::vector<std::pair<LayerNormPolicy, const char*>> values = {
      {LayerNormPolicy::kTrain, "train"}, {LayerNormPolicy::kFrozen, "frozen"}};
  return values;
}

template <>
const std::vector<std::pair<OptimizerKind, const char*>>& table() {
  static const std::vector<std::pair<OptimizerKind, const char*>> values = {
      {OptimizerKind::kAdam, "adam"},
      {OptimizerKind::kAdamW, "adamw"},
      {OptimizerKind::kSgd, "sgd"}};
  return values;
}

template <>
const std::vector<std::pair<ScheduleKind, const char*>>& table() {
  static const std::vector<std::pair<ScheduleKind, const char*>> values = {
      {ScheduleKind::kConstant, "constant"},
      {ScheduleKind::kStep, "step"},
      {ScheduleKind::kCosine, "cosine"},
      {ScheduleKind::kOneCycle, "onecycle"},
      {ScheduleKind::kFastai, "fastai"}};
  return values;
}

template <>
const std::vector<std::pair<PrecisionChoice, const char*>>& table() {
  static const std::vector<std::pair<PrecisionChoice, const char*>> values = {
      {PrecisionChoice::kAuto, "auto"},
      {PrecisionChoice::kFp32, "fp32"},
      {PrecisionChoice::kBf16, "bf16"}};
  return values;
}

// "a, b or c".
std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return out;
}

const std::vector<std::pair<std::string, Field>>& fields() {
  static const std::vector<std::pair<std::string, Field>> table = {
      {"model", plain(&TrainConfig::model)},
      {"weights", plain(&TrainConfig::weights)},
      {"data", plain(&TrainConfig::data)},
      {"classes", plain(&TrainConfig::classes)},
      {"download", plain(&TrainConfig::download)},
      {"strategy", choice(&TrainConfig::strategy, "strategy")},
      {"head", plain(&TrainConfig::head)},
      {"dropout", plain(&TrainConfig::dropout)},
      {"epochs", plain(&TrainConfig::epochs)},
      {"batch_size", plain(&TrainConfig::batch_size)},
      {"accumulate", plain(&TrainConfig::accumulate)},
      {"optimizer", choice(&TrainConfig::optimizer, "optimizer")},
      {"lr", plain(&TrainConfig::lr)},
      {"momentum", plain(&TrainConfig::momentum)},
      {"nesterov", plain(&TrainConfig::nesterov)},
      {"weight_decay", plain(&TrainConfig::weight_decay)},
      {"schedule", choice(&TrainConfig::schedule, "schedule")},
      {"warmup_epochs", plain(&TrainConfig::warmup_epochs)},
      {"step_epochs", plain(&TrainConfig::step_epochs)},
      {"gamma", plain(&TrainConfig::gamma)},
      {"label_smoothing", plain(&TrainConfig::label_smoothing)},
      {"clip_grad_norm", plain(&TrainConfig::clip_grad_norm)},
      {"unfreeze_from", plain(&TrainConfig::unfreeze_from)},
      {"backbone_lr_mult", plain(&TrainConfig::backbone_lr_mult)},
      {"layer_decay", plain(&TrainConfig::layer_decay)},
      {"ema_decay", plain(&TrainConfig::ema_decay)},
      {"lowest_lr_mult", plain(&TrainConfig::lowest_lr_mult)},
      {"mixup_alpha", plain(&TrainConfig::mixup_alpha)},
      {"cutmix_alpha", plain(&TrainConfig::cutmix_alpha)},
      {"mix_prob", plain(&TrainConfig::mix_prob)},
      {"mix_switch_prob", plain(&TrainConfig::mix_switch_prob)},
      {"freeze_epochs", plain(&TrainConfig::freeze_epochs)},
      {"batch_norm", choice(&TrainConfig::batch_norm, "batch_norm")},
      {"layer_norm", choice(&TrainConfig::layer_norm, "layer_norm")},
      {"patience", plain(&TrainConfig::patience)},
      {"seed", plain(&TrainConfig::seed)},
      {"val_fraction", plain(&TrainConfig::val_fraction)},
      {"per_class", plain(&TrainConfig::per_class)},
      {"test_per_class", plain(&TrainConfig::test_per_class)},
      {"skip_bad", plain(&TrainConfig::skip_bad)},
      {"image_size", plain(&TrainConfig::image_size)},
      {"train_transform", plain(&TrainConfig::train_transform)},
      {"device", plain(&TrainConfig::device)},
      {"precision", choice(&TrainConfig::precision, "precision")},
      {"threads", plain(&TrainConfig::threads)},
      {"workers", plain(&TrainConfig::workers)},
      {"cache_features", plain(&TrainConfig::cache_features)},
      {"fuse", plain(&TrainConfig::fuse)},
      {"out", plain(&TrainConfig::out)},
  };
  return table;
}

std::string known_fields() {
  std::string known;
  for (const auto& [name, field] : fields()) known += (known.empty() ? "" : ", ") + name;
  return known;
}

void apply_object(TrainConfig& config, const Json& object, const std::string& origin,
                  const std::vector<std::string>& ignore) {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    const Json& value = item.value();
    if (std::find(ignore.begin(), ignore.end(), key) != ignore.end()) continue;
    const auto& table = fields();
    const auto found = std::find_if(table.begin(), table.end(),
                                    [&](const auto& entry) { return entry.first == key; });
    if (found == table.end()) {
      throw InvalidArgument(origin + ": unknown field '" + key + "' (expected one of " +
                            known_fields() + ")");
    }
    try {
      found->second.set(config, value);
    } catch (const Json::exception& e) {
      throw InvalidArgument(origin + ": field '" + key + "': wrong type (" + e.what() +
                            "), got " + value.dump());
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(origin + ": " + e.what());
    }
  }
}

Json parse_object(const std::string& text, const std::string& origin) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw FormatError(origin + ": not valid JSON: " + e.what());
  }
  if (!json.is_object()) {
    throw FormatError(origin + ": expected a JSON object, got " + std::string(json.type_name()));
  }
  return json;
}

void check(bool ok, const std::string& field, const std::string& expected, const std::string& got) {
  if (!ok) throw InvalidArgument(field + ": expected " + expected + ", got " + got);
}

std::string str(double v) { return Json(v).dump(); }

}  // namespace

template <typename Enum>
std::vector<std::string> spellings() {
  std::vector<std::string> names;
  for (const auto& [value, name] : table<Enum>()) names.emplace_back(name);
  return names;
}

template <typename Enum>
std::string spelling(Enum value) {
  for (const auto& [known, name] : table<Enum>()) {
    if (known == value) return name;
  }
  throw std::logic_error("spelling: a value outside its enum");
}

template <typename Enum>
Enum parse_spelling(const std::string& field, const std::string& text) {
  for (const auto& [value, name] : table<Enum>()) {
    if (text == name) return value;
  }
  throw InvalidArgument(field + ": expected " + listed(spellings<Enum>()) + ", got '" + text + "'");
}

#define XFER_SPELLINGS(Enum)                                      \
  template std::vector<std::string> spellings<Enum>();           \
  template std::string spelling<Enum>(Enum);                     \
  template Enum parse_spelling<Enum>(const std::string&, const std::string&);
XFER_SPELLINGS(Strategy)
XFER_SPELLINGS(BatchNormPolicy)
XFER_SPELLINGS(LayerNormPolicy)
XFER_SPELLINGS(OptimizerKind)
XFER_SPELLINGS(ScheduleKind)
XFER_SPELLINGS(PrecisionChoice)
#undef XFER_SPELLINGS

void validate(const TrainConfig& c) {
  if (c.train_transform != "eval" && c.train_transform != "augment" &&
      c.train_transform != "trivial") {
    try {
      transforms::Transform::parse(c.train_transform);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(std::string("train_transform: expected eval, augment, trivial or a "
                                        "transform spec; ") +
                            e.what());
    }
  }
  check(!c.model.empty(), "model", "an architecture name", "nothing");
  check(!c.data.empty(), "data", "a dataset spec", "nothing");
  check(c.epochs >= 1, "epochs", "at least 1", std::to_string(c.epochs));
  check(c.batch_size >= 1, "batch_size", "at least 1", std::to_string(c.batch_size));
  check(c.accumulate >= 1, "accumulate", "at least 1 batch a step", std::to_string(c.accumulate));
  check(c.lr > 0, "lr", "a rate > 0", str(c.lr));
  check(c.momentum >= 0 && c.momentum < 1, "momentum", "a value in [0, 1)", str(c.momentum));
  check(!c.nesterov || c.momentum > 0, "nesterov", "momentum > 0 with Nesterov",
        "momentum " + str(c.momentum));
  check(c.weight_decay >= 0, "weight_decay", "a value >= 0", str(c.weight_decay));
  check(c.warmup_epochs >= 0 && c.warmup_epochs < static_cast<double>(c.epochs), "warmup_epochs",
        "a value in [0, epochs)", str(c.warmup_epochs));
  check(c.step_epochs >= 1, "step_epochs", "at least 1", std::to_string(c.step_epochs));
  check(c.gamma > 0, "gamma", "a factor > 0", str(c.gamma));
  check(c.label_smoothing >= 0 && c.label_smoothing < 1, "label_smoothing", "a value in [0, 1)",
        str(c.label_smoothing));
  check(c.clip_grad_norm >= 0, "clip_grad_norm", "0 (off) or a norm > 0", str(c.clip_grad_norm));
  check(c.dropout >= 0 && c.dropout < 1, "dropout", "a probability in [0, 1)", str(c.dropout));
  check(c.backbone_lr_mult > 0, "backbone_lr_mult", "a factor > 0", str(c.backbone_lr_mult));
  check(c.layer_decay > 0 && c.layer_decay <= 1, "layer_decay", "a factor in (0, 1]",
        str(c.layer_decay));
  check(c.ema_decay >= 0 && c.ema_decay < 1, "ema_decay", "a decay in [0, 1) (0: off)",
        str(c.ema_decay));
  check(c.lowest_lr_mult >= 0 && c.lowest_lr_mult <= 1, "lowest_lr_mult",
        "a factor in (0, 1] (0: off)", str(c.lowest_lr_mult));
  check(c.lowest_lr_mult == 0 || c.layer_decay == 1, "lowest_lr_mult",
        "layer_decay 1 with it (it sets each block's decay)",
        "layer_decay " + str(c.layer_decay));
  check(c.mixup_alpha >= 0, "mixup_alpha", "an alpha >= 0 (0: off)", str(c.mixup_alpha));
  check(c.cutmix_alpha >= 0, "cutmix_alpha", "an alpha >= 0 (0: off)", str(c.cutmix_alpha));
  check(c.mix_prob >= 0 && c.mix_prob <= 1, "mix_prob", "a probability in [0, 1]",
        str(c.mix_prob));
  check(c.mix_switch_prob >= 0 && c.mix_switch_prob <= 1, "mix_switch_prob",
        "a probability in [0, 1]", str(c.mix_switch_prob));
  check(c.freeze_epochs >= 0 && c.freeze_epochs < c.epochs, "freeze_epochs",
        "a count in [0, epochs)", std::to_string(c.freeze_epochs));
  check(c.strategy == Strategy::kFinetune || c.freeze_epochs == 0, "freeze_epochs",
        "0 with the features strategy", std::to_string(c.freeze_epochs));
  check(c.strategy == Strategy::kFinetune || c.unfreeze_from.empty(), "unfreeze_from",
        "nothing with the features strategy", "'" + c.unfreeze_from + "'");
  check(c.patience >= 0, "patience", "0 (off) or a count", std::to_string(c.patience));
  check(c.val_fraction > 0 && c.val_fraction < 1, "val_fraction",
        "a fraction in (0, 1) (the best epoch is chosen on it)", str(c.val_fraction));
  check(c.per_class >= 0, "per_class", "0 (all) or a count", std::to_string(c.per_class));
  check(c.test_per_class >= -1, "test_per_class", "-1 (as per_class), 0 (all) or a count",
        std::to_string(c.test_per_class));
  check(c.image_size >= 0, "image_size", "0 (the model's) or a side in pixels",
        std::to_string(c.image_size));
  if (c.image_size > 0) {
    const models::ModelInfo& info = models::find_model(c.model);
    check(c.image_size >= info.min_size, "image_size",
          "at least " + std::to_string(info.min_size) + " px for " + c.model +
              " (the smallest input it takes)",
          std::to_string(c.image_size));
    check(c.image_size % info.size_multiple == 0, "image_size",
          "a multiple of " + std::to_string(info.size_multiple) + " px for " + c.model,
          std::to_string(c.image_size));
  }
  check(c.threads >= 0, "threads", "0 (all) or a count", std::to_string(c.threads));
  check(c.workers >= 0, "workers", "0 (all) or a count", std::to_string(c.workers));
  check(!c.out.empty(), "out", "a run directory", "nothing");
}

std::string to_json(const TrainConfig& config) {
  Json json = Json::object();
  for (const auto& [name, field] : fields()) json[name] = field.get(config);
  return json.dump(2) + "\n";
}

TrainConfig apply_json(const TrainConfig& base, const std::string& json,
                       const std::string& origin) {
  TrainConfig config = base;
  apply_object(config, parse_object(json, origin), origin, {});
  return config;
}

std::vector<TrainConfig> configs_from_file_text(const TrainConfig& base, const std::string& json,
                                                const std::string& origin) {
  const Json object = parse_object(json, origin);
  TrainConfig common = base;
  apply_object(common, object, origin, {"stages"});
  if (!object.contains("stages")) return {common};
  const Json& stages = object["stages"];
  if (!stages.is_array() || stages.empty()) {
    throw InvalidArgument(origin + ": 'stages' must be a non-empty list of objects, got " +
                          stages.dump());
  }
  std::vector<TrainConfig> configs;
  for (size_t i = 0; i < stages.size(); ++i) {
    const std::string where = origin + ": stage " + std::to_string(i + 1);
    if (!stages[i].is_object()) {
      throw InvalidArgument(where + ": expected an object, got " + stages[i].dump());
    }
    TrainConfig stage = common;
    apply_object(stage, stages[i], where, {});
    configs.push_back(stage);
  }
  return configs;
}

std::vector<TrainConfig> chain_stages(std::vector<TrainConfig> stages, const std::string& root) {
  if (stages.size() == 1) {
    if (stages.front().out.empty()) stages.front().out = root;
    return stages;
  }
  for (size_t i = 0; i < stages.size(); ++i) {
    stages[i].out = root + "/stage-" + std::to_string(i + 1);
    if (i > 0) stages[i].weights = stages[i - 1].out;
  }
  return stages;
}

std::vector<std::string> preset_names() { return {"seed-features", "seed-finetune", "fine-tune"}; }

TrainConfig apply_preset(const TrainConfig& base, const std::string& name) {
  TrainConfig c = base;
  if (name == "fine-tune") {
    // fastai's fine_tune(4): its Adam with decoupled weight decay 0.01, one frozen epoch at
    // 2e-3, then 4 with the backbone's first block at 1/100 of the head's 1e-3.
    c.strategy = Strategy::kFinetune;
    c.optimizer = OptimizerKind::kAdamW;
    c.weight_decay = 0.01;
    c.lr = 1e-3;
    c.schedule = ScheduleKind::kFastai;
    c.freeze_epochs = 1;
    c.epochs = 5;
    c.backbone_lr_mult = 1.0;
    c.layer_decay = 1.0;
    c.lowest_lr_mult = 0.01;
    return c;
  }
  c.model = "resnet18";
  c.image_size = 224;
  c.optimizer = OptimizerKind::kAdam;
  c.lr = 1e-4;
  c.weight_decay = 1e-5;
  c.batch_size = 32;
  c.schedule = ScheduleKind::kConstant;
  c.train_transform = "eval";
  if (name == "seed-features") {
    c.strategy = Strategy::kFeatures;
    c.head = "mlp:512,256";
    c.dropout = 0.4;
    c.epochs = 20;
    return c;
  }
  if (name == "seed-finetune") {
    c.strategy = Strategy::kFinetune;
    c.head = "linear";
    c.dropout = 0;
    c.epochs = 30;
    c.unfreeze_from.clear();
    c.backbone_lr_mult = 1.0;
    return c;
  }
  std::string known;
  for (const auto& preset : preset_names()) known += (known.empty() ? "" : ", ") + preset;
  throw InvalidArgument("preset: unknown '" + name + "' (expected one of " + known + ")");
}

}  // namespace xfer::train
