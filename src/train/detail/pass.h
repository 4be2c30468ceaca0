#pragma once
// The loader options of one in-order pass over a rank's shard of a split, as evaluation and
// feature extraction read it.

#include "xfer/data/loader.h"

#include <cstdint>

namespace xfer::train::detail {

/// Reads shard `rank` of `ranks` in order, `batch_size` samples a batch on `workers` threads:
/// no shuffle, and the last shard not padded, so that every sample is seen exactly once.
inline data::LoaderOptions pass_options(int64_t batch_size, int64_t workers, int64_t rank,
                                        int64_t ranks, bool channels_last) {
  return data::LoaderOptions()
      .batch_size(batch_size)
      .shuffle(false)
      .shard(rank)
      .shards(ranks)
      .pad_shards(false)
      .workers(workers)
      .channels_last(channels_last);
}

}  // namespace xfer::train::detail
