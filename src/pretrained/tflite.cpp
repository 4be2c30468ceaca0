// TFLite flatbuffers read with the low-level table API; field ids are those of the public schema
// tensorflow/lite/schema/schema.fbs (a field with id i sits at vtable offset 4 + 2 i; a union
// takes two ids, its type then its value).

#include "xfer/pretrained/tflite.h"

#include "xfer/core/error.h"

#include <flatbuffers/flatbuffers.h>
#include <torch/types.h>

#include <array>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "TFLite constants and zero points are little-endian and are copied as they are");

namespace xfer::pretrained {
namespace {

using flatbuffers::Offset;
using flatbuffers::String;
using flatbuffers::Table;
using flatbuffers::Vector;
using flatbuffers::Verifier;
using flatbuffers::voffset_t;

constexpr voffset_t field(int id) { return static_cast<voffset_t>(4 + 2 * id); }

// table Model
constexpr voffset_t kModelVersion = field(0);
constexpr voffset_t kModelOperatorCodes = field(1);
constexpr voffset_t kModelSubgraphs = field(2);
constexpr voffset_t kModelDescription = field(3);
constexpr voffset_t kModelBuffers = field(4);
// table OperatorCode
constexpr voffset_t kCodeDeprecatedBuiltin = field(0);
constexpr voffset_t kCodeCustom = field(1);
constexpr voffset_t kCodeVersion = field(2);
constexpr voffset_t kCodeBuiltin = field(3);
// table SubGraph
constexpr voffset_t kGraphTensors = field(0);
constexpr voffset_t kGraphInputs = field(1);
constexpr voffset_t kGraphOutputs = field(2);
constexpr voffset_t kGraphOperators = field(3);
constexpr voffset_t kGraphName = field(4);
// table Tensor
constexpr voffset_t kTensorShape = field(0);
constexpr voffset_t kTensorType = field(1);
constexpr voffset_t kTensorBuffer = field(2);
constexpr voffset_t kTensorName = field(3);
constexpr voffset_t kTensorQuantization = field(4);
constexpr voffset_t kTensorIsVariable = field(5);
constexpr voffset_t kTensorSparsity = field(6);
// table QuantizationParameters
constexpr voffset_t kQuantMin = field(0);
constexpr voffset_t kQuantMax = field(1);
constexpr voffset_t kQuantScale = field(2);
constexpr voffset_t kQuantZeroPoint = field(3);
constexpr voffset_t kQuantDetailsType = field(4);
constexpr voffset_t kQuantDimension = field(6);
// table Operator
constexpr voffset_t kOpOpcodeIndex = field(0);
constexpr voffset_t kOpInputs = field(1);
constexpr voffset_t kOpOutputs = field(2);
constexpr voffset_t kOpOptionsType = field(3);
constexpr voffset_t kOpOptions = field(4);
constexpr voffset_t kOpCustomOptions = field(5);
// table Buffer
constexpr voffset_t kBufferData = field(0);
constexpr voffset_t kBufferOffset = field(1);
// Conv2DOptions, DepthwiseConv2DOptions, Pool2DOptions share padding, stride_w, stride_h.
constexpr voffset_t kOptPadding = field(0);
constexpr voffset_t kOptStrideW = field(1);
constexpr voffset_t kOptStrideH = field(2);
constexpr voffset_t kConvActivation = field(3);
constexpr voffset_t kConvDilationW = field(4);
constexpr voffset_t kConvDilationH = field(5);
constexpr voffset_t kDepthwiseMultiplier = field(3);
constexpr voffset_t kDepthwiseActivation = field(4);
constexpr voffset_t kDepthwiseDilationW = field(5);
constexpr voffset_t kDepthwiseDilationH = field(6);
constexpr voffset_t kPoolFilterW = field(3);
constexpr voffset_t kPoolFilterH = field(4);
constexpr voffset_t kPoolActivation = field(5);
constexpr voffset_t kAddActivation = field(0);
constexpr voffset_t kSoftmaxBeta = field(0);

// BuiltinOptions union members.
constexpr uint8_t kOptionsNone = 0;
constexpr uint8_t kConv2DOptions = 1;
constexpr uint8_t kDepthwiseConv2DOptions = 2;
constexpr uint8_t kPool2DOptions = 5;
constexpr uint8_t kSoftmaxOptions = 9;
constexpr uint8_t kAddOptions = 11;
constexpr uint8_t kReshapeOptions = 17;

constexpr int32_t kCustomOpcode = 32;
constexpr uint32_t kSchemaVersion = 3;

// BuiltinOperator names 0 .. 116, for messages about operators the importer does not support.
constexpr std::array<const char*, 117> kOpcodeNames = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC",
    "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS",
    "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
    "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
    "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM",
    "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
    "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG",
    "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX",
    "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",
    "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
    "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V",
    "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND"};

std::string opcode_name(int32_t code) {
  if (code >= 0 && code < static_cast<int32_t>(kOpcodeNames.size())) return kOpcodeNames[code];
  return "BuiltinOperator " + std::to_string(code);
}

std::string activation_name(int8_t code) {
  static const char* const names[] = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"};
  if (code >= 0 && code < 6) return names[code];
  return "ActivationFunctionType " + std::to_string(code);
}

size_t element_size(TfliteType type) {
  switch (type) {
    case TfliteType::kFloat32:
    case TfliteType::kInt32:
      return 4;
    case TfliteType::kFloat16:
    case TfliteType::kInt16:
      return 2;
    case TfliteType::kUint8:
    case TfliteType::kInt8:
    case TfliteType::kBool:
      return 1;
    case TfliteType::kInt64:
    case TfliteType::kComplex64:
      return 8;
    case TfliteType::kString:
      return 0;
  }
  return 0;
}

// Walks one flatbuffer: verify() checks every table, vector and string the importer reads with
// flatbuffers::Verifier, then graph() reads them and checks what the schema cannot (indices,
// sizes, supported options). Every failure throws a FormatError with the byte offset.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& origin)
      : base_(reinterpret_cast<const uint8_t*>(bytes.data())),
        size_(bytes.size()),
        origin_(origin),
        verifier_(base_, size_ < kMaxSize ? size_ : 0) {}

