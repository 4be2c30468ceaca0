#include "xfer/train/worker.h"

#include "xfer/core/cpus.h"
#include "xfer/core/runtime.h"

#include <algorithm>

namespace xfer::train {

TrainConfig worker_config(TrainConfig config, const dist::World& world) {
  const int64_t machine = static_cast<int64_t>(usable_cpus());
  const int64_t share = std::max<int64_t>(1, machine / std::max<int64_t>(1, world.local_size));
  if (config.threads == 0) config.threads = share;
  if (config.workers == 0) config.workers = share;
  if (parse_device(config.device).is_cuda() && config.device.find(':') == std::string::npos) {
    config.device = "cuda:" + std::to_string(world.local_rank);
  }
  return config;
}

}  // namespace xfer::train
