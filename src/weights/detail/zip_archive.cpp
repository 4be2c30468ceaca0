#include "detail/zip_archive.h"

#include "detail/byte_reader.h"

#include <array>
#include <cstdint>

namespace xfer::weights::detail {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr size_t kEndOfDirectorySize = 22;

uint32_t crc32(const char* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct Directory {
  uint64_t entries = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

Directory find_directory(const std::string& bytes, const std::string& origin) {
  ByteReader whole(bytes, 0, bytes.size(), origin);
  if (bytes.size() < kEndOfDirectorySize) {
    whole.fail_at(bytes.size(), "truncated zip archive: no end-of-central-directory record");
  }
  // The record ends the file, followed only by a comment of at most 65535 bytes.
  size_t last = bytes.size() - kEndOfDirectorySize;
  size_t first = last > 65535 ? last - 65535 : 0;
  for (size_t at = last + 1; at-- > first;) {
    ByteReader r(bytes, at, bytes.size(), origin);
    if (r.u32() != kEndOfDirectory) continue;
    r.take(4);  // disk numbers
    r.u16();    // entries on this disk
    Directory d;
    d.entries = r.u16();
    d.size = r.u32();
    d.offset = r.u32();
    uint16_t comment = r.u16();
    if (comment != r.remaining()) continue;  // a signature inside the comment or the data
    bool zip64 = d.entries == 0xFFFF || d.size == 0xFFFFFFFFu || d.offset == 0xFFFFFFFFu;
    if (at >= 20) {
      ByteReader loc(bytes, at - 20, at, origin);
      if (loc.u32() == kZip64Locator) {
        loc.u32();
        uint64_t end64 = loc.u64();
        ByteReader e(bytes, end64 < at ? static_cast<size_t>(end64) : at, at, origin);
        if (e.u32() != kZip64EndOfDirectory) {
          e.fail_at(e.pos() - 4, "expected a zip64 end-of-central-directory record");
        }
        e.u64();      // record size
        e.take(12);   // versions, disk numbers
        e.u64();      // entries on this disk
        d.entries = e.u64();
        d.size = e.u64();
        d.offset = e.u64();
        zip64 = false;
      }
    }
    if (zip64) r.fail_at(at, "zip64 archive without a zip64 end-of-central-directory locator");
    if (d.offset > bytes.size() || d.size > bytes.size() - d.offset) {
      r.fail_at(at, "central directory [" + std::to_string(d.offset) + ", +" +
                        std::to_string(d.size) + ") lies outside the " +
                        std::to_string(bytes.size()) + "-byte file");
    }
    return d;
  }
  whole.fail_at(bytes.size(), "no zip end-of-central-directory record (truncated archive?)");
}

}  // namespace

bool looks_like_zip(const std::string& bytes) {
  return bytes.size() >= 4 && ByteReader::le(std::string_view(bytes.data(), 4)) == kLocalHeader;
}

std::vector<ZipEntry> read_zip_entries(const std::string& bytes, const std::string& origin) {
  Directory dir = find_directory(bytes, origin);
  ByteReader r(bytes, static_cast<size_t>(dir.offset), static_cast<size_t>(dir.offset + dir.size),
               origin);
  std::vector<ZipEntry> entries;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    size_t at = r.pos();
    if (r.u32() != kCentralHeader) r.fail_at(at, "expected a zip central directory header");
    r.take(4);  // versions
    uint16_t flags = r.u16();
    uint16_t method = r.u16();
    r.take(4);  // time, date
    uint32_t crc = r.u32();
    uint64_t packed = r.u32();
    uint64_t size = r.u32();
    uint16_t name_len = r.u16();
    uint16_t extra_len = r.u16();
    uint16_t comment_len = r.u16();
    r.take(8);  // disk, attributes
    uint64_t local = r.u32();
    ZipEntry e;
    e.name = std::string(r.take(name_len));
    ByteReader extra(bytes, r.pos(), r.pos() + extra_len, origin);
    r.take(extra_len);
    r.take(comment_len);
    while (extra.remaining() >= 4) {
      uint16_t id = extra.u16();
      uint16_t len = extra.u16();
      ByteReader field(bytes, extra.pos(), extra.pos() + len, origin);
      extra.take(len);
      if (id != 0x0001) continue;
      if (size == 0xFFFFFFFFu) size = field.u64();
      if (packed == 0xFFFFFFFFu) packed = field.u64();
      if (local == 0xFFFFFFFFu) local = field.u64();
    }
    if (flags & 1) r.fail_at(at, "zip entry '" + e.name + "' is encrypted");
    e.method = method;
    if (method == 0 && packed != size) {
      r.fail_at(at, "zip entry '" + e.name + "' is stored but its sizes differ (" +
                        std::to_string(packed) + " vs " + std::to_string(size) + ")");
    }
    ByteReader lh(bytes, local < bytes.size() ? static_cast<size_t>(local) : bytes.size(),
                  bytes.size(), origin);
    if (lh.u32() != kLocalHeader) {
      lh.fail_at(lh.pos() - 4, "expected the local header of zip entry '" + e.name + "'");
    }
    lh.take(22);
    uint16_t local_name = lh.u16();
    uint16_t local_extra = lh.u16();
    lh.take(static_cast<uint64_t>(local_name) + local_extra);
    e.offset = lh.pos();
    std::string_view data = lh.take(method == 0 ? size : packed);
    e.size = data.size();
    if (method == 0 && crc32(data.data(), data.size()) != crc) {
      lh.fail_at(e.offset, "CRC-32 mismatch in zip entry '" + e.name + "' (corrupt file)");
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace xfer::weights::detail
