#pragma once
// Keeps the model fed: worker threads read, decode and transform samples into whole batches, which
// wait in a bounded queue and come out in order. What comes out depends only on (dataset,
// transform, options, epoch): never on the number of threads or on timing.

#include "xfer/data/dataset.h"
#include "xfer/transforms/transform.h"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace xfer::data {

/// How a Loader batches a dataset.
struct LoaderOptions {
  /// Samples a batch.
  TORCH_ARG(int64_t, batch_size) = 32;
  /// Visit the samples in a new seeded order each epoch (else in dataset order).
  TORCH_ARG(bool, shuffle) = true;
  /// Leave out the last batch when it is smaller than batch_size.
  TORCH_ARG(bool, drop_last) = false;
  /// Worker threads; 0 for every CPU the process may use (usable_cpus).
  TORCH_ARG(int64_t, workers) = 0;
  /// Batches that may exist at once, being built or waiting for the consumer (the batch the
  /// consumer holds is its own); 0 for two per worker. Memory stays within this × one batch.
  TORCH_ARG(int64_t, queue_depth) = 0;
  /// Seed of the shuffle and of every sample's random transform.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Lay images out as channels_last (NHWC memory, [N,3,H,W] shape).
  TORCH_ARG(bool, channels_last) = false;
  /// Load only shard `shard` of `shards` of each epoch's order (torch's DistributedSampler):
  /// positions shard, shard + shards, shard + 2 shards, ... of it.
  TORCH_ARG(int64_t, shard) = 0;
  /// Shards the order is dealt into; 1 loads all of it.
  TORCH_ARG(int64_t, shards) = 1;
  /// With shards > 1, first pad the order by repeating its start up to a multiple of shards, so
  /// that every shard has as many samples (training, as DistributedSampler does); without it the
  /// shards together hold every sample exactly once (evaluation).
  TORCH_ARG(bool, pad_shards) = true;
  /// Allocate batches in pinned (page-locked) memory for fast copies to a CUDA device; needs a
  /// LibTorch with CUDA.
  TORCH_ARG(bool, pin_memory) = false;
};

/// Shard `shard` of `shards` of `order`: its elements shard, shard + shards, ...; with `pad`,
/// of `order` first extended by repeating its start to a multiple of `shards` (LoaderOptions).
std::vector<int64_t> shard_positions(const std::vector<int64_t>& order, int64_t shard,
                                     int64_t shards, bool pad);

/// One batch of samples.
struct Batch {
  /// [N,3,H,W] float32, transformed and normalised; channels_last memory when asked.
  at::Tensor images;
  /// [N] int64 labels.
  at::Tensor labels;
  /// For each row, the sample's position in the dataset given to the loader.
  std::vector<int64_t> positions;
  /// The batch's number within its epoch, from 0.
  int64_t number = 0;
};

/// Batches of a dataset, built ahead by worker threads.
///
/// Sample k of epoch e is the dataset's position order_e[k], where order_e is the identity or a
/// permutation seeded by (seed, e); its random transform is seeded by
/// sample_seed(seed, e, dataset.source_index(position)). Batches come out in order 0, 1, ...; an
/// exception thrown while building batch b (a file that does not decode, a size that does not
/// fit) is thrown by the next() that would have returned b, and ends the epoch.
class Loader {
 public:
  /// A loader of `dataset` through `transform`. Starts no thread until start_epoch().
  /// Throws InvalidArgument for a batch_size < 1, negative workers or queue_depth, an empty
  /// dataset, or pin_memory without CUDA.
  Loader(Dataset dataset, transforms::Transform transform, LoaderOptions options = {});
  /// Stops the workers (mid-epoch too) and waits for them.
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Batches in one epoch.
  int64_t batches_per_epoch() const;
  /// Starts epoch `epoch` (any number, not necessarily the next one), abandoning the current one.
  void start_epoch(int64_t epoch);
  /// The next batch of the current epoch, or nullopt when the epoch is done (or none started).
  /// Rethrows a worker's exception at the batch it happened in.
  std::optional<Batch> next();
  /// The most batches that existed at once (built or being built, not yet taken) this epoch.
  int64_t peak_queued() const;
  /// The dataset being loaded.
  const Dataset& dataset() const { return dataset_; }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  void stop();
  void work();
  Batch build(int64_t number) const;

  Dataset dataset_;
  transforms::Transform transform_;
  LoaderOptions options_;
  int64_t workers_ = 1;
  int64_t depth_ = 2;

  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  int64_t batches_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable to_workers_;
  std::condition_variable to_consumer_;
  bool stopping_ = false;
  int64_t next_to_build_ = 0;
  int64_t next_to_take_ = 0;
  int64_t peak_ = 0;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace xfer::data