  TfliteGraph read() {
    if (size_ >= kMaxSize) {
      fail(0, "file of " + std::to_string(size_) + " bytes exceeds the 2 GiB of a flatbuffer");
    }
    if (size_ < 8) {
      fail(size_, "truncated: expected at least the 8-byte flatbuffer header, got " +
                      std::to_string(size_) + " bytes");
    }
    if (std::memcmp(base_ + 4, "TFL3", 4) != 0) {
      fail(4, "expected the TFLite file identifier 'TFL3', found " + printable(base_ + 4, 4));
    }
    const flatbuffers::uoffset_t root = verifier_.VerifyOffset(0);
    if (root == 0) fail(0, "root table offset points outside the file");
    const Table* model = reinterpret_cast<const Table*>(base_ + root);
    verify_model(model);
    return graph(model);
  }

 private:
  static constexpr size_t kMaxSize = FLATBUFFERS_MAX_BUFFER_SIZE;

  [[noreturn]] void fail(size_t offset, const std::string& what) const {
    throw FormatError(origin_ + ": offset " + std::to_string(offset) + ": " + what);
  }

  size_t offset_of(const void* where) const {
    return static_cast<size_t>(static_cast<const uint8_t*>(where) - base_);
  }

  void need(bool ok, const void* where, const std::string& what) const {
    if (!ok) fail(offset_of(where), what);
  }

  static std::string printable(const uint8_t* bytes, size_t count) {
    std::ostringstream text;
    text << "'";
    for (size_t i = 0; i < count; ++i) {
      const char c = static_cast<char>(bytes[i]);
      if (c >= 32 && c < 127) {
        text << c;
      } else {
        text << "\\x" << std::hex << static_cast<int>(bytes[i]) << std::dec;
      }
    }
    text << "'";
    return text.str();
  }

