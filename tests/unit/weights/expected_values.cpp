#include "expected_values.h"

#include "support/paths.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace xfer::testing {

namespace {

std::vector<ExpectedTensor> read_expected(const std::string& name) {
  std::ifstream in(fixtures_dir() / "weights" / name);
  if (!in) throw std::runtime_error("tests/fixtures/weights/" + name + " missing");
  std::vector<ExpectedTensor> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    ExpectedTensor e;
    std::string shape, values;
    std::getline(fields, e.file, '\t');
    std::getline(fields, e.name, '\t');
    std::getline(fields, e.dtype, '\t');
    std::getline(fields, shape, '\t');
    std::getline(fields, values);
    std::istringstream dims(shape);
    for (std::string d; std::getline(dims, d, ',');) e.shape.push_back(std::stoll(d));
    std::istringstream vals(values);
    for (std::string v; vals >> v;) e.values.push_back(std::stod(v));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors() { return read_expected("expected.txt"); }

std::vector<ExpectedTensor> expected_layout_tensors(const std::string& file) {
  std::vector<ExpectedTensor> out;
  for (auto& e : read_expected("expected_layouts.txt")) {
    if (e.file == file) out.push_back(std::move(e));
  }
  return out;
}

std::vector<ExpectedTensor> expected_tensors(const std::string& file) {
  std::vector<ExpectedTensor> out;
  for (auto& e : expected_tensors()) {
    if (e.file == file) out.push_back(std::move(e));
  }
  return out;
}

c10::ScalarType dtype_named(const std::string& name) {
  static const std::vector<std::pair<std::string, c10::ScalarType>> names{
      {"float32", torch::kFloat32}, {"float16", torch::kFloat16}, {"bfloat16", torch::kBFloat16},
      {"float64", torch::kFloat64}, {"int64", torch::kInt64},     {"int32", torch::kInt32},
      {"int16", torch::kInt16},     {"int8", torch::kInt8},       {"uint8", torch::kUInt8},
      {"bool", torch::kBool}};
  for (const auto& [n, t] : names) {
    if (n == name) return t;
  }
  throw std::runtime_error("unknown dtype in expected.txt: " + name);
}

}  // namespace xfer::testing
