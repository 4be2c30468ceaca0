#include "detail/canvas.h"

#include "xfer/core/error.h"

#include <cairo.h>
#include <glib.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <cmath>

namespace xfer::viz::detail {
namespace {

// Pango takes UTF-8 only (and complains on stderr otherwise); names read from files may not be.
std::string valid_utf8(const std::string& text) {
  if (g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr)) return text;
  gchar* fixed = g_utf8_make_valid(text.data(), static_cast<gssize>(text.size()));
  std::string out(fixed);
  g_free(fixed);
  return out;
}

void set_colour(cairo_t* cr, Colour colour) {
  cairo_set_source_rgb(cr, colour.r, colour.g, colour.b);
}

// A layout of `text` in `style`, owned by the caller (g_object_unref).
PangoLayout* make_layout(cairo_t* cr, const std::string& text, const TextStyle& style) {
  PangoLayout* layout = pango_cairo_create_layout(cr);
  PangoFontDescription* font = pango_font_description_new();
  pango_font_description_set_family(font, style.mono ? "DejaVu Sans Mono" : "DejaVu Sans");
  pango_font_description_set_weight(font, style.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_font_description_set_absolute_size(font, style.size * PANGO_SCALE);
  pango_layout_set_font_description(layout, font);
  pango_font_description_free(font);
  const std::string utf8 = valid_utf8(text);
  pango_layout_set_text(layout, utf8.c_str(), static_cast<int>(utf8.size()));
  if (style.max_width > 0) {
    pango_layout_set_width(layout, static_cast<int>(style.max_width * PANGO_SCALE));
    pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
  }
  return layout;
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

Colour hex(unsigned value) {
  return {((value >> 16) & 0xff) / 255.0, ((value >> 8) & 0xff) / 255.0, (value & 0xff) / 255.0};
}

Colour from_rgb(Rgb rgb) { return {rgb.r / 255.0, rgb.g / 255.0, rgb.b / 255.0}; }

Canvas::Canvas(int width, int height, Colour background) : width_(width), height_(height) {
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide) {
    throw InvalidArgument("picture: expected a size from 1x1 to " + std::to_string(kMaxSide) + "x" +
                          std::to_string(kMaxSide) + " pixels, got " + std::to_string(width) + "x" +
                          std::to_string(height));
  }
  surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cr_ = cairo_create(surface_);
  if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS) {
    const std::string reason = cairo_status_to_string(cairo_status(cr_));
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
    throw Error("picture: cairo cannot make a " + std::to_string(width) + "x" +
                std::to_string(height) + " surface: " + reason);
  }
  set_colour(cr_, background);
  cairo_paint(cr_);
}

Canvas::~Canvas() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

void Canvas::fill_rect(double x, double y, double w, double h, Colour colour) {
  set_colour(cr_, colour);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_fill(cr_);
}

void Canvas::stroke_rect(double x, double y, double w, double h, Colour colour, double line_width) {
  set_colour(cr_, colour);
  cairo_set_line_width(cr_, line_width);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_stroke(cr_);
}

void Canvas::line(double x0, double y0, double x1, double y1, Colour colour, double line_width,
                  double dash) {
  set_colour(cr_, colour);
  cairo_set_line_width(cr_, line_width);
  if (dash > 0) {
    const double pattern[] = {dash, dash * 0.7};
    cairo_set_dash(cr_, pattern, 2, 0);
  }
  cairo_move_to(cr_, x0, y0);
  cairo_line_to(cr_, x1, y1);
  cairo_stroke(cr_);
  cairo_set_dash(cr_, nullptr, 0, 0);
}

void Canvas::polyline(const std::vector<std::pair<double, double>>& points, Colour colour,
                      double line_width) {
  if (points.size() < 2) return;
  set_colour(cr_, colour);
  cairo_set_line_width(cr_, line_width);
  cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
  cairo_move_to(cr_, points[0].first, points[0].second);
  for (size_t i = 1; i < points.size(); ++i) cairo_line_to(cr_, points[i].first, points[i].second);
  cairo_stroke(cr_);
}

void Canvas::disc(double x, double y, double radius, Colour colour) {
  set_colour(cr_, colour);
  cairo_new_sub_path(cr_);
  cairo_arc(cr_, x, y, radius, 0, 2 * M_PI);
  cairo_fill(cr_);
}

void Canvas::text(const std::string& text, double x, double y, const TextStyle& style,
                  double degrees) {
  PangoLayout* layout = make_layout(cr_, text, style);
  int w = 0;
  int h = 0;
  pango_layout_get_pixel_size(layout, &w, &h);
  double dx = 0;
  if (style.align == Align::kCenter) dx = -w / 2.0;
  if (style.align == Align::kRight) dx = -w;
  cairo_save(cr_);
  cairo_translate(cr_, x, y);
  cairo_rotate(cr_, -degrees * M_PI / 180.0);
  cairo_move_to(cr_, dx, 0);
  set_colour(cr_, style.colour);
  pango_cairo_show_layout(cr_, layout);
  cairo_restore(cr_);
  g_object_unref(layout);
}

std::pair<double, double> Canvas::measure(const std::string& text, const TextStyle& style) {
  PangoLayout* layout = make_layout(cr_, text, style);
  int w = 0;
  int h = 0;
  pango_layout_get_pixel_size(layout, &w, &h);
  g_object_unref(layout);
  return {w, h};
}

void Canvas::blit(const transforms::Image& image, int x, int y) {
  cairo_surface_flush(surface_);
  unsigned char* data = cairo_image_surface_get_data(surface_);
  const int stride = cairo_image_surface_get_stride(surface_);
  const int x0 = std::max(0, x);
  const int y0 = std::max(0, y);
  const int x1 = static_cast<int>(std::min<int64_t>(width_, x + image.width));
  const int y1 = static_cast<int>(std::min<int64_t>(height_, y + image.height));
  for (int py = y0; py < y1; ++py) {
    auto* row = reinterpret_cast<uint32_t*>(data + static_cast<ptrdiff_t>(py) * stride);
    for (int px = x0; px < x1; ++px) {
      const int64_t sy = py - y;
      const int64_t sx = px - x;
      const uint32_t r = image.at(sy, sx, 0);
      const uint32_t g = image.channels == 3 ? image.at(sy, sx, 1) : r;
      const uint32_t b = image.channels == 3 ? image.at(sy, sx, 2) : r;
      row[px] = 0xff000000u | (r << 16) | (g << 8) | b;  // CAIRO_FORMAT_RGB24: native-endian xRGB
    }
  }
  if (x1 > x0 && y1 > y0) cairo_surface_mark_dirty_rectangle(surface_, x0, y0, x1 - x0, y1 - y0);
}

std::string Canvas::png() {
  cairo_surface_flush(surface_);
  std::string bytes;
  const cairo_status_t status =
      cairo_surface_write_to_png_stream(surface_, append_to_string, &bytes);
  if (status != CAIRO_STATUS_SUCCESS) {
    throw Error(std::string("picture: cairo cannot encode the PNG: ") +
                cairo_status_to_string(status));
  }
  return bytes;
}

}  // namespace xfer::viz::detail
