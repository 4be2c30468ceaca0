#pragma once
// The pieces of xfer's self-contained HTML pages: one style sheet, escaping, embedded PNGs and
// sections.

#include <filesystem>
#include <string>

namespace xfer::viz::detail {

/// The style sheet every page carries inline (no external file or font).
extern const char* const kPageStyle;

/// `text` with & < > " ' replaced by their entities.
std::string escape(const std::string& text);

/// `bytes` in base64 (RFC 4648, padded).
std::string base64(const std::string& bytes);

/// `value` with `decimals` digits after the point.
std::string fixed(double value, int decimals);

/// An <img> embedding the PNG file `file` (described by `alt`), or a note: `absent` when there
/// is no such file, another when it is not a PNG. Throws IoError when it cannot be read.
std::string embed_png(const std::filesystem::path& file, const std::string& alt,
                      const std::string& absent);

/// An <img> embedding the PNG `bytes`, described by `alt`.
std::string embed_png_bytes(const std::string& bytes, const std::string& alt);

/// A <section id="`id`"> with the heading `title` (escaped) over `body` (HTML).
std::string section(const std::string& id, const std::string& title, const std::string& body);

/// The start of a page up to <main>: doctype, charset, `title` (escaped) and kPageStyle.
std::string page_head(const std::string& title);

/// The end of a page after its content: </main>, </body>, </html>.
std::string page_tail();

}  // namespace xfer::viz::detail
