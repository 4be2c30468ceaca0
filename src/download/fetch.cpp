#include "xfer/download/fetch.h"

#include "detail/hasher.h"
#include "xfer/core/error.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

namespace xfer::download {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// One checksum the downloaded bytes must have.
struct Check {
  detail::Algorithm algorithm;
  const char* label;
  std::string expected;  // lowercase hex, possibly a prefix

  bool matches(const std::string& got) const {
    return got.compare(0, expected.size(), expected) == 0;
  }
};

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool is_hex(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::vector<Check> checks_of(const Request& request) {
  const std::string where = "download: " + request.url + ": ";
  if (request.sha256.empty() && request.md5.empty()) {
    throw InvalidArgument(where +
                          "no checksum given; expected a SHA-256 (64 hex digits, or a prefix of "
                          "at least 8) or an MD5 (32 hex digits)");
  }
  std::vector<Check> checks;
  if (!request.sha256.empty()) {
    const auto& sha = request.sha256;
    if (!is_hex(sha) || sha.size() < 8 || sha.size() > 64) {
      throw InvalidArgument(where + "SHA-256 '" + sha +
                            "' is not a SHA-256; expected 8 to 64 hex digits");
    }
    checks.push_back({detail::Algorithm::kSha256, "SHA-256", lowercase(sha)});
  }
  if (!request.md5.empty()) {
    const auto& md5 = request.md5;
    if (!is_hex(md5) || md5.size() != 32) {
      throw InvalidArgument(where + "MD5 '" + md5 + "' is not an MD5; expected 32 hex digits");
    }
    checks.push_back({detail::Algorithm::kMd5, "MD5", lowercase(md5)});
  }
  return checks;
}

std::string file_name_of(const Request& request) {
  std::string name = request.file_name;
  if (name.empty()) {
    const std::string path = request.url.substr(0, request.url.find_first_of("?#"));
    name = path.substr(path.rfind('/') + 1);
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    throw InvalidArgument("download: " + request.url + ": cannot cache it as '" + name +
                          "'; expected a plain file name (give Request::file_name)");
  }
  return name;
}

std::string address_of(const Request& request, const std::string& file_name,
                       const std::string& url_override) {
  if (!url_override.empty()) return url_override;
  std::string mirror = environment("XFER_WEIGHTS_MIRROR");
  if (mirror.empty()) return request.url;
  while (mirror.size() > 1 && mirror.back() == '/') mirror.pop_back();
  if (mirror.front() == '/') mirror = "file://" + mirror;  // a local folder
  return mirror + "/" + file_name;
}

bool cached_copy_matches(const std::filesystem::path& file, const std::vector<Check>& checks) {
  return std::all_of(checks.begin(), checks.end(), [&](const Check& check) {
    return check.matches(detail::hash_file(file, check.algorithm));
  });
}

void initialise_curl() {
  static const CURLcode status = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (status != CURLE_OK) {
    throw IoError(std::string("download: libcurl cannot start: ") + curl_easy_strerror(status));
  }
}

// A temporary file next to the cache entry, removed unless it was renamed into place.
class PartFile {
 public:
  explicit PartFile(const std::filesystem::path& target) {
    std::string pattern = target.string() + ".part-XXXXXX";
    const int fd = mkstemp(pattern.data());
    if (fd < 0) {
      throw IoError("download: cannot create a temporary file beside " + target.string() + ": " +
                    std::strerror(errno));
    }
    path_ = pattern;
    file_ = fdopen(fd, "wb");
    if (file_ == nullptr) {
      ::close(fd);
      std::filesystem::remove(path_);
      throw IoError("download: cannot open " + path_.string() + ": " + std::strerror(errno));
    }
  }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  ~PartFile() {
    if (file_ != nullptr) std::fclose(file_);
    std::error_code ignored;
    if (!renamed_) std::filesystem::remove(path_, ignored);
  }

  std::FILE* stream() const { return file_; }

  /// Flushes and syncs the content to disk and closes the file. Throws IoError.
  void finish() {
    const bool flushed = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    const int error = errno;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!flushed || !closed) {
      throw IoError("download: cannot write " + path_.string() + ": " +
                    std::strerror(flushed ? errno : error));
    }
  }

  /// Renames the finished file to `target` and syncs the folder. Throws IoError.
  void rename_to(const std::filesystem::path& target) {
    std::error_code error;
    std::filesystem::rename(path_, target, error);
    if (error) {
      throw IoError("download: cannot rename " + path_.string() + " to " + target.string() + ": " +
                    error.message());
    }
    renamed_ = true;
    const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
      fsync(dir);
      ::close(dir);
    }
  }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  bool renamed_ = false;
};

// What the curl callbacks share with the attempt that set them up.
struct Transfer {
  std::FILE* file = nullptr;
  std::vector<detail::Hasher> hashers;
  const Progress* progress = nullptr;
  std::uint64_t done = 0;
  curl_off_t reported_done = -1;
  curl_off_t reported_total = -1;
  std::string write_error;
  std::exception_ptr progress_error;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, transfer.file) != bytes) {
    transfer.write_error = std::strerror(errno);
    return 0;
  }
  for (auto& hasher : transfer.hashers) hasher.update(data, bytes);
  transfer.done += bytes;
  return bytes;
}

