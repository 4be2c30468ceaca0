#pragma once
// xfer's restricted unpickler: the pickle opcodes (protocols 2 to 5) that torch.save emits, the
// storage persistent ids of both .pth formats, and a closed list of globals whose meaning xfer
// knows (tensor rebuilders, storage types, dtypes, containers, argparse.Namespace, numpy arrays,
// torch.nn modules as plain data). It builds a graph of plain values and tensor descriptions; it
// never calls anything and never imports anything.

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace xfer::weights::detail {

/// Index of a value in PickleGraph::values. Values refer to each other by index, so shared and
/// even cyclic references (which the memo allows) are harmless.
using ValueId = uint32_t;

/// "No value" for the optional ValueId fields.
constexpr ValueId kNoValue = std::numeric_limits<ValueId>::max();

/// What a PickleValue holds.
enum class ValueKind { None, Bool, Int, BigInt, Float, String, Bytes, Tuple, List, Dict, Set,
                       Global, Object, Storage, Tensor };

/// A storage as a persistent id names it: the root storage `key` (numel elements of `dtype`)
/// and, for the legacy format's storage views, the window [offset, offset + numel) into it.
/// Quantized storages (`torch.QInt8Storage`, ...) hold their integer representation: `dtype` is
/// int8/uint8/int32 and `quantized` names the torch dtype ("qint8", "quint8", "qint32").
struct StorageRef {
  std::string key;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::string quantized;
  int64_t root_numel = 0;
  int64_t offset = 0;
  int64_t numel = 0;
};

/// A tensor as `_rebuild_tensor(_v2)` or `_rebuild_qtensor` describes it, or a numpy array;
/// offset and strides count elements of `storage`'s window (or of `inline_data`), and are checked
/// to stay inside it.
struct TensorRef {
  StorageRef storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  /// The dtype as torch or numpy names it when LibTorch has none of that name, and the tensor
  /// holds its bits in `storage.dtype`: "qint8", "quint8", "qint32" (quantized: the integer
  /// representation), "uint16", "uint32", "uint64" (numpy). Empty otherwise.
  std::string file_dtype;
  /// Quantized tensors: "per_tensor_affine" (scale, zero_point) or "per_channel_affine" /
  /// "per_channel_affine_float_qparams" (scales, zero_points: Tensor values, and axis).
  std::string qscheme;
  double scale = 0.0;
  int64_t zero_point = 0;
  ValueId scales = kNoValue;
  ValueId zero_points = kNoValue;
  int64_t axis = 0;
  /// numpy arrays: their bytes, held here instead of in a storage.
  bool numpy = false;
  std::string inline_data;
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
  /// "module.name"; Object: the name of its class ("argparse.Namespace",
  /// "torch.nn.modules.linear.Linear", "torch.device", "numpy.dtype", ...).
  std::string text;
  /// Tuple, List and Set: the items; Dict: keys and values alternating, in insertion order;
  /// Object: the arguments it was made with.
  std::vector<ValueId> items;
  /// Object: the state BUILD gave it (a Dict of attributes for Namespace and modules).
  ValueId state = kNoValue;
  /// Global and Object: names a global outside the allowed list, or was made by calling one
  /// (the pickle is refused once read).
  bool refused = false;
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
/// "<origin>: byte N: ..." (N from the start of `bytes`) for truncated or malformed input or an
/// unsupported opcode. A pickle that needs globals outside the allowed list is read to its end (or
/// to the first error) and then refused with one FormatError naming each of them and why:
/// "refused: the pickle needs global 'utils.Vocab', which is not a tensor type (a user class:
/// ...)".
PickleGraph unpickle(const std::string& bytes, size_t begin, const std::string& origin);

/// The element size of a storage dtype.
size_t element_size(c10::ScalarType dtype);

/// Whether `name` ("module.attribute") is a class of torch.nn.modules, which xfer reads as plain
/// data (its `_parameters`, `_buffers` and `_modules`) and never instantiates.
bool is_module_class(const std::string& name);

}  // namespace xfer::weights::detail
