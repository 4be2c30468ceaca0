// The downloader against a local HTTP server: cache, checksums, atomicity, retries, mirrors.

#include "support/http_server.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/download/digest.h"
#include "xfer/download/fetch.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>

namespace {

namespace download = xfer::download;
using xfer::testing::LocalHttpServer;
using xfer::testing::temp_dir;

// Sets (or, with nullopt, unsets) an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

void write_file(const std::filesystem::path& file, const std::string& content) {
  std::ofstream(file, std::ios::binary) << content;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<std::string> entries(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  if (!std::filesystem::exists(dir)) return names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

// Runs `body`, expecting an exception of type E whose message contains every one of `parts`.
template <typename E, typename F>
void expect_error(F body, const std::vector<std::string>& parts) {
  try {
    body();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& error) {
    const std::string message = error.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

// 300 kB of seeded noise: several network reads, so progress is reported more than once.
std::string payload() {
  std::mt19937 random(7);
  std::string bytes(300 * 1000, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random() & 0xff);
  return bytes;
}

class Fetch : public ::testing::Test {
 protected:
  Fetch()
      : served_(temp_dir("served")),
        cache_(temp_dir("cache") / "xfer"),
        home_("XFER_HOME", cache_.string()),
        mirror_("XFER_WEIGHTS_MIRROR", std::nullopt),
        server_(served_) {
    write_file(served_ / "payload.bin", content_);
    sha256_ = download::sha256_file(served_ / "payload.bin");
  }

  download::Request request(const std::string& path) const {
    return {server_.url(path), sha256_.substr(0, 8), "", ""};
  }

  const std::string content_ = payload();
  std::filesystem::path served_;
  std::filesystem::path cache_;
  ScopedEnv home_;
  ScopedEnv mirror_;
  LocalHttpServer server_;
  std::string sha256_;
};

TEST(Digest, KnownValues) {
  const auto file = temp_dir("digest") / "abc";
  write_file(file, "abc");
  EXPECT_EQ(download::sha256_file(file),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(download::md5_file(file), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Digest, MissingFileIsAnIoErrorNamingIt) {
  const auto file = temp_dir("digest") / "absent.bin";
  expect_error<xfer::IoError>([&] { download::sha256_file(file); }, {file.string(), "cannot open"});
  expect_error<xfer::IoError>([&] { download::md5_file(file); }, {file.string()});
}

TEST(CacheDir, XferHomeThenXdgCacheHomeThenHome) {
  ScopedEnv xfer_home("XFER_HOME", "/tmp/a");
  ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/b");
  ScopedEnv home("HOME", "/tmp/c");
  EXPECT_EQ(download::cache_dir(), "/tmp/a");
  {
    ScopedEnv unset("XFER_HOME", std::nullopt);
    EXPECT_EQ(download::cache_dir(), "/tmp/b/xfer");
    {
      ScopedEnv relative("XDG_CACHE_HOME", "relative/cache");  // the XDG spec ignores these
      EXPECT_EQ(download::cache_dir(), "/tmp/c/.cache/xfer");
    }
    ScopedEnv empty("XDG_CACHE_HOME", "");
    EXPECT_EQ(download::cache_dir(), "/tmp/c/.cache/xfer");
  }
}

TEST(CacheDir, NoVariableAtAllIsAnIoError) {
  ScopedEnv xfer_home("XFER_HOME", std::nullopt);
  ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
  ScopedEnv home("HOME", std::nullopt);
  expect_error<xfer::IoError>([] { download::cache_dir(); }, {"XFER_HOME", "HOME"});
}

TEST_F(Fetch, DownloadsIntoTheCacheAndReusesIt) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> reports;
  const auto file = download::fetch(
      request("payload.bin"),
      [&](std::uint64_t done, std::uint64_t total) { reports.emplace_back(done, total); });
  EXPECT_EQ(file, cache_ / "payload.bin");
  EXPECT_EQ(read_file(file), content_);
  EXPECT_EQ(entries(cache_), std::vector<std::string>{"payload.bin"});
  ASSERT_GE(reports.size(), 2u);
  EXPECT_EQ(reports.back().first, content_.size());
  EXPECT_EQ(reports.back().second, content_.size());
  EXPECT_EQ(server_.requests("/payload.bin"), 1);

  bool reported = false;
  EXPECT_EQ(download::fetch(request("payload.bin"), [&](auto, auto) { reported = true; }), file);
  EXPECT_EQ(server_.requests(), 1) << "the second fetch must come from the cache";
  EXPECT_FALSE(reported);
}

TEST_F(Fetch, AcceptsAFullUppercaseSha256AndAnMd5) {
  auto by_sha = request("payload.bin");
  by_sha.sha256 = sha256_;
  for (auto& c : by_sha.sha256) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(read_file(download::fetch(by_sha)), content_);

  auto by_md5 = request("payload.bin");
  by_md5.sha256.clear();
  by_md5.md5 = download::md5_file(served_ / "payload.bin");
  by_md5.file_name = "by-md5.bin";
  EXPECT_EQ(read_file(download::fetch(by_md5)), content_);
  EXPECT_EQ(server_.requests("/payload.bin"), 2);
}

TEST_F(Fetch, ReplacesACorruptCachedCopy) {
  std::filesystem::create_directories(cache_);
  write_file(cache_ / "payload.bin", "not the weights");
  EXPECT_EQ(read_file(download::fetch(request("payload.bin"))), content_);
  EXPECT_EQ(server_.requests("/payload.bin"), 1);
}

TEST_F(Fetch, NotFoundIsAnIoErrorAndIsNotRetried) {
  const auto missing = request("absent.bin");
  expect_error<xfer::IoError>([&] { download::fetch(missing, {}, 3); },
                              {missing.url, "HTTP status 404"});
  EXPECT_EQ(server_.requests("/absent.bin"), 1);
  EXPECT_TRUE(entries(cache_).empty());
}

TEST_F(Fetch, TruncatedTransferLeavesNothing) {
  const auto cut = request("truncated/payload.bin");
  const std::string half = std::to_string(content_.size() / 2);
  const std::string whole = std::to_string(content_.size());
  expect_error<xfer::IoError>([&] { download::fetch(cut, {}, 0); },
                              {cut.url, "cut short", "got " + half + " bytes of " + whole});
  EXPECT_TRUE(entries(cache_).empty());
  expect_error<xfer::IoError>([&] { download::fetch(cut, {}, 1); },
                              {"cut short", "gave up after 2 attempts"});
  EXPECT_EQ(server_.requests("/truncated/payload.bin"), 3);
  EXPECT_TRUE(entries(cache_).empty());
}

TEST_F(Fetch, WrongHashNamesBothAndLeavesNothing) {
  auto wrong = request("payload.bin");
  wrong.sha256 = "0123456789abcdef";
  expect_error<xfer::IoError>(
      [&] { download::fetch(wrong, {}, 3); },
      {wrong.url, "SHA-256 mismatch", "got " + sha256_, "expected 0123456789abcdef"});
  EXPECT_EQ(server_.requests("/payload.bin"), 1) << "a wrong file is not retried";
  EXPECT_TRUE(entries(cache_).empty());

  auto wrong_md5 = request("payload.bin");
  wrong_md5.sha256.clear();
  wrong_md5.md5 = std::string(32, 'a');
  expect_error<xfer::IoError>([&] { download::fetch(wrong_md5); },
                              {"MD5 mismatch", "expected " + std::string(32, 'a')});
  EXPECT_TRUE(entries(cache_).empty());
}

TEST_F(Fetch, RetriesAServerErrorAndATruncationThenSucceeds) {
  EXPECT_EQ(read_file(download::fetch(request("fail-once/payload.bin"), {}, 3)), content_);
  EXPECT_EQ(server_.requests("/fail-once/payload.bin"), 2);
  std::filesystem::remove(cache_ / "payload.bin");
  EXPECT_EQ(read_file(download::fetch(request("truncate-once/payload.bin"), {}, 1)), content_);
  EXPECT_EQ(server_.requests("/truncate-once/payload.bin"), 2);
  EXPECT_EQ(entries(cache_), std::vector<std::string>{"payload.bin"});
}

TEST_F(Fetch, GivesUpWhenTheServerKeepsFailing) {
  const auto failing = request("status/503/payload.bin");
  expect_error<xfer::IoError>([&] { download::fetch(failing, {}, 2); },
                              {failing.url, "HTTP status 503", "gave up after 3 attempts"});
  EXPECT_EQ(server_.requests("/status/503/payload.bin"), 3);
  EXPECT_TRUE(entries(cache_).empty());
}

TEST_F(Fetch, ConnectionRefusedIsAnIoErrorNamingTheAddress) {
  download::Request refused{"http://127.0.0.1:1/payload.bin", sha256_, "", ""};
  expect_error<xfer::IoError>([&] { download::fetch(refused, {}, 0); },
                              {"http://127.0.0.1:1/payload.bin"});
  EXPECT_TRUE(entries(cache_).empty());
}

TEST_F(Fetch, MirrorVariableReplacesTheOfficialAddress) {
  const download::Request official{"http://official.invalid/models/payload.bin", sha256_, "", ""};
  {
    ScopedEnv mirror("XFER_WEIGHTS_MIRROR", server_.base_url() + "/");
    EXPECT_EQ(read_file(download::fetch(official)), content_);
  }
  EXPECT_EQ(server_.requests("/payload.bin"), 1);
  std::filesystem::remove(cache_ / "payload.bin");
  {
    ScopedEnv mirror("XFER_WEIGHTS_MIRROR", served_.string());  // a plain local folder
    EXPECT_EQ(read_file(download::fetch(official)), content_);
  }
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(Fetch, UrlOverrideBeatsTheMirror) {
  ScopedEnv mirror("XFER_WEIGHTS_MIRROR", "http://127.0.0.1:1");
  const download::Request official{"http://official.invalid/payload.bin", sha256_, "", ""};
  EXPECT_EQ(read_file(download::fetch(official, {}, 1, server_.url("fail-once/payload.bin"))),
            content_);
  EXPECT_EQ(server_.requests("/fail-once/payload.bin"), 2);
}

TEST_F(Fetch, AProgressCallbackThatThrowsAbortsAndLeavesNothing) {
  const auto throwing = [](std::uint64_t, std::uint64_t) { throw std::runtime_error("stop"); };
  EXPECT_THROW(download::fetch(request("payload.bin"), throwing), std::runtime_error);
  EXPECT_TRUE(entries(cache_).empty());
}

TEST_F(Fetch, BadRequestsAreInvalidArgumentsBeforeAnyTransfer) {
  auto none = request("payload.bin");
  none.sha256.clear();
  expect_error<xfer::InvalidArgument>([&] { download::fetch(none); }, {"no checksum given"});
  auto short_sha = request("payload.bin");
  short_sha.sha256 = "12fca8";
  expect_error<xfer::InvalidArgument>([&] { download::fetch(short_sha); },
                                      {"'12fca8'", "expected 8 to 64 hex digits"});
  auto not_hex = request("payload.bin");
  not_hex.sha256 = "12fca82z";
  expect_error<xfer::InvalidArgument>([&] { download::fetch(not_hex); }, {"'12fca82z'"});
  auto bad_md5 = request("payload.bin");
  bad_md5.md5 = "c32a1d4a";
  expect_error<xfer::InvalidArgument>([&] { download::fetch(bad_md5); },
                                      {"'c32a1d4a'", "expected 32 hex digits"});
  auto no_name = request("models/");
  expect_error<xfer::InvalidArgument>([&] { download::fetch(no_name); },
                                      {"cannot cache it as ''", "plain file name"});
  auto escaping = request("payload.bin");
  escaping.file_name = "../payload.bin";
  expect_error<xfer::InvalidArgument>([&] { download::fetch(escaping); }, {"'../payload.bin'"});
  expect_error<xfer::InvalidArgument>([&] { download::fetch(request("payload.bin"), {}, -1); },
                                      {"retries must be 0 or more, got -1"});
  EXPECT_EQ(server_.requests(), 0);
  EXPECT_FALSE(std::filesystem::exists(cache_));
}

TEST_F(Fetch, UnwritableCacheIsAnIoError) {
  const auto blocker = temp_dir("blocked") / "file";
  write_file(blocker, "a file where the cache folder should be");
  ScopedEnv home("XFER_HOME", (blocker / "cache").string());
  expect_error<xfer::IoError>([&] { download::fetch(request("payload.bin")); },
                              {"cannot create the cache folder", (blocker / "cache").string()});
  EXPECT_EQ(server_.requests(), 0);
}

}  // namespace
