// `xfer weights fetch` of the real CIFAR ResNet-20 file in ../shared/weights/cifar-resnet, served
// by a local HTTP server on 127.0.0.1 as the registry's mirror.

#include "fetch_environment.h"
#include "support/http_server.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/download/digest.h"

#include <gtest/gtest.h>

namespace {

using xfer::testing::FetchEnvironment;
using xfer::testing::LocalHttpServer;
using xfer::testing::run_xfer;
using xfer::testing::shared_dir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// As ../shared/README.md lists it; the registry holds the prefix 12fca82f.
const char* const kResnet20Sha256 =
    "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8";

TEST(WeightsCliShared, FetchDownloadsTheRealResnet20ThroughTheMirrorOnce) {
  const auto weights_dir = shared_dir() / "weights" / "cifar-resnet";
  XFER_REQUIRE_SHARED(weights_dir / "resnet20-12fca82f.th");
  LocalHttpServer server(weights_dir);
  FetchEnvironment environment(server.base_url());
  const auto cached = environment.cache() / "resnet20-12fca82f.th";

  const auto first = run_xfer({"weights", "fetch", "resnet20"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, cached.string() + "\n");
  EXPECT_TRUE(contains(first.err, "downloading resnet20-12fca82f.th")) << first.err;
  EXPECT_TRUE(contains(first.err, "1.1 MB of 1.1 MB (100%)")) << first.err;
  EXPECT_EQ(xfer::download::sha256_file(cached), kResnet20Sha256);

  const auto second = run_xfer({"weights", "fetch", "resnet20:CIFAR10"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
  EXPECT_TRUE(second.err.empty()) << second.err;
  EXPECT_EQ(server.requests(), 1) << "the second fetch must come from the cache";

  const auto inspected = run_xfer({"weights", "inspect", cached.string()});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_TRUE(contains(inspected.out, "pth-legacy")) << inspected.out;
  EXPECT_TRUE(contains(inspected.out, "best_prec1")) << inspected.out;
}

TEST(WeightsCliShared, FetchUsesWeightsUrlAndRetriesItsFirstFailure) {
  const auto weights_dir = shared_dir() / "weights" / "cifar-resnet";
  XFER_REQUIRE_SHARED(weights_dir / "resnet20-12fca82f.th");
  LocalHttpServer server(weights_dir);
  FetchEnvironment environment("");
  const auto result = run_xfer({"weights", "fetch", "resnet20", "--weights-url",
                                server.url("fail-once/resnet20-12fca82f.th")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(server.requests("/fail-once/resnet20-12fca82f.th"), 2);
  EXPECT_EQ(xfer::download::sha256_file(environment.cache() / "resnet20-12fca82f.th"),
            kResnet20Sha256);
}

}  // namespace
