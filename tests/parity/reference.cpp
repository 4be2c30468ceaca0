#include "parity/reference.h"

#include "support/compare.h"
#include "xfer/core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace xfer::testing {
namespace {

// Reads whitespace-separated tokens line by line, knowing where each came from.
class LineReader {
 public:
  explicit LineReader(const std::filesystem::path& path) : path_(path), in_(path) {
    if (!in_) throw IoError(path.string() + ": cannot open the reference file for reading");
  }

  // The next line that is neither blank nor a comment, split into tokens; false at the end.
  bool next(std::vector<std::string>& tokens) {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_number_;
      if (line.empty() || line[0] == '#') continue;
      std::istringstream words(line);
      tokens.clear();
      for (std::string word; words >> word;) tokens.push_back(word);
      if (!tokens.empty()) return true;
    }
    return false;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(path_.string() + ":" + std::to_string(line_number_) + ": " + what);
  }

  int64_t integer(const std::string& token) const {
    try {
      size_t used = 0;
      const int64_t value = std::stoll(token, &used);
      if (used == token.size()) return value;
    } catch (const std::exception&) {
    }
    fail("expected an integer, found '" + token + "'");
  }

  double real(const std::string& token) const {
    try {
      size_t used = 0;
      const double value = std::stod(token, &used);
      if (used == token.size()) return value;
    } catch (const std::exception&) {
    }
    fail("expected a number, found '" + token + "'");
  }

  std::vector<int64_t> integers(const std::vector<std::string>& tokens, size_t from) const {
    std::vector<int64_t> out;
    for (size_t i = from; i < tokens.size(); ++i) out.push_back(integer(tokens[i]));
    return out;
  }

  // The next line, which must start with `keyword` and have exactly `count` tokens after it
  // (any number when count is negative).
  std::vector<std::string> expect(const std::string& keyword, int count) {
    std::vector<std::string> tokens;
    if (!next(tokens)) fail("expected '" + keyword + "', found the end of the file");
    if (tokens[0] != keyword) fail("expected '" + keyword + "', found '" + tokens[0] + "'");
    if (count >= 0 && tokens.size() != static_cast<size_t>(count) + 1) {
      fail("expected " + std::to_string(count) + " values after '" + keyword + "', found " +
           std::to_string(tokens.size() - 1));
    }
    return tokens;
  }

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  int64_t line_number_ = 0;
};

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (const int64_t dim : shape) numel *= dim;
  return numel;
}

// The body of a `tensor LABEL` section, up to and including its `end`.
ReferenceTensor read_tensor(LineReader& reader) {
  ReferenceTensor tensor;
  tensor.shape = reader.integers(reader.expect("shape", -1), 1);
  tensor.sum = reader.real(reader.expect("sum", 1)[1]);
  tensor.abs_sum = reader.real(reader.expect("abs_sum", 1)[1]);
  std::vector<std::string> tokens;
  if (!reader.next(tokens) || tokens.size() != 2 || (tokens[0] != "values" && tokens[0] != "sample")) {
    reader.fail("expected 'values COUNT' or 'sample COUNT'");
  }
  const bool full = tokens[0] == "values";
  const int64_t count = reader.integer(tokens[1]);
  const int64_t numel = numel_of(tensor.shape);
  if (full && count != numel) {
    reader.fail("expected all " + std::to_string(numel) + " values of the shape, found " +
                std::to_string(count));
  }
  while (static_cast<int64_t>(tensor.values.size()) < count) {
    if (!reader.next(tokens)) reader.fail("expected " + std::to_string(count) + " values, found the end");
    if (full) {
      for (const auto& token : tokens) {
        tensor.indices.push_back(static_cast<int64_t>(tensor.values.size()));
        tensor.values.push_back(reader.real(token));
      }
    } else {
      if (tokens.size() != 2) reader.fail("expected 'INDEX VALUE' in a sample");
      const int64_t index = reader.integer(tokens[0]);
      if (index < 0 || index >= numel) {
        reader.fail("expected a flat index below " + std::to_string(numel) + ", found " + tokens[0]);
      }
      tensor.indices.push_back(index);
      tensor.values.push_back(reader.real(tokens[1]));
    }
  }
  if (static_cast<int64_t>(tensor.values.size()) != count) {
    reader.fail("expected " + std::to_string(count) + " values, found " +
                std::to_string(tensor.values.size()));
  }
  reader.expect("end", 0);
  return tensor;
}

}  // namespace

const ReferenceTensor& Reference::tensor(const std::string& label) const {
  const auto found = tensors.find(label);
  if (found == tensors.end()) {
    throw InvalidArgument("reference for " + model + " (" + mode + "): no tensor '" + label + "'");
  }
  return found->second;
}

Reference read_reference(const std::filesystem::path& path) {
  LineReader reader(path);
  Reference reference;
  reference.model = reader.expect("model", 1)[1];
  reference.mode = reader.expect("mode", 1)[1];
  std::vector<std::string> tokens;
  while (reader.next(tokens)) {
    const std::string& keyword = tokens[0];
    if (keyword == "option" && tokens.size() == 2) {
      reference.options.push_back(tokens[1]);
    } else if (keyword == "input") {
      reference.input = reader.integers(tokens, 1);
      if (reference.input.size() != 4) reader.fail("expected 'input N 3 H W'");
    } else if (keyword == "key" && tokens.size() >= 3) {
      reference.keys.push_back({tokens[1], tokens[2], reader.integers(tokens, 3)});
    } else if (keyword == "tensor" && tokens.size() == 2) {
      if (!reference.tensors.emplace(tokens[1], read_tensor(reader)).second) {
        reader.fail("tensor '" + tokens[1] + "' appears twice");
      }
    } else if (keyword == "aux_order") {
      reference.aux_order.assign(tokens.begin() + 1, tokens.end());
    } else {
      reader.fail("unexpected line starting with '" + keyword + "'");
    }
  }
  if (reference.input.empty()) reader.fail("expected an 'input' line, found none");
  return reference;
}

::testing::AssertionResult matches_reference(const torch::Tensor& actual,
                                             const ReferenceTensor& expected, double rtol) {
  if (!actual.sizes().equals(expected.shape)) {
    return ::testing::AssertionFailure()
           << "shape mismatch: expected " << torch::IntArrayRef(expected.shape) << " but got "
           << actual.sizes();
  }
  // Element by element first: its message names where the tensors part.
  double scale = 0;
  for (const double value : expected.values) scale = std::max(scale, std::abs(value));
  ::testing::AssertionResult elements =
      all_close_at(actual, expected.indices, expected.values, rtol, rtol * scale);
  if (!elements) return elements;
  const torch::Tensor values = actual.detach().to(torch::kDouble);
  const double sum = values.sum().item<double>();
  const double abs_sum = values.abs().sum().item<double>();
  const double sums_tolerance = rtol * expected.abs_sum;
  if (!(std::abs(sum - expected.sum) <= sums_tolerance)) {
    return ::testing::AssertionFailure() << "sum: expected " << expected.sum << " but got " << sum
                                         << " (tolerance " << sums_tolerance << ")";
  }
  if (!(std::abs(abs_sum - expected.abs_sum) <= sums_tolerance)) {
    return ::testing::AssertionFailure() << "abs_sum: expected " << expected.abs_sum << " but got "
                                         << abs_sum << " (tolerance " << sums_tolerance << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace xfer::testing