  // --- verification: structure only ---

  template <typename T>
  const Vector<T>* vector_field(const Table* table, voffset_t id, const char* what) {
    need(table->VerifyOffset(verifier_, id), table, std::string(what) + ": offset out of bounds");
    const auto* vec = table->GetPointer<const Vector<T>*>(id);
    need(verifier_.VerifyVector(vec), vec ? static_cast<const void*>(vec) : table,
         std::string(what) + ": vector runs past the end of the file");
    return vec;
  }

  const String* string_field(const Table* table, voffset_t id, const char* what) {
    need(table->VerifyOffset(verifier_, id), table, std::string(what) + ": offset out of bounds");
    const auto* str = table->GetPointer<const String*>(id);
    need(verifier_.VerifyString(str), str ? static_cast<const void*>(str) : table,
         std::string(what) + ": string runs past the end of the file or lacks its terminator");
    return str;
  }

  template <typename T>
  void scalar_field(const Table* table, voffset_t id, const char* what) {
    need(table->VerifyField<T>(verifier_, id, sizeof(T)), table,
         std::string(what) + ": field out of bounds or misaligned");
  }

  void table_start(const Table* table, const char* what) {
    need(table->VerifyTableStart(verifier_), table,
         std::string(what) + ": table or its vtable out of bounds (or nested too deep)");
  }

  template <typename F>
  void tables_field(const Table* table, voffset_t id, const char* what, F verify_one) {
    const auto* vec = vector_field<Offset<Table>>(table, id, what);
    if (vec == nullptr) return;
    for (flatbuffers::uoffset_t i = 0; i < vec->size(); ++i) {
      const Table* element = vec->Get(i);
      verify_one(element);
    }
  }

  void verify_model(const Table* model) {
    table_start(model, "Model");
    scalar_field<uint32_t>(model, kModelVersion, "Model.version");
    tables_field(model, kModelOperatorCodes, "Model.operator_codes", [this](const Table* code) {
      table_start(code, "OperatorCode");
      scalar_field<int8_t>(code, kCodeDeprecatedBuiltin, "OperatorCode.deprecated_builtin_code");
      string_field(code, kCodeCustom, "OperatorCode.custom_code");
      scalar_field<int32_t>(code, kCodeVersion, "OperatorCode.version");
      scalar_field<int32_t>(code, kCodeBuiltin, "OperatorCode.builtin_code");
      verifier_.EndTable();
    });
    tables_field(model, kModelSubgraphs, "Model.subgraphs",
                 [this](const Table* graph) { verify_subgraph(graph); });
    string_field(model, kModelDescription, "Model.description");
    tables_field(model, kModelBuffers, "Model.buffers", [this](const Table* buffer) {
      table_start(buffer, "Buffer");
      vector_field<uint8_t>(buffer, kBufferData, "Buffer.data");
      scalar_field<uint64_t>(buffer, kBufferOffset, "Buffer.offset");
      verifier_.EndTable();
    });
    verifier_.EndTable();
  }

