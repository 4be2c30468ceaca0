#pragma once
// What a process of a data-parallel job on one machine trains with: its share of the machine.

#include "xfer/dist/group.h"
#include "xfer/train/config.h"

namespace xfer::train {

/// `config` for the process `world` describes, which shares its machine with world.local_size
/// others: threads and loader workers 0 ("all") become its share of the CPUs it may use
/// (usable_cpus / local_size, at least 1), and a device that means CUDA without an index (`cuda`,
/// or `auto` where CUDA is there) becomes cuda:local_rank. Fields set to anything else are kept.
TrainConfig worker_config(TrainConfig config, const dist::World& world);

}  // namespace xfer::train
