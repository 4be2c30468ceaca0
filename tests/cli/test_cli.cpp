// The xfer program as a user meets it: exit codes, and what it prints.

#include "support/process.h"
#include "xfer/core/runtime.h"
#include "xfer/models/registry.h"

#include <gtest/gtest.h>

namespace {

using xfer::testing::run_xfer;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Cli, HelpListsTheCommands) {
  const auto result = run_xfer({"--help"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "models")) << result.out;
  EXPECT_TRUE(contains(result.out, "forward")) << result.out;
  EXPECT_TRUE(contains(result.out, "Exit codes")) << result.out;
}

TEST(Cli, NoCommandIsAUsageError) {
  const auto result = run_xfer({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "subcommand")) << result.err;
}

TEST(Cli, EveryCommandExplainsItself) {
  for (const std::string command : {"models", "forward", "classify"}) {
    const auto result = run_xfer({command, "--help"});
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.err;
    EXPECT_TRUE(contains(result.out, "--threads")) << command << ": " << result.out;
  }
}

TEST(Cli, ModelsListsEveryModelOfTheRegistry) {
  const auto result = run_xfer({"models"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const auto& info : xfer::models::all_models()) {
    EXPECT_TRUE(contains(result.out, info.name + " ")) << info.name << "\n" << result.out;
    EXPECT_TRUE(contains(result.out, info.head_path)) << info.name;
  }
  EXPECT_TRUE(contains(result.out, "IMAGENET1K_V1 69.8%")) << result.out;
}

TEST(Cli, ModelsWeightsShowsAddressesAndHashes) {
  const auto result = run_xfer({"models", "--weights"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "https://download.pytorch.org/models/resnet18-f37072fd.pth"));
  EXPECT_TRUE(contains(result.out, "sha256 12fca82f")) << result.out;
}

TEST(Cli, ForwardPrintsShapesAndTime) {
  const auto result = run_xfer({"forward", "--models", "resnet20,mobilenet_v1", "--batch", "3",
                                "--size", "32", "--threads", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "1 threads")) << result.out;
  EXPECT_TRUE(contains(result.out, "[3,10]")) << result.out;     // resnet20 logits
  EXPECT_TRUE(contains(result.out, "[3,64]")) << result.out;     // resnet20 features
  EXPECT_TRUE(contains(result.out, "[3,1000]")) << result.out;   // mobilenet_v1 logits
  EXPECT_TRUE(contains(result.out, "[3,1024]")) << result.out;   // mobilenet_v1 features
  EXPECT_TRUE(contains(result.out, ", fused, ")) << result.out;
}

TEST(Cli, ForwardChoosesPrecisionByTheCpuAndNoFuseRunsEagerly) {
  const auto result = run_xfer({"forward", "--models", "resnet20", "--batch", "2", "--size", "32",
                                "--threads", "1", "--no-fuse"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, ", eager, ")) << result.out;
  const std::string expected = xfer::has_native_bf16(c10::Device(c10::kCPU)) ? "bf16" : "fp32";
  EXPECT_TRUE(contains(result.out, "1 threads, " + expected + ", eager, cpu")) << result.out;
}

TEST(Cli, UnknownModelIsAnInvalidArgumentNamingTheKnownOnes) {
  const auto result = run_xfer({"forward", "--models", "resnet19"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(contains(result.err, "error: unknown model 'resnet19'")) << result.err;
  EXPECT_TRUE(contains(result.err, "resnet18")) << result.err;
  EXPECT_TRUE(result.out.empty() || !contains(result.out, "ms")) << result.out;
}

TEST(Cli, BadOptionValuesAreUsageErrors) {
  EXPECT_EQ(run_xfer({"forward", "--threads", "-1"}).exit_code, 2);
  EXPECT_EQ(run_xfer({"forward", "--precision", "fp8"}).exit_code, 2);
  EXPECT_EQ(run_xfer({"forward", "--batch", "0"}).exit_code, 2);
  EXPECT_EQ(run_xfer({"models", "--bogus"}).exit_code, 2);
}

TEST(Cli, UnavailableDeviceIsAnInvalidArgument) {
  const auto result = run_xfer({"forward", "--models", "resnet20", "--device", "tpu"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(contains(result.err, "device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"))
      << result.err;
}

}  // namespace