  void verify_subgraph(const Table* graph) {
    table_start(graph, "SubGraph");
    tables_field(graph, kGraphTensors, "SubGraph.tensors", [this](const Table* tensor) {
      table_start(tensor, "Tensor");
      vector_field<int32_t>(tensor, kTensorShape, "Tensor.shape");
      scalar_field<int8_t>(tensor, kTensorType, "Tensor.type");
      scalar_field<uint32_t>(tensor, kTensorBuffer, "Tensor.buffer");
      string_field(tensor, kTensorName, "Tensor.name");
      scalar_field<uint8_t>(tensor, kTensorIsVariable, "Tensor.is_variable");
      need(tensor->VerifyOffset(verifier_, kTensorQuantization), tensor,
           "Tensor.quantization: offset out of bounds");
      if (const auto* quant = tensor->GetPointer<const Table*>(kTensorQuantization)) {
        table_start(quant, "QuantizationParameters");
        vector_field<float>(quant, kQuantMin, "QuantizationParameters.min");
        vector_field<float>(quant, kQuantMax, "QuantizationParameters.max");
        vector_field<float>(quant, kQuantScale, "QuantizationParameters.scale");
        vector_field<int64_t>(quant, kQuantZeroPoint, "QuantizationParameters.zero_point");
        scalar_field<uint8_t>(quant, kQuantDetailsType, "QuantizationParameters.details_type");
        scalar_field<int32_t>(quant, kQuantDimension, "QuantizationParameters.quantized_dimension");
        verifier_.EndTable();
      }
      verifier_.EndTable();
    });
    vector_field<int32_t>(graph, kGraphInputs, "SubGraph.inputs");
    vector_field<int32_t>(graph, kGraphOutputs, "SubGraph.outputs");
    tables_field(graph, kGraphOperators, "SubGraph.operators", [this](const Table* op) {
      table_start(op, "Operator");
      scalar_field<uint32_t>(op, kOpOpcodeIndex, "Operator.opcode_index");
      vector_field<int32_t>(op, kOpInputs, "Operator.inputs");
      vector_field<int32_t>(op, kOpOutputs, "Operator.outputs");
      scalar_field<uint8_t>(op, kOpOptionsType, "Operator.builtin_options_type");
      need(op->VerifyOffset(verifier_, kOpOptions), op, "Operator.builtin_options: offset out of bounds");
      if (const auto* options = op->GetPointer<const Table*>(kOpOptions)) {
        verify_options(options, op->GetField<uint8_t>(kOpOptionsType, kOptionsNone));
      }
      verifier_.EndTable();
    });
    string_field(graph, kGraphName, "SubGraph.name");
    verifier_.EndTable();
  }

  // The fields of the option tables the importer reads, by their widths: 'b' a byte, 'i' a 4-byte
  // int or float, 'v' a vector of int.
  void verify_options(const Table* options, uint8_t type) {
    const char* layout = "";
    switch (type) {
      case kConv2DOptions:
        layout = "biibii";
        break;
      case kDepthwiseConv2DOptions:
        layout = "biiibii";
        break;
      case kPool2DOptions:
        layout = "biiiib";
        break;
      case kAddOptions:
        layout = "b";
        break;
      case kSoftmaxOptions:
        layout = "i";
        break;
      case kReshapeOptions:
        layout = "v";
        break;
      default:
        break;
    }
    table_start(options, "BuiltinOptions");
    for (int id = 0; layout[id] != '\0'; ++id) {
      if (layout[id] == 'b') scalar_field<int8_t>(options, field(id), "BuiltinOptions field");
      if (layout[id] == 'i') scalar_field<int32_t>(options, field(id), "BuiltinOptions field");
      if (layout[id] == 'v') vector_field<int32_t>(options, field(id), "ReshapeOptions.new_shape");
    }
    verifier_.EndTable();
  }

  // --- reading: meaning ---

