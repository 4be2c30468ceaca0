#pragma once
// Turning an unpickled torch.save object into a Checkpoint: storages bound to their bytes,
// every tensor rebuilt as a view of them under its key path, the model's weights unwrapped and
// the other leaves printed.

#include "detail/unpickler.h"
#include "xfer/weights/checkpoint.h"

#include <map>
#include <string>
#include <vector>

namespace xfer::weights::detail {

/// The root storages a graph refers to, key → reference (dtype and root size). Throws
/// FormatError when one key is used with two dtypes or sizes.
std::map<std::string, StorageRef> storages_of(const PickleGraph& graph, const std::string& origin);

/// A 1-D tensor of `numel` elements of `dtype` copied from `data` (which holds exactly
/// numel × element size bytes, little-endian); bool bytes are normalised to 0/1.
torch::Tensor storage_tensor(const char* data, c10::ScalarType dtype, int64_t numel);

/// The checkpoint the graph describes, each storage key resolved through `roots`. The top level
/// must be a dict, a list or tuple, or a pickled nn.Module. Throws FormatError naming `origin`.
Checkpoint checkpoint_from_graph(const PickleGraph& graph,
                                 const std::map<std::string, torch::Tensor>& roots,
                                 const std::string& origin, const std::string& format);

/// A Python-like rendering of a value, at most about 200 characters.
std::string printable(const PickleGraph& graph, ValueId id);

/// Fills `checkpoint.tensors`, `weights_prefix` and `training_state` from `all_tensors`: the
/// tensors under `prefix` (e.g. "state_dict."; "" for all) with it removed, less those under the
/// top-level entries `training_state`; then, with `strip_wrappers`, `model.` removed when
/// `lightning` and every key has it, then `module.` when every key has it.
void select_weights(Checkpoint& checkpoint, const std::string& prefix,
                    const std::vector<std::string>& training_state, bool strip_wrappers,
                    bool lightning);

/// Whether every key starts with `prefix` (e.g. "module.", DataParallel's); if so returns the
/// dict without it, else the dict as it is (also when removing it would merge two keys).
StateDict strip_common_prefix(StateDict tensors, const std::string& prefix, bool* stripped);

}  // namespace xfer::weights::detail
