#pragma once
// GET /: one self-contained HTML page (inline CSS and script, no external assets) to paste or upload a
// document, read its summary and see what the poolers kept (the highlight view of explain/highlight_page.h).
#include <string>

namespace pyramidion::server {

const std::string& index_page_html();

}  // namespace pyramidion::server
