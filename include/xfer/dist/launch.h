#pragma once
// `xfer train --nproc N`: N worker processes on this machine, started the way torchrun starts
// them (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE), watched
// until all end.

#include <chrono>
#include <string>
#include <vector>

namespace xfer::dist {

/// How the workers are started and stopped.
struct LaunchOptions {
  /// Worker processes.
  int nproc = 1;
  /// After one worker fails, how long the others may take to stop on their own (they notice the
  /// lost peer, or their collectives time out) before they are terminated.
  std::chrono::seconds grace{30};
};

/// Runs `program` with `args` (argv[1...]) in `options.nproc` processes, rank r of nproc with
/// MASTER_ADDR 127.0.0.1 and MASTER_PORT from the environment or else a free port. Each worker
/// dies with the launcher (PR_SET_PDEATHSIG). Returns 0 when every worker exited 0, else the
/// status of the first that failed (128 + signal for one killed by a signal). Throws IoError when
/// a process cannot be started.
int launch_local(const std::string& program, const std::vector<std::string>& args,
                 const LaunchOptions& options);

}  // namespace xfer::dist
