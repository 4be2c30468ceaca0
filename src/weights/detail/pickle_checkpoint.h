#pragma once
// Turning an unpickled torch.save object into a Checkpoint: storages bound to their bytes,
// tensors rebuilt as views of them, the state_dict unwrapped and the other entries printed.

#include "detail/unpickler.h"
#include "xfer/weights/checkpoint.h"

#include <functional>
#include <map>
#include <string>

namespace xfer::weights::detail {

/// The root storages a graph refers to, key → reference (dtype and root size). Throws
/// FormatError when one key is used with two dtypes or sizes.
std::map<std::string, StorageRef> storages_of(const PickleGraph& graph, const std::string& origin);

/// A 1-D tensor of `numel` elements of `dtype` copied from `data` (which holds exactly
/// numel × element size bytes, little-endian); bool bytes are normalised to 0/1.
torch::Tensor storage_tensor(const char* data, c10::ScalarType dtype, int64_t numel);

/// The checkpoint the graph describes, each storage key resolved through `roots`. The top level
/// must be a dict. Throws FormatError naming `origin`.
Checkpoint checkpoint_from_graph(const PickleGraph& graph,
                                 const std::map<std::string, torch::Tensor>& roots,
                                 const std::string& origin, const std::string& format);

/// A Python-like rendering of a value, at most about 200 characters.
std::string printable(const PickleGraph& graph, ValueId id);

/// Whether every key starts with "module." (DataParallel); if so returns the dict without it.
StateDict strip_data_parallel_prefix(StateDict tensors);

}  // namespace xfer::weights::detail