  TfliteGraph graph(const Table* model) {
    const auto version = model->GetField<uint32_t>(kModelVersion, 0);
    need(version == kSchemaVersion, model,
         "expected TFLite schema version 3, found " + std::to_string(version));
    const auto* graphs = model->GetPointer<const Vector<Offset<Table>>*>(kModelSubgraphs);
    need(graphs != nullptr && graphs->size() == 1, model,
         "expected exactly one subgraph, found " + std::to_string(graphs ? graphs->size() : 0));
    const Table* subgraph = graphs->Get(0);

    TfliteGraph out;
    out.origin = origin_;
    const auto* buffers = model->GetPointer<const Vector<Offset<Table>>*>(kModelBuffers);
    const auto* tensors = subgraph->GetPointer<const Vector<Offset<Table>>*>(kGraphTensors);
    if (tensors != nullptr) {
      for (flatbuffers::uoffset_t i = 0; i < tensors->size(); ++i) {
        out.tensors.push_back(tensor(tensors->Get(i), buffers));
      }
    }
    const auto tensor_count = static_cast<int32_t>(out.tensors.size());
    out.inputs = indices(subgraph, kGraphInputs, tensor_count, "subgraph input");
    out.outputs = indices(subgraph, kGraphOutputs, tensor_count, "subgraph output");

    const auto* codes = model->GetPointer<const Vector<Offset<Table>>*>(kModelOperatorCodes);
    const auto* ops = subgraph->GetPointer<const Vector<Offset<Table>>*>(kGraphOperators);
    if (ops != nullptr) {
      for (flatbuffers::uoffset_t i = 0; i < ops->size(); ++i) {
        out.operators.push_back(op(ops->Get(i), i, codes, tensor_count));
      }
    }
    return out;
  }

  std::vector<int32_t> indices(const Table* table, voffset_t id, int32_t tensor_count,
                               const std::string& what, bool optional = false) const {
    std::vector<int32_t> out;
    const auto* vec = table->GetPointer<const Vector<int32_t>*>(id);
    if (vec == nullptr) return out;
    for (flatbuffers::uoffset_t i = 0; i < vec->size(); ++i) {
      const int32_t index = vec->Get(i);
      const bool ok = (index >= 0 && index < tensor_count) || (optional && index == -1);
      need(ok, vec, what + " " + std::to_string(i) + ": tensor index " + std::to_string(index) +
                        " outside [0, " + std::to_string(tensor_count) + ")");
      out.push_back(index);
    }
    return out;
  }

  TfliteTensor tensor(const Table* table, const Vector<Offset<Table>>* buffers) const {
    TfliteTensor out;
    if (const auto* name = table->GetPointer<const String*>(kTensorName)) out.name = name->str();
    const std::string subject = "tensor '" + out.name + "'";
    need(!table->CheckField(kTensorSparsity), table, subject + ": sparse tensors are not supported");
    const auto type = table->GetField<int8_t>(kTensorType, 0);
    need(type >= 0 && type <= static_cast<int8_t>(TfliteType::kInt8), table,
         subject + ": unknown TensorType " + std::to_string(type));
    out.type = static_cast<TfliteType>(type);
    int64_t elements = 1;
    if (const auto* shape = table->GetPointer<const Vector<int32_t>*>(kTensorShape)) {
      for (flatbuffers::uoffset_t i = 0; i < shape->size(); ++i) {
        const int32_t dim = shape->Get(i);
        need(dim >= 0, shape, subject + ": negative dimension " + std::to_string(dim));
        out.shape.push_back(dim);
        // Compared with the data size below, which is under 2 GiB: saturating at 2^40 keeps the
        // product exact where it matters and free of overflow elsewhere.
        constexpr int64_t kCap = int64_t{1} << 40;
        elements = dim == 0 ? 0 : elements > kCap / dim ? kCap : std::min(elements * dim, kCap);
      }
    }
    if (const auto* quant = table->GetPointer<const Table*>(kTensorQuantization)) {
      need(quant->GetField<uint8_t>(kQuantDetailsType, 0) == 0, quant,
           subject + ": custom quantization details are not supported");
      if (const auto* scale = quant->GetPointer<const Vector<float>*>(kQuantScale)) {
        out.scale.assign(scale->begin(), scale->end());
      }
      if (const auto* zero = quant->GetPointer<const Vector<int64_t>*>(kQuantZeroPoint)) {
        // Copied rather than read element by element: the Verifier checks only the 4-byte
        // alignment of the vector's length, so its int64 elements may sit at 4 mod 8.
        out.zero_point.resize(zero->size());
        if (zero->size() > 0) {
          std::memcpy(out.zero_point.data(), zero->Data(), zero->size() * sizeof(int64_t));
        }
      }
      out.quantized_dimension = quant->GetField<int32_t>(kQuantDimension, 0);
    }
    const auto buffer = table->GetField<uint32_t>(kTensorBuffer, 0);
    const uint32_t buffer_count = buffers ? buffers->size() : 0;
    need(buffer < buffer_count || (buffer == 0 && buffer_count == 0), table,
         subject + ": buffer index " + std::to_string(buffer) + " outside [0, " +
             std::to_string(buffer_count) + ")");
    if (buffer_count == 0) return out;
    const Table* buffer_table = buffers->Get(buffer);
    need(buffer_table->GetField<uint64_t>(kBufferOffset, 0) == 0, buffer_table,
         subject + ": data stored outside the flatbuffer is not supported");
    const auto* data = buffer_table->GetPointer<const Vector<uint8_t>*>(kBufferData);
    if (data == nullptr || data->size() == 0) return out;
    const size_t item = element_size(out.type);
    need(item != 0, data, subject + ": constant of type " + to_string(out.type) +
                              " is not supported");
    const auto expected = static_cast<uint64_t>(elements) * item;
    need(data->size() == expected, data,
         subject + ": data of " + std::to_string(data->size()) + " bytes, expected " +
             std::to_string(expected) + " for its shape and type " + to_string(out.type));
    out.data.assign(data->begin(), data->end());
    return out;
  }

