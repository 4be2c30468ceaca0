#include "support/http_server.h"

#include "support/paths.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace xfer::testing {
namespace {

int count_lines(const std::filesystem::path& log, const std::string& path) {
  std::ifstream in(log);
  int count = 0;
  for (std::string line; std::getline(in, line);) {
    if (path.empty() || line.compare(0, path.size() + 1, path + " ") == 0) ++count;
  }
  return count;
}

}  // namespace

LocalHttpServer::LocalHttpServer(const std::filesystem::path& root)
    : log_(temp_dir("http-server") / "requests.log") {
  // A proxy set in the environment (http_proxy, ALL_PROXY) would take the requests to
  // 127.0.0.1 away from this server; libcurl, here and in every xfer the test starts, skips it.
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) throw std::runtime_error("http server: pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("http server: fork failed");
  if (pid_ == 0) {
    dup2(pipe_ends[1], 1);
    close(pipe_ends[0]);
    close(pipe_ends[1]);
    execl(XFER_PYTHON, XFER_PYTHON, XFER_HTTP_SERVER, root.c_str(), "--log", log_.c_str(),
          "--lifetime", "120", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipe_ends[1]);
  FILE* out = fdopen(pipe_ends[0], "r");
  if (out == nullptr || std::fscanf(out, "%d", &port_) != 1 || port_ <= 0) {
    if (out != nullptr) std::fclose(out);
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error(std::string("http server: ") + XFER_HTTP_SERVER + " did not start");
  }
  std::fclose(out);
}

LocalHttpServer::~LocalHttpServer() {
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
}

std::string LocalHttpServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string LocalHttpServer::url(const std::string& path) const { return base_url() + "/" + path; }

int LocalHttpServer::requests(const std::string& path) const { return count_lines(log_, path); }

int LocalHttpServer::requests() const { return count_lines(log_, ""); }

}  // namespace xfer::testing
