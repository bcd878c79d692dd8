#pragma once
// The highlight view as HTML: one self-contained page (inline CSS, script and data; no external assets, opens
// from disk) for `pyramidion highlight -o page.html`, and the same renderer for the server's GET / page.
// The renderer reads the JSON of highlight_json(h, /*include_tokens=*/false): words shaded by their share of
// the memory (white, then reversed viridis: a perceptually ordered scale, with a legend), a per-pooling-layer toggle,
// sentences ranked by kept share, the summary with each word linked to the source sentences it drew on.
// Long documents render in chunks after the first screen (a 10k-word article is readable at once).
#include <string>

#include "pyramidion/explain/highlight.h"

namespace pyramidion {

struct HighlightPageOptions {
  std::string title = "pyramidion highlight";
  std::string subtitle;  // e.g. the model file and its architecture
};

// The whole page for one document.
std::string highlight_page_html(const DocumentHighlight& highlight, const HighlightPageOptions& options = {});

// The pieces, for embedding the view in another page: a <style> body, and a script that defines
// `window.pyramidionHighlight.render(element, data)` (data: highlight_json(h, false)); render() may be called
// again on the same element with new data.
const std::string& highlight_view_css();
const std::string& highlight_view_script();

// JSON text safe inside <script type="application/json"> (escapes "</").
std::string script_safe_json(const std::string& json);

}  // namespace pyramidion