  TfliteActivation activation(int8_t code, const void* where, const std::string& subject) const {
    need(code == 0 || code == 1 || code == 3, where,
         subject + ": fused activation " + activation_name(code) +
             " is not supported (expected NONE, RELU or RELU6)");
    return static_cast<TfliteActivation>(code);
  }

  TflitePadding padding(int8_t code, const void* where, const std::string& subject) const {
    need(code == 0 || code == 1, where,
         subject + ": unknown padding " + std::to_string(code) + " (expected SAME or VALID)");
    return static_cast<TflitePadding>(code);
  }

  void positive(int32_t value, const void* where, const std::string& what) const {
    need(value > 0, where, what + ": expected a positive value, found " + std::to_string(value));
  }

  TfliteOperator op(const Table* table, flatbuffers::uoffset_t position,
                    const Vector<Offset<Table>>* codes, int32_t tensor_count) const {
    const std::string subject = "operator " + std::to_string(position);
    const auto code_index = table->GetField<uint32_t>(kOpOpcodeIndex, 0);
    const uint32_t code_count = codes ? codes->size() : 0;
    need(code_index < code_count, table,
         subject + ": opcode index " + std::to_string(code_index) + " outside [0, " +
             std::to_string(code_count) + ")");
    const Table* code = codes->Get(code_index);
    // Files of schema v3 hold the opcode in the byte field; newer writers also fill the int one.
    const int32_t builtin = std::max<int32_t>(code->GetField<int8_t>(kCodeDeprecatedBuiltin, 0),
                                              code->GetField<int32_t>(kCodeBuiltin, 0));
    if (builtin == kCustomOpcode) {
      const auto* name = code->GetPointer<const String*>(kCodeCustom);
      fail(offset_of(table), subject + ": custom operator '" + (name ? name->str() : "") +
                                 "' is not supported");
    }
    TfliteOperator out;
    out.inputs = indices(table, kOpInputs, tensor_count, subject + " input", true);
    out.outputs = indices(table, kOpOutputs, tensor_count, subject + " output");
    need(!table->CheckField(kOpCustomOptions), table, subject + ": custom options are not supported");
    const auto options_type = table->GetField<uint8_t>(kOpOptionsType, kOptionsNone);
    const auto* options = table->GetPointer<const Table*>(kOpOptions);
    const std::string name = opcode_name(builtin);
    auto expect_options = [&](uint8_t expected, bool required) {
      const bool absent = options_type == kOptionsNone && options == nullptr;
      need((absent && !required) || (options_type == expected && options != nullptr), table,
           subject + " (" + name + "): expected builtin options of union type " +
               std::to_string(expected) + ", found type " + std::to_string(options_type));
    };
    switch (builtin) {
      case static_cast<int32_t>(TfliteOpcode::kConv2d): {
        expect_options(kConv2DOptions, true);
        out.opcode = TfliteOpcode::kConv2d;
        out.padding = padding(options->GetField<int8_t>(kOptPadding, 0), options, subject);
        out.stride_w = options->GetField<int32_t>(kOptStrideW, 0);
        out.stride_h = options->GetField<int32_t>(kOptStrideH, 0);
        out.activation = activation(options->GetField<int8_t>(kConvActivation, 0), options, subject);
        dilation(options->GetField<int32_t>(kConvDilationW, 1),
                 options->GetField<int32_t>(kConvDilationH, 1), options, subject);
        break;
      }
      case static_cast<int32_t>(TfliteOpcode::kDepthwiseConv2d): {
        expect_options(kDepthwiseConv2DOptions, true);
        out.opcode = TfliteOpcode::kDepthwiseConv2d;
        out.padding = padding(options->GetField<int8_t>(kOptPadding, 0), options, subject);
        out.stride_w = options->GetField<int32_t>(kOptStrideW, 0);
        out.stride_h = options->GetField<int32_t>(kOptStrideH, 0);
        out.depth_multiplier = options->GetField<int32_t>(kDepthwiseMultiplier, 0);
        positive(out.depth_multiplier, options, subject + ": depth_multiplier");
        out.activation =
            activation(options->GetField<int8_t>(kDepthwiseActivation, 0), options, subject);
        dilation(options->GetField<int32_t>(kDepthwiseDilationW, 1),
                 options->GetField<int32_t>(kDepthwiseDilationH, 1), options, subject);
        break;
      }
      case static_cast<int32_t>(TfliteOpcode::kAveragePool2d): {
        expect_options(kPool2DOptions, true);
        out.opcode = TfliteOpcode::kAveragePool2d;
        out.padding = padding(options->GetField<int8_t>(kOptPadding, 0), options, subject);
        out.stride_w = options->GetField<int32_t>(kOptStrideW, 0);
        out.stride_h = options->GetField<int32_t>(kOptStrideH, 0);
        out.filter_w = options->GetField<int32_t>(kPoolFilterW, 0);
        out.filter_h = options->GetField<int32_t>(kPoolFilterH, 0);
        positive(out.filter_w, options, subject + ": filter_width");
        positive(out.filter_h, options, subject + ": filter_height");
        out.activation = activation(options->GetField<int8_t>(kPoolActivation, 0), options, subject);
        break;
      }
      case static_cast<int32_t>(TfliteOpcode::kAdd): {
        expect_options(kAddOptions, false);
        out.opcode = TfliteOpcode::kAdd;
        if (options != nullptr) {
          out.activation = activation(options->GetField<int8_t>(kAddActivation, 0), options, subject);
        }
        break;
      }
      case static_cast<int32_t>(TfliteOpcode::kReshape):
        expect_options(kReshapeOptions, false);
        out.opcode = TfliteOpcode::kReshape;
        break;
      case static_cast<int32_t>(TfliteOpcode::kSoftmax): {
        expect_options(kSoftmaxOptions, true);
        out.opcode = TfliteOpcode::kSoftmax;
        const float beta = options->GetField<float>(kSoftmaxBeta, 0.0f);
        need(beta == 1.0f, options,
             subject + ": SOFTMAX beta " + std::to_string(beta) + " is not supported (expected 1)");
        break;
      }
      default:
        fail(offset_of(table), subject + ": operator " + name +
                                   " is not supported (expected CONV_2D, DEPTHWISE_CONV_2D, ADD, "
                                   "AVERAGE_POOL_2D, RESHAPE or SOFTMAX)");
    }
    if (out.opcode == TfliteOpcode::kConv2d || out.opcode == TfliteOpcode::kDepthwiseConv2d ||
        out.opcode == TfliteOpcode::kAveragePool2d) {
      positive(out.stride_h, options, subject + ": stride_h");
      positive(out.stride_w, options, subject + ": stride_w");
    }
    return out;
  }

