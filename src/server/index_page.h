#pragma once
// GET /: one self-contained HTML page (inline CSS and script, no external assets) to paste or upload a
// document and read its summary.
#include <string>

namespace pyramidion::server {

const std::string& index_page_html();

}  // namespace pyramidion::server
