#include "xfer/data/loader.h"

#include "xfer/core/cpus.h"
#include "xfer/core/error.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include <algorithm>
#include <numeric>

namespace xfer::data {

Loader::Loader(Dataset dataset, transforms::Transform transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), options_(options) {
  if (options_.batch_size() < 1) {
    throw InvalidArgument("loader: expected batch_size >= 1, got " +
                          std::to_string(options_.batch_size()));
  }
  if (options_.workers() < 0 || options_.queue_depth() < 0) {
    throw InvalidArgument(
        "loader: expected workers and queue_depth >= 0 (0 for the default), got " +
        std::to_string(options_.workers()) + " and " + std::to_string(options_.queue_depth()));
  }
  if (options_.shards() < 1 || options_.shard() < 0 || options_.shard() >= options_.shards()) {
    throw InvalidArgument("loader: expected 0 <= shard < shards, got shard " +
                          std::to_string(options_.shard()) + " of " +
                          std::to_string(options_.shards()));
  }
  if (dataset_.empty()) {
    throw InvalidArgument("loader: expected a dataset with at least one sample, got an empty " +
                          dataset_.name() + " split");
  }
  if (options_.pin_memory() && !at::hasCUDA()) {
    throw InvalidArgument("loader: pin_memory needs a LibTorch with CUDA, and this one has none");
  }
  workers_ = options_.workers() > 0
                 ? options_.workers()
                 : static_cast<int64_t>(usable_cpus());
  depth_ = options_.queue_depth() > 0 ? options_.queue_depth() : 2 * workers_;
}

Loader::~Loader() { stop(); }

std::vector<int64_t> shard_positions(const std::vector<int64_t>& order, int64_t shard,
                                     int64_t shards, bool pad) {
  const auto n = static_cast<int64_t>(order.size());
  const int64_t total = pad && n > 0 ? (n + shards - 1) / shards * shards : n;
  std::vector<int64_t> out;
  for (int64_t k = shard; k < total; k += shards) out.push_back(order[static_cast<size_t>(k % n)]);
  return out;
}

int64_t Loader::batches_per_epoch() const {
  const int64_t all = dataset_.size();
  const int64_t shards = options_.shards();
  const int64_t n = options_.pad_shards() ? (all + shards - 1) / shards
                                          : (all - options_.shard() + shards - 1) / shards;
  const int64_t b = options_.batch_size();
  return options_.drop_last() ? n / b : (n + b - 1) / b;
}

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  to_workers_.notify_all();
  to_consumer_.notify_all();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void Loader::start_epoch(int64_t epoch) {
  stop();
  order_.resize(static_cast<size_t>(dataset_.size()));
  std::iota(order_.begin(), order_.end(), 0);
  if (options_.shuffle()) {
    transforms::Rng rng(transforms::mix_seed(options_.seed(), static_cast<uint64_t>(epoch)));
    rng.shuffle(order_);
  }
  if (options_.shards() > 1) {
    order_ = shard_positions(order_, options_.shard(), options_.shards(), options_.pad_shards());
  }
  epoch_ = epoch;
  batches_ = batches_per_epoch();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    next_to_build_ = 0;
    next_to_take_ = 0;
    peak_ = 0;
    ready_.clear();
  }
  const int64_t threads = std::min(workers_, batches_);
  for (int64_t t = 0; t < threads; ++t) threads_.emplace_back([this] { work(); });
}

void Loader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    // A batch is started only while fewer than depth_ batches wait for the consumer or are being
    // built: a slow consumer stalls the workers instead of growing the queue.
    to_workers_.wait(lock, [this] {
      return stopping_ || next_to_build_ >= batches_ || next_to_build_ < next_to_take_ + depth_;
    });
    if (stopping_ || next_to_build_ >= batches_) return;
    const int64_t number = next_to_build_++;
    peak_ = std::max(peak_, next_to_build_ - next_to_take_);
    lock.unlock();
    Slot slot;
    try {
      slot.batch = build(number);
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    ready_[number] = std::move(slot);
    to_consumer_.notify_all();
  }
}

Batch Loader::build(int64_t number) const {
  const int64_t begin = number * options_.batch_size();
  const int64_t end =
      std::min<int64_t>(begin + options_.batch_size(), static_cast<int64_t>(order_.size()));
  std::vector<transforms::Image> images;
  std::vector<uint64_t> seeds;
  Batch batch;
  batch.number = number;
  batch.labels = at::empty({end - begin}, at::kLong);
  auto* labels = batch.labels.data_ptr<int64_t>();
  for (int64_t k = begin; k < end; ++k) {
    const int64_t position = order_[static_cast<size_t>(k)];
    const uint64_t seed =
        transforms::sample_seed(options_.seed(), epoch_, dataset_.source_index(position));
    images.push_back(transform_.augment(dataset_.image(position), seed));
    seeds.push_back(seed);
    const auto& first = images.front();
    const auto& last = images.back();
    if (last.height != first.height || last.width != first.width) {
      throw InvalidArgument("loader: sample " + std::to_string(position) + " of " +
                            dataset_.name() + " is " + std::to_string(last.height) + "x" +
                            std::to_string(last.width) +
                            " after the transform, but the batch's "
                            "first is " +
                            std::to_string(first.height) + "x" + std::to_string(first.width) +
                            " (expected one size: end the transform with a crop or resize=HxW)");
    }
    labels[k - begin] = dataset_.label(position);
    batch.positions.push_back(position);
  }
  const int64_t h = images.front().height;
  const int64_t w = images.front().width;
  auto options = at::TensorOptions().dtype(at::kFloat).pinned_memory(options_.pin_memory());
  if (options_.channels_last()) {
    batch.images =
        at::empty({end - begin, 3, h, w}, options.memory_format(at::MemoryFormat::ChannelsLast));
  } else {
    batch.images = at::empty({end - begin, 3, h, w}, options);
  }
  float* out = batch.images.data_ptr<float>();
  for (size_t i = 0; i < images.size(); ++i) {
    transform_.write_tensor(images[i], out + i * static_cast<size_t>(3 * h * w),
                            options_.channels_last(), seeds[i]);
  }
  return batch;
}

std::optional<Batch> Loader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (threads_.empty() || next_to_take_ >= batches_) return std::nullopt;
  to_consumer_.wait(lock, [this] { return stopping_ || ready_.count(next_to_take_) > 0; });
  if (stopping_) return std::nullopt;
  auto found = ready_.find(next_to_take_);
  Slot slot = std::move(found->second);
  ready_.erase(found);
  ++next_to_take_;
  if (slot.error) {
    // The epoch ends at the failed batch: later batches would skip samples silently.
    next_to_take_ = batches_;
    stopping_ = true;
    lock.unlock();
    to_workers_.notify_all();
    std::rethrow_exception(slot.error);
  }
  lock.unlock();
  to_workers_.notify_all();
  return std::move(slot.batch);
}

int64_t Loader::peak_queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peak_;
}

}  // namespace xfer::data