  void dilation(int32_t w, int32_t h, const void* where, const std::string& subject) const {
    need(w == 1 && h == 1, where,
         subject + ": dilation " + std::to_string(h) + "x" + std::to_string(w) +
             " is not supported (expected 1x1)");
  }

  const uint8_t* base_;
  size_t size_;
  std::string origin_;
  Verifier verifier_;
};

}  // namespace

std::string to_string(TfliteType type) {
  static const char* const names[] = {"FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64",
                                      "STRING",  "BOOL",    "INT16", "COMPLEX64", "INT8"};
  const auto code = static_cast<int>(type);
  if (code >= 0 && code < 10) return names[code];
  return "type " + std::to_string(code);
}

std::string to_string(TfliteOpcode opcode) { return opcode_name(static_cast<int32_t>(opcode)); }

TfliteGraph read_tflite_bytes(const std::string& bytes, const std::string& origin) {
  return Reader(bytes, origin).read();
}

TfliteGraph read_tflite(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(file.string() + ": cannot open for reading");
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw IoError(file.string() + ": read failed");
  return read_tflite_bytes(content.str(), file.string());
}

at::Tensor dequantize(const TfliteTensor& tensor) {
  const std::string subject = "tensor '" + tensor.name + "'";
  if (tensor.data.empty()) throw FormatError(subject + ": expected a constant, found an activation");
  const auto bytes = torch::from_blob(const_cast<uint8_t*>(tensor.data.data()),
                                      {static_cast<int64_t>(tensor.data.size())}, torch::kUInt8);
  torch::Tensor values;
  switch (tensor.type) {
    case TfliteType::kFloat32:
      return bytes.clone().view(torch::kFloat32).reshape(tensor.shape);
    case TfliteType::kUint8:
      values = bytes.to(torch::kFloat64);
      break;
    case TfliteType::kInt8:
      values = bytes.clone().view(torch::kInt8).to(torch::kFloat64);
      break;
    case TfliteType::kInt32:
      values = bytes.clone().view(torch::kInt32).to(torch::kFloat64);
      break;
    default:
      throw FormatError(subject + ": cannot dequantize type " + to_string(tensor.type) +
                        " (expected FLOAT32, UINT8, INT8 or INT32)");
  }
  values = values.reshape(tensor.shape);
  const auto count = static_cast<int64_t>(tensor.scale.size());
  if (count == 0 || tensor.zero_point.size() != tensor.scale.size()) {
    throw FormatError(subject + ": expected matching quantization scales and zero points, found " +
                      std::to_string(count) + " scales and " +
                      std::to_string(tensor.zero_point.size()) + " zero points");
  }
  if (count == 1) {
    // One scale for the whole tensor: a scalar, so that a 0-d constant keeps its shape.
    return ((values - static_cast<double>(tensor.zero_point[0])) *
            static_cast<double>(tensor.scale[0]))
        .to(torch::kFloat32);
  }
  auto scale = torch::tensor(std::vector<double>(tensor.scale.begin(), tensor.scale.end()),
                             torch::kFloat64);
  auto zero = torch::tensor(tensor.zero_point, torch::kInt64).to(torch::kFloat64);
  const int64_t dim = tensor.quantized_dimension;
  if (dim < 0 || dim >= values.dim() || values.size(dim) != count) {
    throw FormatError(subject + ": " + std::to_string(count) + " scales do not match dimension " +
                      std::to_string(dim) + " of its shape");
  }
  std::vector<int64_t> shape(static_cast<size_t>(values.dim()), 1);
  shape[static_cast<size_t>(dim)] = count;
  scale = scale.reshape(shape);
  zero = zero.reshape(shape);
  return ((values - zero) * scale).to(torch::kFloat32);
}

}  // namespace xfer::pretrained
