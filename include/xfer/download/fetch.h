#pragma once
// Downloading into a local cache with libcurl: checksum verified, written atomically, transient
// failures retried. Used for pretrained weights and for dataset archives (docs/downloads.md).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace xfer::download {

/// Where downloads are cached: $XFER_HOME, else $XDG_CACHE_HOME/xfer (when absolute), else
/// $HOME/.cache/xfer; empty variables count as unset. The folder need not exist yet. Throws
/// IoError when none of the three variables is set.
std::filesystem::path cache_dir();

/// What to fetch and how to recognise it.
struct Request {
  /// The official address (http, https or file URL).
  std::string url;
  /// Expected SHA-256: 64 hex digits, or a prefix of at least 8 (as torchvision puts in file
  /// names). Empty when `md5` is given instead.
  std::string sha256;
  /// Expected MD5: 32 hex digits (dataset archives are published with one). Empty when `sha256`
  /// is given; when both are given both must match.
  std::string md5;
  /// Name of the file in the cache; empty means the last path segment of `url`.
  std::string file_name;
};

/// Progress of one transfer attempt: bytes received so far, bytes expected (0 when the server
/// does not say).
using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// The cached file for `request`, downloading it first when it is absent or when the cached
/// copy's checksum is wrong (that copy is removed). The address is `url_override` when not empty,
/// else `$XFER_WEIGHTS_MIRROR/<file name>` when that variable is set, else `request.url`.
/// The body goes to a temporary file in the cache folder, is hashed on the way, and is renamed
/// into place only when complete and matching: a failed, truncated or corrupt download leaves
/// nothing in the cache. Connection failures, HTTP 408/429/5xx and truncated bodies are retried
/// up to `retries` more times with a short doubling pause; other HTTP errors (404) are not.
/// `progress`, when given, is called as bytes arrive, on the calling thread; an exception it
/// throws aborts the transfer (nothing is cached) and propagates.
/// Throws InvalidArgument for a request without a well-formed checksum or with an unusable file
/// name (before any network access); IoError naming the address and what happened (HTTP status,
/// bytes got of expected, checksum got and expected, the system's reason for a cache failure).
std::filesystem::path fetch(const Request& request, const Progress& progress = {}, int retries = 3,
                            const std::string& url_override = "");

}  // namespace xfer::download
