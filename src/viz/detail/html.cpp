#include "detail/html.h"

#include "xfer/core/files.h"

#include <cstdint>
#include <cstdio>
#include <system_error>

namespace xfer::viz::detail {

const char* const kPageStyle = R"(
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 0; background: #f5f6f8;
       color: #1a1a1a; line-height: 1.4; }
main { max-width: 1260px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 0 0 12px; }
nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px;
          padding: 16px 20px; margin: 16px 0; }
img { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 14px; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e6e8eb; text-align: right; }
th { background: #f0f2f5; }
th:first-child, td:first-child { text-align: left; }
tr.best td { background: #e2f3df; font-weight: bold; }
tr.total td { border-top: 2px solid #9aa0a6; font-weight: bold; }
.status { font-size: 15px; margin: 0; }
.pending { color: #9a5b00; }
.note { color: #5f6368; font-style: italic; }
pre { background: #f3f4f6; padding: 12px; overflow: auto; font-size: 13px; margin: 0; }
figure { margin: 0 0 20px; }
figcaption { font-family: "DejaVu Sans Mono", monospace; margin: 4px 0; }
dl { display: grid; grid-template-columns: max-content auto; gap: 4px 20px; margin: 0; }
dt { color: #5f6368; }
dd { margin: 0; font-weight: bold; font-variant-numeric: tabular-nums; }
)";

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* const kDigits =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    for (const int shift : {18, 12, 6, 0}) out += kDigits[(v >> shift) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string embed_png(const std::filesystem::path& file, const std::string& alt,
                      const std::string& absent) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    return "<p class=\"note\">" + escape(absent) + "</p>\n";
  }
  const std::string bytes = read_file(file);
  if (bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    return "<p class=\"note\">" + escape(file.filename().string()) +
           " is not a PNG file; it is left out.</p>\n";
  }
  return embed_png_bytes(bytes, alt);
}

std::string embed_png_bytes(const std::string& bytes, const std::string& alt) {
  return "<img src=\"data:image/png;base64," + base64(bytes) + "\" alt=\"" + escape(alt) + "\">\n";
}

std::string section(const std::string& id, const std::string& title, const std::string& body) {
  return "<section id=\"" + id + "\">\n<h2>" + escape(title) + "</h2>\n" + body + "</section>\n";
}

std::string page_head(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<title>" +
         escape(title) + "</title>\n<style>" + kPageStyle + "</style>\n</head>\n<body>\n<main>\n";
}

std::string page_tail() { return "</main>\n</body>\n</html>\n"; }

}  // namespace xfer::viz::detail
