// Threads, precision, device and layout settings.

#include "xfer/core/compat.h"
#include "xfer/core/cpus.h"
#include "xfer/core/error.h"
#include "xfer/core/runtime.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <thread>

namespace {

TEST(Runtime, ZeroThreadsMeansEveryUsableCpu) {
  EXPECT_GE(xfer::usable_cpus(), 1);
  EXPECT_LE(xfer::usable_cpus(), static_cast<int>(std::thread::hardware_concurrency()));
  EXPECT_EQ(xfer::set_threads(0), xfer::usable_cpus());
  EXPECT_EQ(xfer::set_threads(1), 1);
  EXPECT_EQ(at::get_num_threads(), 1);
  xfer::set_threads(0);
}

// taskset and cpusets narrow the affinity mask: usable_cpus counts it, not the machine.
TEST(Runtime, UsableCpusAreThoseOfTheAffinityMask) {
  cpu_set_t before;
  CPU_ZERO(&before);
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  EXPECT_EQ(xfer::usable_cpus(), CPU_COUNT(&before));
  int first = 0;
  while (!CPU_ISSET(first, &before)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(xfer::usable_cpus(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof before, &before), 0);
}

// oneDNN capped below bf16 (as on an AVX2 machine) has no bf16 kernels, whatever the CPU says:
// `auto` precision must then mean fp32, or every convolution of a frozen backbone fails.
TEST(Runtime, NoNativeBf16WhereOneDnnIsCappedBelowIt) {
  const char* before = std::getenv("DNNL_MAX_CPU_ISA");
  const std::string saved = before != nullptr ? before : "";
  setenv("DNNL_MAX_CPU_ISA", "AVX2", 1);
  EXPECT_FALSE(xfer::has_native_bf16(c10::Device(c10::kCPU)));
  setenv("DNNL_MAX_CPU_ISA", "avx512_core", 1);
  EXPECT_FALSE(xfer::has_native_bf16(c10::Device(c10::kCPU)));
  unsetenv("DNNL_MAX_CPU_ISA");
  const bool by_cpu = xfer::has_native_bf16(c10::Device(c10::kCPU));
  setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE_BF16", 1);
  EXPECT_EQ(xfer::has_native_bf16(c10::Device(c10::kCPU)), by_cpu);
  if (before != nullptr) {
    setenv("DNNL_MAX_CPU_ISA", saved.c_str(), 1);
  } else {
    unsetenv("DNNL_MAX_CPU_ISA");
  }
}

TEST(Runtime, NegativeThreadsAreRejected) {
  try {
    xfer::set_threads(-2);
    FAIL() << "expected InvalidArgument";
  } catch (const xfer::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("got -2"), std::string::npos) << e.what();
  }
}

TEST(Runtime, ParsesPrecisionLayoutAndDevice) {
  EXPECT_EQ(xfer::parse_precision("bf16"), xfer::Precision::kBFloat16);
  EXPECT_EQ(xfer::to_string(xfer::parse_precision("fp32")), "fp32");
  EXPECT_THROW(xfer::parse_precision("fp16"), xfer::InvalidArgument);
  EXPECT_EQ(xfer::parse_layout("channels_last"), xfer::Layout::kChannelsLast);
  EXPECT_THROW(xfer::parse_layout("nhwc"), xfer::InvalidArgument);
  EXPECT_TRUE(xfer::parse_device("cpu").is_cpu());
  EXPECT_THROW(xfer::parse_device("gpu"), xfer::InvalidArgument);
  if (!torch::cuda::is_available()) {
    EXPECT_TRUE(xfer::parse_device("auto").is_cpu());
    EXPECT_THROW(xfer::parse_device("cuda:0"), xfer::InvalidArgument);
  }
}

TEST(Runtime, PrecisionScopeEnablesAndRestoresAutocast) {
  ASSERT_FALSE(xfer::compat::cpu_autocast_enabled());
  {
    xfer::PrecisionScope scope(xfer::Precision::kBFloat16, torch::kCPU);
    EXPECT_TRUE(xfer::compat::cpu_autocast_enabled());
    const auto product = torch::mm(torch::ones({2, 2}), torch::ones({2, 2}));
    EXPECT_EQ(product.scalar_type(), torch::kBFloat16);
  }
  EXPECT_FALSE(xfer::compat::cpu_autocast_enabled());
  xfer::PrecisionScope fp32(xfer::Precision::kFloat32, torch::kCPU);
  EXPECT_FALSE(xfer::compat::cpu_autocast_enabled());
}

TEST(Runtime, LayoutConversionKeepsValues) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3));
  const auto before = conv->weight.clone();
  xfer::set_layout(*conv, xfer::Layout::kChannelsLast);
  EXPECT_TRUE(conv->weight.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(conv->weight.equal(before));
  const auto images = torch::randn({2, 3, 5, 5});
  const auto converted = xfer::to_layout(images, xfer::Layout::kChannelsLast);
  EXPECT_TRUE(converted.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(converted.equal(images));
  EXPECT_EQ(xfer::default_layout(224), xfer::Layout::kChannelsLast);
  EXPECT_EQ(xfer::default_layout(32), xfer::Layout::kNchw);
}

}  // namespace
