#pragma once
// Bounds-checked little-endian reading of a file held in memory; every failure is a FormatError
// naming the file (or part) and the byte offset.

#include "xfer/core/error.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace xfer::weights::detail {

/// A cursor over `bytes[begin, end)`; offsets in messages count from the start of `bytes`.
class ByteReader {
 public:
  /// Reads `bytes` from `pos` to `end` (clamped to the size); `origin` prefixes every message.
  ByteReader(const std::string& bytes, size_t pos, size_t end, std::string origin)
      : bytes_(bytes), pos_(pos), end_(end < bytes.size() ? end : bytes.size()),
        origin_(std::move(origin)) {}

  /// The offset of the next byte.
  size_t pos() const { return pos_; }
  /// Bytes left before the end.
  size_t remaining() const { return pos_ < end_ ? end_ - pos_ : 0; }
  /// The name used in messages.
  const std::string& origin() const { return origin_; }

  /// Throws FormatError "<origin>: byte <at>: <what>".
  [[noreturn]] void fail_at(size_t at, const std::string& what) const {
    throw FormatError(origin_ + ": byte " + std::to_string(at) + ": " + what);
  }

  /// The next `n` bytes, or FormatError when fewer are left.
  std::string_view take(uint64_t n) {
    if (n > remaining()) {
      fail_at(pos_, "truncated: expected " + std::to_string(n) + " more bytes, found " +
                        std::to_string(remaining()));
    }
    std::string_view out(bytes_.data() + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }

  /// Unsigned little-endian integers of 1, 2, 4 and 8 bytes.
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  uint16_t u16() { return static_cast<uint16_t>(le(take(2))); }
  uint32_t u32() { return static_cast<uint32_t>(le(take(4))); }
  uint64_t u64() { return le(take(8)); }

  /// Decodes up to 8 little-endian bytes as an unsigned integer.
  static uint64_t le(std::string_view b) {
    uint64_t v = 0;
    for (size_t i = b.size(); i > 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i - 1]);
    return v;
  }

 private:
  const std::string& bytes_;
  size_t pos_;
  size_t end_;
  std::string origin_;
};

}  // namespace xfer::weights::detail
