#pragma once
// The random numbers behind the random transforms and the loader's shuffle: a small generator with
// a fully specified output (splitmix64), so a seed means the same images on every platform, and
// seeds derived from (seed, epoch, sample) rather than from thread state.

#include <cstdint>
#include <utility>
#include <vector>

namespace xfer::transforms {

/// A seeded stream of 64-bit numbers (splitmix64) with the few distributions the transforms need.
/// Not thread-safe: give each thread, or each sample, its own.
class Rng {
 public:
  /// A stream determined by `seed` alone.
  explicit Rng(uint64_t seed) : state_(seed) {}

  /// The next 64 random bits.
  uint64_t next();

  /// Uniform in [lo, hi) (lo when lo == hi), 53 random bits.
  double uniform(double lo, double hi);

  /// Uniform integer in [lo, hi], both inclusive. Requires lo <= hi.
  int64_t integer(int64_t lo, int64_t hi);

  /// True with probability `p`.
  bool bernoulli(double p);

  /// Shuffles `values` in place (Fisher-Yates, from the last element down).
  void shuffle(std::vector<int64_t>& values);

 private:
  uint64_t state_;
};

/// Mixes a few numbers into one well-spread seed (splitmix64 finaliser over each).
uint64_t mix_seed(uint64_t a, uint64_t b);

/// The seed of sample `index`'s random transform in `epoch` of a run seeded by `seed`: the same
/// numbers give the same augmentation whatever thread or batch the sample lands in.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace xfer::transforms
