#include "png_writer.h"

namespace xfer::testing {
namespace {

void append_bytes(png_structp png, png_bytep data, png_size_t size) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + size);
}

void no_flush(png_structp) {}

int samples_of(int color) {
  switch (color) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_PALETTE:
      return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return 2;
    case PNG_COLOR_TYPE_RGB:
      return 3;
    default:
      return 4;
  }
}

}  // namespace

std::vector<uint8_t> write_png(const PngKind& kind) {
  constexpr int kWidth = 13;
  constexpr int kHeight = 11;
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, append_bytes, no_flush);
  png_set_IHDR(png, info, kWidth, kHeight, kind.depth, kind.color,
               kind.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> palette;
  std::vector<png_byte> alphas;
  if (kind.color == PNG_COLOR_TYPE_PALETTE) {
    for (int i = 0; i < (1 << kind.depth); ++i) {
      palette.push_back({static_cast<png_byte>(i * 37), static_cast<png_byte>(255 - i * 11),
                         static_cast<png_byte>(i * 5 + 3)});
      alphas.push_back(static_cast<png_byte>(i * 17));
    }
    png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
    if (kind.transparency)
      png_set_tRNS(png, info, alphas.data(), static_cast<int>(alphas.size()), nullptr);
  } else if (kind.transparency) {
    png_color_16 key{};
    key.red = key.green = key.blue = key.gray = 7;
    png_set_tRNS(png, info, nullptr, 0, &key);
  }
  png_write_info(png, info);
  const int samples = samples_of(kind.color);
  const int bits = samples * kind.depth * kWidth;
  std::vector<std::vector<png_byte>> rows(kHeight, std::vector<png_byte>((bits + 7) / 8));
  const int max = (1 << kind.depth) - 1;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      for (int c = 0; c < samples; ++c) {
        const int value = (x * 7919 + y * 104729 + c * 15485863) % (max + 1);
        const int index = x * samples + c;
        if (kind.depth == 16) {
          rows[y][index * 2] = static_cast<png_byte>(value >> 8);
          rows[y][index * 2 + 1] = static_cast<png_byte>(value & 0xff);
        } else if (kind.depth == 8) {
          rows[y][index] = static_cast<png_byte>(value);
        } else {
          const int bit = index * kind.depth;
          rows[y][bit / 8] |= static_cast<png_byte>(value << (8 - kind.depth - bit % 8));
        }
      }
    }
  }
  std::vector<png_bytep> pointers;
  for (auto& row : rows) pointers.push_back(row.data());
  png_write_image(png, pointers.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace xfer::testing
