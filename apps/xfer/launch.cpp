#include "launch.h"

#include "xfer/core/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace xfer::cli {
namespace {

// A port nothing listens on now (the kernel's choice for port 0 on 127.0.0.1).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw IoError(std::string("launcher: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) throw IoError(std::string("launcher: cannot find a free port: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int launch_local(const std::string& executable, const std::vector<std::string>& argv,
                 const LaunchOptions& options) {
  if (argv.empty()) throw std::logic_error("launch_local: argv needs argv[0]");
  const char* given_port = std::getenv("MASTER_PORT");
  const std::string port = given_port != nullptr && *given_port != '\0'
                               ? std::string(given_port)
                               : std::to_string(free_port());
  std::vector<pid_t> workers;
  for (int rank = 0; rank < options.nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t w : workers) ::kill(w, SIGTERM);
      throw IoError(std::string("launcher: cannot start a worker: ") + std::strerror(errno));
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(options.nproc).c_str(), 1);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(options.nproc).c_str(), 1);
      std::vector<char*> pointers;
      for (const auto& a : argv) pointers.push_back(const_cast<char*>(a.c_str()));
      pointers.push_back(nullptr);
      ::execv(executable.c_str(), pointers.data());
      std::cerr << "error: launcher: cannot run " << executable << ": " << std::strerror(errno)
                << "\n";
      ::_exit(127);
    }
    workers.push_back(pid);
  }
  int first_failure = 0;
  size_t running = workers.size();
  auto deadline = std::chrono::steady_clock::time_point::max();
  bool terminated = false;
  while (running > 0) {
    // Each worker by its pid: a host process's other children are not ours to reap.
    for (pid_t& w : workers) {
      if (w == 0) continue;
      int status = 0;
      const pid_t pid = ::waitpid(w, &status, WNOHANG);
      if (pid == 0 || (pid < 0 && errno == EINTR)) continue;
      w = 0;  // ended (or, pid < 0, no longer a child of ours: ECHILD)
      --running;
      const int code = pid > 0 ? status_code(status) : 1;
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        deadline = std::chrono::steady_clock::now() + options.grace;
      }
    }
    if (running == 0) break;
    if (std::chrono::steady_clock::now() > deadline && !terminated) {
      std::cerr << "launcher: stopping the " << running << " worker(s) still running "
                << options.grace.count() << " s after the first failure\n";
      for (pid_t w : workers) {
        if (w != 0) ::kill(w, SIGTERM);
      }
      terminated = true;
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    } else if (terminated && std::chrono::steady_clock::now() > deadline) {
      for (pid_t w : workers) {
        if (w != 0) ::kill(w, SIGKILL);
      }
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return first_failure;
}

}  // namespace xfer::cli