int on_progress(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto& transfer = *static_cast<Transfer*>(user);
  if (!*transfer.progress || (done == transfer.reported_done && total == transfer.reported_total)) {
    return 0;
  }
  transfer.reported_done = done;
  transfer.reported_total = total;
  try {
    (*transfer.progress)(static_cast<std::uint64_t>(done), static_cast<std::uint64_t>(total));
  } catch (...) {
    transfer.progress_error = std::current_exception();
    return 1;
  }
  return 0;
}

// How one attempt ended when it did not deliver the file.
struct Failure {
  std::string what;
  bool transient = false;
};

bool is_transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool is_transient_status(long status) { return status >= 500 || status == 408 || status == 429; }

std::string bytes_text(std::uint64_t got, curl_off_t expected) {
  std::string text = "got " + std::to_string(got) + " bytes";
  if (expected >= 0) text += " of " + std::to_string(expected) + " expected";
  return text;
}

// Downloads `address` into `part`, hashing it; empty result on success.
std::optional<Failure> attempt(const std::string& address, PartFile& part,
                               const std::vector<Check>& checks, const Progress& progress) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Failure{"libcurl cannot create a transfer", false};
  Transfer transfer;
  transfer.file = part.stream();
  transfer.progress = &progress;
  for (const auto& check : checks) transfer.hashers.emplace_back(check.algorithm);
  char error_text[CURL_ERROR_SIZE] = "";
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, address.c_str());
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(handle, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "xfer");
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 byte/s for a minute) ends as a timeout, which is retried.
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);

  const CURLcode code = curl_easy_perform(handle);
  if (transfer.progress_error) std::rethrow_exception(transfer.progress_error);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t expected = -1;
  curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);

  if (!transfer.write_error.empty()) {
    return Failure{"cannot write to the cache: " + transfer.write_error, false};
  }
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    return Failure{"HTTP status " + std::to_string(status), is_transient_status(status)};
  }
  if (code == CURLE_PARTIAL_FILE) {
    return Failure{"transfer cut short: " + bytes_text(transfer.done, expected), true};
  }
  if (code != CURLE_OK) {
    return Failure{error_text[0] != '\0' ? error_text : curl_easy_strerror(code),
                   is_transient(code)};
  }
  if (expected >= 0 && transfer.done != static_cast<std::uint64_t>(expected)) {
    return Failure{"transfer cut short: " + bytes_text(transfer.done, expected), true};
  }
  part.finish();
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const std::string got = transfer.hashers[i].hex();
    if (!checks[i].matches(got)) {
      return Failure{std::string(checks[i].label) + " mismatch: got " + got + ", expected " +
                         checks[i].expected + " (" + std::to_string(transfer.done) +
                         " bytes received; the file at that address is not the one expected)",
                     false};
    }
  }
  return std::nullopt;
}

std::chrono::milliseconds backoff(int attempt) {
  return std::chrono::milliseconds(250 << std::min(attempt, 4));
}

}  // namespace

std::filesystem::path cache_dir() {
  const std::string home = environment("XFER_HOME");
  if (!home.empty()) return home;
  const std::string xdg = environment("XDG_CACHE_HOME");
  if (!xdg.empty() && xdg.front() == '/') return std::filesystem::path(xdg) / "xfer";
  const std::string user_home = environment("HOME");
  if (!user_home.empty()) return std::filesystem::path(user_home) / ".cache" / "xfer";
  throw IoError(
      "download: no cache folder: none of XFER_HOME, XDG_CACHE_HOME (absolute) and HOME is set");
}

std::filesystem::path fetch(const Request& request, const Progress& progress, int retries,
                            const std::string& url_override) {
  const auto checks = checks_of(request);
  const std::string file_name = file_name_of(request);
  if (retries < 0) {
    throw InvalidArgument("download: " + request.url + ": retries must be 0 or more, got " +
                          std::to_string(retries));
  }
  const auto dir = cache_dir();
  const auto target = dir / file_name;
  std::error_code error;
  if (std::filesystem::is_regular_file(target, error)) {
    if (cached_copy_matches(target, checks)) return target;
    std::filesystem::remove(target, error);
    if (error) {
      throw IoError("download: cannot remove the corrupt cached copy " + target.string() + ": " +
                    error.message());
    }
  }
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw IoError("download: cannot create the cache folder " + dir.string() + ": " +
                  error.message());
  }
  initialise_curl();
  const std::string address = address_of(request, file_name, url_override);
  for (int attempt_index = 0;; ++attempt_index) {
    PartFile part(target);
    const auto failure = attempt(address, part, checks, progress);
    if (!failure) {
      part.rename_to(target);
      return target;
    }
    if (!failure->transient || attempt_index >= retries) {
      std::string message = "download: " + address + ": " + failure->what;
      if (attempt_index > 0) {
        message += " (gave up after " + std::to_string(attempt_index + 1) + " attempts)";
      }
      throw IoError(message);
    }
    std::this_thread::sleep_for(backoff(attempt_index));
  }
}

}  // namespace xfer::download
