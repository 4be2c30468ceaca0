#pragma once
// How many CPUs this process may use.

namespace xfer {

/// The CPUs this process may run on: its affinity mask (`taskset`, a container's cpuset), which
/// can be fewer than the machine has; at least 1. What "0 = every hardware thread" means for
/// intra-op threads, loader workers and decoding threads.
int usable_cpus();

}  // namespace xfer
