#pragma once
// xfer's restricted unpickler: the pickle opcodes (protocols 2 to 5) that torch.save emits, the
// storage persistent ids of both .pth formats, and a closed list of globals. It builds a graph of
// plain values and tensor descriptions; it never calls anything and never imports anything.

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xfer::weights::detail {

/// Index of a value in PickleGraph::values. Values refer to each other by index, so shared and
/// even cyclic references (which the memo allows) are harmless.
using ValueId = uint32_t;

/// What a PickleValue holds.
enum class ValueKind { None, Bool, Int, BigInt, Float, String, Bytes, Tuple, List, Dict, Global,
                       Storage, Tensor };

/// A storage as a persistent id names it: the root storage `key` (numel elements of `dtype`)
/// and, for the legacy format's storage views, the window [offset, offset + numel) into it.
struct StorageRef {
  std::string key;
  c10::ScalarType dtype = c10::ScalarType::Float;
  int64_t root_numel = 0;
  int64_t offset = 0;
  int64_t numel = 0;
};

/// A tensor as `_rebuild_tensor(_v2)` describes it; offset and strides count elements of
/// `storage`'s window, and are checked to stay inside it.
struct TensorRef {
  StorageRef storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

/// One unpickled value.
struct PickleValue {
  ValueKind kind = ValueKind::None;
  /// Bool.
  bool flag = false;
  /// Int.
  int64_t integer = 0;
  /// Float.
  double real = 0.0;
  /// String and Bytes: the content; BigInt: its little-endian two's complement bytes; Global:
  /// "module.name".
  std::string text;
  /// Tuple and List: the items; Dict: keys and values alternating, in insertion order.
  std::vector<ValueId> items;
  /// Storage.
  StorageRef storage;
  /// Tensor.
  TensorRef tensor;
};

/// The result of one pickle.
struct PickleGraph {
  std::vector<PickleValue> values;
  /// The value STOP returned.
  ValueId root = 0;
  /// The offset just past the STOP opcode.
  size_t end = 0;
};

/// Unpickles the pickle starting at `bytes[begin]` and ending at its STOP. Throws FormatError
/// "<origin>: byte N: ..." (N from the start of `bytes`) for truncated or malformed input, an
/// unsupported opcode, or a global outside the allowed list ("refusing to load global
/// 'posix.system'").
PickleGraph unpickle(const std::string& bytes, size_t begin, const std::string& origin);

/// The element size of a storage dtype.
size_t element_size(c10::ScalarType dtype);

}  // namespace xfer::weights::detail
