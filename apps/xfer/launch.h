#pragma once
// `xfer train --nproc N`: N worker processes on this machine, started the way torchrun starts
// them (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE), watched
// until all end. The program's job, not the library's: it starts processes and prints.

#include <chrono>
#include <string>
#include <vector>

namespace xfer::cli {

/// How the workers are started and stopped.
struct LaunchOptions {
  /// Worker processes.
  int nproc = 1;
  /// After one worker fails, how long the others may take to stop on their own (they notice the
  /// lost peer, or their collectives time out) before they are terminated.
  std::chrono::seconds grace{30};
};

/// Runs `executable` with `argv` (argv[0] first) in `options.nproc` processes, rank r of nproc
/// with MASTER_ADDR 127.0.0.1 and MASTER_PORT from the environment or else a free port. Each
/// worker dies with the launcher (PR_SET_PDEATHSIG); only these workers are waited for. Returns 0
/// when every worker exited 0, else the status of the first that failed (128 + signal for one
/// killed by a signal). Throws IoError when a process cannot be started.
int launch_local(const std::string& executable, const std::vector<std::string>& argv,
                 const LaunchOptions& options);

}  // namespace xfer::cli
