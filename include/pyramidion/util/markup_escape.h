#pragma once
// The one escaper for text placed in HTML and SVG/XML (pages, plots, the highlight view): & < > " ' become
// entities, so a document's text can never open a tag or end an attribute.
#include <string>

namespace pyramidion {

std::string markup_escape(const std::string& text);

}  // namespace pyramidion
