// write_pth: read back by xfer, and by Python's torch.load(weights_only=True) into a real module.

#include "support/paths.h"
#include "support/process.h"
#include "xfer/core/error.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/pth.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using xfer::weights::StateDict;
using xfer::weights::write_pth;

StateDict linear_bn_weights() {
  StateDict sd;
  sd.insert("0.weight", torch::arange(12, torch::kFloat32).reshape({4, 3}).div(8));
  sd.insert("0.bias", torch::tensor({0.5f, -0.5f, 1.0f, -1.0f}));
  sd.insert("1.weight", torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}));
  sd.insert("1.bias", torch::tensor({-1.0f, -2.0f, -3.0f, -4.0f}));
  sd.insert("1.running_mean", torch::tensor({0.1f, 0.2f, 0.3f, 0.4f}));
  sd.insert("1.running_var", torch::tensor({1.0f, 1.5f, 2.0f, 2.5f}));
  sd.insert("1.num_batches_tracked", torch::tensor(int64_t{9}));
  return sd;
}

StateDict every_dtype() {
  StateDict sd;
  sd.insert("f32", torch::arange(6, torch::kFloat32).reshape({2, 3}).t());  // not contiguous
  sd.insert("f16", torch::tensor({0.5, -1.0}).to(torch::kFloat16));
  sd.insert("bf16", torch::tensor({3.0, 256.0}).to(torch::kBFloat16));
  sd.insert("f64", torch::tensor({0.1, -1e-300}, torch::kFloat64));
  sd.insert("i64", torch::tensor({int64_t{1} << 40, int64_t{-5}}));
  sd.insert("i32", torch::tensor({-(1 << 30), 7}, torch::kInt32));
  sd.insert("u8", torch::tensor({0, 255}, torch::kUInt8));
  sd.insert("bool", torch::tensor({true, false}));
  sd.insert("scalar", torch::tensor(2.5));
  sd.insert("big_numel", torch::zeros({70000}, torch::kUInt8));
  return sd;
}

TEST(WritePth, RoundTripThroughXfer) {
  auto file = xfer::testing::temp_dir("pth-roundtrip") / "w.pth";
  write_pth(file, every_dtype());
  auto c = xfer::weights::read_checkpoint(file);
  EXPECT_EQ(c.format, "pth-zip");
  StateDict want = every_dtype();
  ASSERT_EQ(c.tensors.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c.tensors[i].key(), want[i].key());
    EXPECT_EQ(c.tensors[i].value().scalar_type(), want[i].value().scalar_type());
    EXPECT_TRUE(torch::equal(c.tensors[i].value(), want[i].value())) << want[i].key();
  }
}

TEST(WritePth, RefusesUnsupportedTensorsAndWritesNothing) {
  auto dir = xfer::testing::temp_dir("pth-refuse");
  StateDict sd;
  sd.insert("z", torch::ones(1, torch::kComplexDouble));
  try {
    write_pth(dir / "w.pth", sd);
    ADD_FAILURE() << "written";
  } catch (const xfer::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'z' has dtype ComplexDouble"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(write_pth(dir / "missing" / "w.pth", every_dtype()), xfer::IoError);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

const char* const kPython = "/usr/bin/python3";

// Python loads the file with weights_only=True, prints every tensor, and loads it strictly into
// the same nn.Sequential(Linear(3, 4), BatchNorm1d(4)) that the names describe.
const char* const kCheck = R"(
import sys, collections, torch
sd = torch.load(sys.argv[1], weights_only=True)
print(type(sd).__name__)
for k, v in sd.items():
    print(k, str(v.dtype).replace('torch.', ''), list(v.shape), repr(v.double().sum().item()))
if sys.argv[2] == 'module':
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    model.load_state_dict(sd)
    model.eval()
    print('forward', repr(model(torch.ones(1, 3)).sum().item()))
)";

xfer::testing::ProcessResult run_python(const std::filesystem::path& file, const char* mode) {
  return xfer::testing::run_process(kPython, {"-c", kCheck, file.string(), mode});
}

bool python_torch_available() {
  if (!std::filesystem::exists(kPython)) return false;
  return xfer::testing::run_process(kPython, {"-c", "import torch"}).exit_code == 0;
}

TEST(WritePth, PythonTorchLoadWeightsOnlyReadsItIntoAModule) {
  if (!python_torch_available()) {
    GTEST_SKIP() << kPython << " with torch is absent (scripts/setup installs python3-torch)";
  }
  auto file = xfer::testing::temp_dir("pth-python") / "linear_bn.pth";
  write_pth(file, linear_bn_weights());
  auto result = run_python(file, "module");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Linear(ones) = row sums of W + b = [0.375, 1.5, 2.625, 3.75] + b; then BN in eval mode.
  torch::Tensor w = torch::arange(12, torch::kFloat64).reshape({4, 3}).div(8);
  torch::Tensor y = w.sum(1) + torch::tensor({0.5, -0.5, 1.0, -1.0}, torch::kFloat64);
  torch::Tensor bn = (y - torch::tensor({0.1, 0.2, 0.3, 0.4}, torch::kFloat64)) /
                         torch::sqrt(torch::tensor({1.0, 1.5, 2.0, 2.5}, torch::kFloat64) + 1e-5) *
                         torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kFloat64) +
                     torch::tensor({-1.0, -2.0, -3.0, -4.0}, torch::kFloat64);
  std::istringstream lines(result.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "OrderedDict");
  for (const char* expected : {"0.weight float32 [4, 3] 8.25", "0.bias float32 [4] 0.0",
                               "1.weight float32 [4] 10.0", "1.bias float32 [4] -10.0",
                               "1.running_mean float32 [4] 1.0000000223517418",
                               "1.running_var float32 [4] 7.0", "1.num_batches_tracked int64 [] 9.0"}) {
    std::getline(lines, line);
    EXPECT_EQ(line, expected);
  }
  std::getline(lines, line);
  ASSERT_EQ(line.rfind("forward ", 0), 0u) << result.out;
  // Python computes in float32, the reference in float64: 1e-6 of the sum (float32 carries 7
  // digits; a wrong weight changes the first ones).
  const double sum = bn.sum().item<double>();
  EXPECT_NEAR(std::stod(line.substr(8)), sum, 1e-6 * std::abs(sum));
}

TEST(WritePth, PythonReadsEveryDtypeAndNonContiguousTensors) {
  if (!python_torch_available()) {
    GTEST_SKIP() << kPython << " with torch is absent (scripts/setup installs python3-torch)";
  }
  auto file = xfer::testing::temp_dir("pth-python-dtypes") / "dtypes.pth";
  write_pth(file, every_dtype());
  auto result = run_python(file, "tensors");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "OrderedDict\n"
            "f32 float32 [3, 2] 15.0\n"
            "f16 float16 [2] -0.5\n"
            "bf16 bfloat16 [2] 259.0\n"
            "f64 float64 [2] 0.1\n"
            "i64 int64 [2] 1099511627771.0\n"
            "i32 int32 [2] -1073741817.0\n"
            "u8 uint8 [2] 255.0\n"
            "bool bool [2] 1.0\n"
            "scalar float32 [] 2.5\n"
            "big_numel uint8 [70000] 0.0\n");
}

}  // namespace
