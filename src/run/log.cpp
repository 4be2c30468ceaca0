#include "xfer/run/log.h"

#include "xfer/core/error.h"

namespace xfer::run {

RunLog::RunLog(std::function<void(const std::string&)> sink) : sink_(std::move(sink)) {}

void RunLog::open(const std::filesystem::path& file) {
  out_.open(file, std::ios::app);
  if (!out_) throw IoError("cannot write '" + file.string() + "'");
  for (const auto& line : pending_) out_ << line << '\n';
  pending_.clear();
  out_.flush();
}

void RunLog::without_file() {
  pending_.clear();
  discard_ = true;
}

void RunLog::operator()(const std::string& line) {
  if (sink_) sink_(line);
  if (discard_) return;
  if (!out_.is_open()) {
    pending_.push_back(line);
    return;
  }
  out_ << line << '\n';
  out_.flush();
}

}  // namespace xfer::run
