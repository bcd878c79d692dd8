// The highlight page: CSS and a dependency-free renderer (plain DOM, no external assets), filled from the JSON
// of highlight_json(). The server's GET / page embeds the same CSS and script (src/server/index_page.cpp).
#include "pyramidion/explain/highlight_page.h"

#include "pyramidion/util/markup_escape.h"

#include <nlohmann/json.hpp>

namespace pyramidion {

const std::string& highlight_view_css() {
  static const std::string css = R"CSS(
.hl-root { font: 15px/1.55 system-ui, sans-serif; color: #222; }
.hl-root h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.hl-bar { display: flex; flex-wrap: wrap; gap: .6rem 1.4rem; align-items: center; padding: .5rem 0 .7rem;
  border-bottom: 1px solid #ddd; position: sticky; top: 0; background: #fff; z-index: 2; }
.hl-legend { display: flex; align-items: center; gap: .4rem; font-size: .85rem; color: #444; }
.hl-ramp { display: inline-block; width: 12rem; height: .9rem; border: 1px solid #999; }
.hl-stats { font-size: .85rem; color: #555; }
.hl-note { color: #8a4b00; background: #fff6e5; padding: .4rem .7rem; border-radius: 4px; font-size: .9rem; }
.hl-main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(16rem, 2fr); gap: 1.5rem; }
@media (max-width: 50rem) { .hl-main { grid-template-columns: minmax(0, 1fr); } }
.hl-doc { padding-top: .6rem; }
.hl-w { border-radius: 2px; padding: 0 1px; }
.hl-w.hl-unread { color: #aaa; }
.hl-s.hl-linked { outline: 2px solid #e4572e; outline-offset: 1px; }
.hl-s.hl-focus { outline: 3px solid #e4572e; }
.hl-side { position: sticky; top: 3.5rem; align-self: start; max-height: calc(100vh - 4rem); overflow: auto; }
.hl-summary { background: #f4f6f8; border-left: 4px solid #4a7; padding: .6rem .8rem; }
/* Long unbroken tokens (URLs, sequences, <dig> runs) wrap instead of widening the panels. */
.hl-summary, .hl-doc, .hl-links, .hl-ranking { overflow-wrap: anywhere; }
.hl-sw { cursor: pointer; border-bottom: 1px dotted #888; }
.hl-sw.hl-active { background: #e4572e; color: #fff; }
.hl-sw.hl-copied { background: #d7ecd9; }
.hl-links { font-size: .85rem; color: #444; margin-top: .4rem; min-height: 1.2rem; }
.hl-links a, .hl-ranking a { color: #2a5db0; cursor: pointer; text-decoration: none; }
.hl-ranking { padding-left: 1.6rem; font-size: .88rem; }
.hl-ranking li { margin-bottom: .3rem; }
.hl-share { font-variant-numeric: tabular-nums; color: #555; margin-right: .3rem; }
)CSS";
  return css;
}

const std::string& highlight_view_script() {
  static const std::string script = R"JS(
(function () {
  "use strict";
  // White, then matplotlib's viridis reversed: lightness falls monotonically from 0 (white: nothing kept) through
  // light yellow to 1 (dark violet: the most kept word), so untouched text stays plain.
  const STOPS = ["#ffffff", "#fde725", "#b5de2b", "#6ece58", "#35b779", "#1f9e89", "#26828e", "#31688e", "#3e4989", "#482878",
    "#440154"].map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
  function colour(v) {
    v = Math.max(0, Math.min(1, v));
    const x = v * (STOPS.length - 1), i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
    const c = [0, 1, 2].map((k) => Math.round(STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f));
    return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
  }
  const ink = (v) => (v > 0.5 ? "#fff" : "#111");
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const pct = (x) => (100 * x).toFixed(x >= 0.01 ? 1 : 3) + "%";
  const CHUNK_WORDS = 1500;  // words per rendering step: the first screen is there at once, the rest follows
  let instances = 0;

  function render(root, data) {
    const id = "hl" + (++instances);
    const layers = data.layers || [];
    const words = data.words || [], sentences = data.sentences || [], summaryWords = data.summary_words || [];
    const state = { layer: layers.length - 1, rendered: 0, chunks: [], spans: new Array(words.length), sentenceSpans: [],
                    cancelled: false };
    if (root.pyramidionHighlightCleanup) root.pyramidionHighlightCleanup();  // a previous render of this element
    root.classList.add("hl-root");
    root.dataset.rendered = "0";
    const maxima = layers.map((_, l) => words.reduce((m, w) => Math.max(m, w.shares[l] || 0), 0));
    const ramp = `linear-gradient(to right, ${STOPS.map((c) => `rgb(${c.join(",")})`).join(", ")})`;
    const layerOptions = layers.map((l, i) =>
      `<option value="${i}"${i === layers.length - 1 ? " selected" : ""}>after encoder layer ${l.layer}: ${l.output_length} of ${l.input_length} kept</option>`).join("");
    root.innerHTML = `
      <div class="hl-bar">
        ${layers.length ? `<label>pooling layer <select class="hl-layer">${layerOptions}</select></label>
        <div class="hl-legend"><span>0</span><span class="hl-ramp" style="background:${ramp}"></span>
          <span class="hl-legend-max"></span><span>of the pooled memory per word</span></div>` : ""}
        <div class="hl-stats"></div>
      </div>
      ${layers.length ? "" : `<p class="hl-note">This model has no pooling layers: its memory holds every token, so nothing was selected (nothing pooled). The summary's links use the cross-attention alone.</p>`}
      ${data.truncated ? `<p class="hl-note">The document was cut at ${data.source_tokens} tokens: grey words were never read.</p>` : ""}
      <div class="hl-main">
        <div class="hl-doc"></div>
        <aside class="hl-side">
          <h3>Summary</h3><div class="hl-summary"></div>
          <div class="hl-links">Click a summary word to see the sentences it drew on.</div>
          <h3>Most kept sentences</h3><ol class="hl-ranking"></ol>
        </aside>
      </div>`;
    const $ = (sel) => root.querySelector(sel);
    const doc = $(".hl-doc"), select = $(".hl-layer");

    // Sentences in chunks of about CHUNK_WORDS words.
    let chunk = [], count = 0;
    sentences.forEach((s, i) => {
      chunk.push(i);
      count += s.words;
      if (count >= CHUNK_WORDS) { state.chunks.push(chunk); chunk = []; count = 0; }
    });
    if (chunk.length) state.chunks.push(chunk);

    function shade(i) {
      const span = state.spans[i], w = words[i];
      if (!span) return;
      if (w.first_token < 0) { span.classList.add("hl-unread"); return; }
      if (state.layer < 0) return;
      const v = maxima[state.layer] > 0 ? (w.shares[state.layer] || 0) / maxima[state.layer] : 0;
      span.style.backgroundColor = colour(v);
      span.style.color = ink(v);
    }
    function renderChunk() {
      const c = state.chunks[state.rendered];
      const html = c.map((s) => {
        const sentence = sentences[s];
        let inner = "";
        for (let w = sentence.first_word; w < sentence.first_word + sentence.words; ++w)
          inner += `<span class="hl-w" data-w="${w}">${esc(words[w].text)}</span> `;
        return `<span class="hl-s" id="${id}-s${s}" data-s="${s}">${inner}</span> `;
      }).join("");
      const before = doc.children.length;
      doc.insertAdjacentHTML("beforeend", html);
      for (let k = before; k < doc.children.length; ++k) {
        const el = doc.children[k], s = Number(el.dataset.s);
        state.sentenceSpans[s] = el;
        for (const span of el.children) { const w = Number(span.dataset.w); state.spans[w] = span; shade(w); }
      }
      state.rendered++;
    }
    function renderUpTo(sentence) {
      while (state.rendered < state.chunks.length && !state.sentenceSpans[sentence]) renderChunk();
    }
    function pump() {
      if (state.cancelled) return;
      if (state.rendered < state.chunks.length) { renderChunk(); setTimeout(pump, 0); }
      else root.dataset.rendered = "1";
    }

    function stats() {
      const parts = [`${data.source_tokens} tokens read${data.truncated ? " (truncated)" : ""}, ${words.length} words, ${sentences.length} sentences`];
      if (state.layer >= 0) {
        const l = layers[state.layer];
        parts.push(`layer ${l.layer} keeps ${l.output_length} of ${l.input_length}${l.hard ? " (hard top-k)" : ""}`);
        parts.push(`end of document ${pct(l.end_of_document_share)}, padding ${pct(l.padding_share)}`);
        $(".hl-legend-max").textContent = pct(maxima[state.layer]);
      }
      $(".hl-stats").textContent = parts.join(" \u00b7 ");
    }
    function ranking() {
      const order = sentences.map((_, i) => i);
      if (state.layer >= 0) order.sort((a, b) => (sentences[b].shares[state.layer] - sentences[a].shares[state.layer]) || a - b);
      $(".hl-ranking").innerHTML = order.slice(0, 15).map((s) => {
        const text = sentences[s].text.length > 140 ? sentences[s].text.slice(0, 140) + "\u2026" : sentences[s].text;
        const share = state.layer >= 0 ? `<span class="hl-share">${pct(sentences[s].shares[state.layer])}</span>` : "";
        return `<li data-s="${s}">${share}<a data-goto="${s}">${esc(text)}</a></li>`;
      }).join("");
    }
    function setLayer(l) {
      state.layer = l;
      root.dataset.layer = String(l);
      for (let i = 0; i < words.length; ++i) shade(i);
      stats();
      ranking();
    }
    function focus(s) {
      renderUpTo(s);
      const el = state.sentenceSpans[s];
      if (!el) return;
      root.querySelectorAll(".hl-focus").forEach((e) => e.classList.remove("hl-focus"));
      el.classList.add("hl-focus");
      el.scrollIntoView({ block: "center", behavior: "smooth" });
    }

    // The summary: one line per summary sentence; a word click marks its source sentences.
    let lines = [], current = -1;
    summaryWords.forEach((w, k) => {
      if (w.sentence !== current) { lines.push([]); current = w.sentence; }
      // Copy-attention models: words mostly copied from the document (1 - p_gen > 0.5) are marked.
      const copied = w.copied !== undefined && w.copied > 0.5;
      const title = w.copied !== undefined ? ` title="copied ${pct(w.copied)}"` : "";
      lines[lines.length - 1].push(`<span class="hl-sw${copied ? " hl-copied" : ""}" data-k="${k}"${title}>${esc(w.text)}</span>`);
    });
    $(".hl-summary").innerHTML = lines.length ? lines.map((l) => l.join(" ")).join("<br>") : esc(data.summary || "");
    const onClick = (event) => {
      const target = event.target;
      if (target.dataset && target.dataset.goto !== undefined) return focus(Number(target.dataset.goto));
      if (!target.classList || !target.classList.contains("hl-sw")) return;
      const w = summaryWords[Number(target.dataset.k)];
      root.querySelectorAll(".hl-active").forEach((e) => e.classList.remove("hl-active"));
      root.querySelectorAll(".hl-linked").forEach((e) => e.classList.remove("hl-linked"));
      target.classList.add("hl-active");
      for (const link of w.sources) { renderUpTo(link.sentence); const el = state.sentenceSpans[link.sentence]; if (el) el.classList.add("hl-linked"); }
      $(".hl-links").innerHTML = w.sources.length
        ? `\u201c${esc(w.text)}\u201d ` + (w.copied !== undefined ? `was copied ${pct(w.copied)}, ` : "") + `drew on ` + w.sources.map((l) => `<a data-goto="${l.sentence}">sentence ${l.sentence + 1}</a> (${pct(l.share)})`).join(", ")
        : `no cross-attention recorded for \u201c${esc(w.text)}\u201d`;
      if (w.sources.length) focus(w.sources[0].sentence);
    };
    const onOver = (event) => {
      const t = event.target;
      if (!t.classList || !t.classList.contains("hl-w") || t.title) return;
      const w = words[Number(t.dataset.w)];
      t.title = w.first_token < 0 ? "never read (after the truncation point)"
        : layers.map((l, i) => `layer ${l.layer}: ${pct(w.shares[i])}`).join(", ") + ` \u00b7 sentence ${w.sentence + 1}, rank ${sentences[w.sentence].rank + 1}`;
    };
    root.addEventListener("click", onClick);
    root.addEventListener("mouseover", onOver);
    root.pyramidionHighlightCleanup = () => {
      state.cancelled = true;
      root.removeEventListener("click", onClick);
      root.removeEventListener("mouseover", onOver);
    };
    if (select) select.addEventListener("change", () => setLayer(Number(select.value)));
    setLayer(state.layer);
    if (state.chunks.length) renderChunk();
    setTimeout(pump, 0);
  }
  window.pyramidionHighlight = { render: render, colour: colour };
})();
)JS";
  return script;
}

std::string script_safe_json(const std::string& json) {
  std::string out;
  out.reserve(json.size() + 16);
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += json[i];
    }
  }
  return out;
}

std::string highlight_page_html(const DocumentHighlight& highlight, const HighlightPageOptions& options) {
  const std::string data = highlight_json(highlight, /*include_tokens=*/false, /*digits=*/6)
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string page;
  page.reserve(data.size() + 16384);
  page +=
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  page += markup_escape(options.title);
  page +=
      "</title>\n<style>\nbody { margin: 1rem 2rem; }\nheader h1 { font: 600 1.3rem system-ui, sans-serif; margin: 0; "
      "}\n"
      "header p { font: .9rem system-ui, sans-serif; color: #666; margin: .2rem 0 0; }\n";
  page += highlight_view_css();
  page += "</style>\n</head>\n<body>\n<header><h1>";
  page += markup_escape(options.title);
  page += "</h1>";
  if (!options.subtitle.empty()) page += "<p>" + markup_escape(options.subtitle) + "</p>";
  page += "</header>\n<div id=\"highlight\"></div>\n<script type=\"application/json\" id=\"highlight-data\">";
  page += script_safe_json(data);
  page += "</script>\n<script>";
  page += highlight_view_script();
  page +=
      "\nwindow.pyramidionHighlight.render(document.getElementById(\"highlight\"),\n"
      "  JSON.parse(document.getElementById(\"highlight-data\").textContent));\n</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace pyramidion
