#include "xfer/transforms/random.h"

namespace xfer::transforms {
namespace {

uint64_t finalise(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t Rng::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return finalise(state_);
}

double Rng::uniform(double lo, double hi) {
  const double unit = static_cast<double>(next() >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * unit;
}

int64_t Rng::integer(int64_t lo, int64_t hi) {
  const auto range = static_cast<uint64_t>(hi - lo) + 1;
  if (range == 0) return static_cast<int64_t>(next());  // the whole 64-bit range
  // Lemire's multiply-shift: unbiased enough for image offsets and shuffles (range << 2^64).
  const auto product = static_cast<unsigned __int128>(next()) * range;
  return lo + static_cast<int64_t>(product >> 64);
}

bool Rng::bernoulli(double p) { return uniform(0.0, 1.0) < p; }

void Rng::shuffle(std::vector<int64_t>& values) {
  for (auto i = static_cast<int64_t>(values.size()) - 1; i > 0; --i) {
    std::swap(values[static_cast<size_t>(i)], values[static_cast<size_t>(integer(0, i))]);
  }
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  return finalise(finalise(a + 0x9e3779b97f4a7c15ULL) ^ (b + 0x632be59bd9b4e019ULL));
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return mix_seed(mix_seed(seed, static_cast<uint64_t>(epoch)), static_cast<uint64_t>(index));
}

}  // namespace xfer::transforms
