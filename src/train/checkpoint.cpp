#include "xfer/train/checkpoint.h"

#include "xfer/core/error.h"
#include "xfer/weights/pth.h"
#include "xfer/weights/load.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>
#include <torch/serialize/output-archive.h>

#include <cmath>
#include <cstring>
#include <sstream>

namespace xfer::train {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// `bytes` as a uint8 tensor [size], so a checkpoint's non-tensor parts travel as tensors.
at::Tensor bytes_tensor(const std::string& bytes) {
  auto tensor = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  return tensor;
}

std::string tensor_bytes(const at::Tensor& tensor) {
  const auto t = tensor.contiguous();
  return std::string(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()));
}

Json metrics_json(const std::vector<run::EpochMetrics>& rows) {
  Json out = Json::array();
  for (const auto& r : rows) {
    Json row = {r.epoch, r.train_loss, r.train_acc, r.val_loss, r.val_acc, r.lr, r.seconds};
    if (!std::isnan(r.ema_val_acc)) {
      row.push_back(r.ema_val_loss);
      row.push_back(r.ema_val_acc);
    }
    out.push_back(row);
  }
  return out;
}

// One row of metrics_json read back.
run::EpochMetrics metrics_row(const Json& r) {
  run::EpochMetrics row;
  row.epoch = r.at(0).get<int64_t>();
  row.train_loss = r.at(1).get<double>();
  row.train_acc = r.at(2).get<double>();
  row.val_loss = r.at(3).get<double>();
  row.val_acc = r.at(4).get<double>();
  row.lr = r.at(5).get<double>();
  row.seconds = r.at(6).get<double>();
  if (r.size() > 7) {
    row.ema_val_loss = r.at(7).get<double>();
    row.ema_val_acc = r.at(8).get<double>();
  }
  return row;
}

// `base` with the tensors of `changed` put in place of its own.
weights::StateDict overlay(const weights::StateDict& base, const weights::StateDict& changed) {
  weights::StateDict out = base;
  for (const auto& item : changed) {
    if (auto* found = out.find(item.key())) {
      *found = item.value();
    } else {
      out.insert(item.key(), item.value());
    }
  }
  return out;
}

}  // namespace

void add_moving_keys(const models::ClassifierImpl& model, std::set<std::string>& moving) {
  for (const auto& item : model.named_modules()) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(false)) {
      if (p.value().requires_grad()) moving.insert(prefix + p.key());
    }
    if (!item.value()->is_training()) continue;
    for (const auto& b : item.value()->named_buffers(false)) moving.insert(prefix + b.key());
  }
}

void write_checkpoint(const fs::path& file, models::ClassifierImpl& model,
                      torch::optim::Optimizer& optimizer, const RunState& state,
                      const std::set<std::string>& moving, int64_t world_size) {
  weights::StateDict tensors;
  for (const auto& item : weights::state_dict_of(model)) {
    if (moving.count(item.key()) == 0) continue;
    tensors.insert("model/" + item.key(), item.value().detach().to(at::kCPU));
  }
  for (const auto& item : state.best) {
    if (moving.count(item.key()) > 0) tensors.insert("best/" + item.key(), item.value());
  }
  for (const auto& item : state.ema) {
    if (moving.count(item.key()) > 0) {
      tensors.insert("ema/" + item.key(), item.value().detach().to(at::kCPU));
    }
  }
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream optimizer_bytes;
  archive.save_to(optimizer_bytes);
  tensors.insert("optimizer", bytes_tensor(optimizer_bytes.str()));
  tensors.insert("rng", at::detail::getDefaultCPUGenerator().get_state());
  const Json meta = {{"epoch", state.epoch},
                     {"step", state.step},
                     {"phase", state.phase},
                     {"stopped_early", state.stopped_early},
                     {"world_size", world_size},
                     {"metrics", metrics_json(state.rows)}};
  tensors.insert("meta", bytes_tensor(meta.dump()));
  weights::write_pth(file, tensors);
}

SavedRun read_saved_run(const run::RunDirectory& run) {
  const fs::path file = run.checkpoint();
  const auto tensors = weights::read_checkpoint(file).tensors;
  std::error_code error;
  if (!fs::exists(run.best_weights(), error)) {
    throw IoError("'" + run.root().string() +
                  "': checkpoint.pt without best.safetensors, which holds the weights training "
                  "did not change");
  }
  const weights::StateDict base = weights::read_state_dict(run.best_weights());
  const auto need = [&](const std::string& key) {
    const auto* found = tensors.find(key);
    if (found == nullptr) {
      throw FormatError(file.string() + ": not an xfer checkpoint (no '" + key + "')");
    }
    return *found;
  };
  weights::StateDict model;
  weights::StateDict best;
  weights::StateDict ema;
  for (const auto& item : tensors) {
    if (starts_with(item.key(), "model/")) model.insert(item.key().substr(6), item.value());
    if (starts_with(item.key(), "best/")) best.insert(item.key().substr(5), item.value());
    if (starts_with(item.key(), "ema/")) ema.insert(item.key().substr(4), item.value());
  }
  SavedRun saved;
  saved.model = overlay(base, model);
  saved.state.best = overlay(base, best);
  // The average of a tensor training never moved is that tensor, as best.safetensors holds it.
  if (!ema.is_empty()) saved.state.ema = overlay(base, ema);
  saved.optimizer = tensor_bytes(need("optimizer"));
  saved.rng = need("rng");
  try {
    const Json meta = Json::parse(tensor_bytes(need("meta")));
    saved.state.epoch = meta.at("epoch").get<int64_t>();
    saved.state.step = meta.at("step").get<int64_t>();
    saved.state.phase = meta.at("phase").get<int64_t>();
    saved.state.stopped_early = meta.at("stopped_early").get<bool>();
    saved.world_size = meta.value("world_size", int64_t{1});
    for (const auto& r : meta.at("metrics")) saved.state.rows.push_back(metrics_row(r));
  } catch (const Json::exception& e) {
    throw FormatError(file.string() + ": damaged checkpoint metadata: " + e.what());
  }
  return saved;
}

}  // namespace xfer::train
