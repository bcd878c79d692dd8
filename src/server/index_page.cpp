#include "server/index_page.h"

#include "pyramidion/explain/highlight_page.h"

namespace pyramidion::server {

const std::string& index_page_html() {
  // The highlight view is the same renderer `pyramidion highlight -o` writes (explain/highlight_page.h).
  static const std::string page = std::string(R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pyramidion summarizer</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 84rem; margin: 2rem auto; padding: 0 1.5rem; color: #222; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  #model { color: #666; font-size: .9rem; margin-bottom: 1rem; }
  textarea { width: 100%; min-height: 14rem; font: 14px/1.4 ui-monospace, monospace; box-sizing: border-box; }
  .row { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; margin: .6rem 0; }
  label { font-size: .9rem; }
  input[type=number] { width: 4.5rem; }
  button { font-size: 1rem; padding: .35rem 1.2rem; }
  #options { display: flex; gap: .5rem 1rem; flex-wrap: wrap; font-size: .85rem; margin: .4rem 0; }
  #options label { display: flex; gap: .3rem; align-items: center; }
  #summary { overflow-wrap: anywhere; white-space: pre-wrap; background: #f4f6f8; border-left: 4px solid #4a7; padding: .8rem 1rem; min-height: 2rem; }
  #details { color: #555; font-size: .85rem; margin-top: .4rem; }
  #error { color: #b00; white-space: pre-wrap; }
  .note { color: #777; font-size: .85rem; }
  #highlight-section { margin-top: 1.5rem; }
)PAGE") + highlight_view_css() + R"PAGE(
</style>
</head>
<body>
<h1>pyramidion summarizer</h1>
<div id="model">loading model information&hellip;</div>
<textarea id="document" placeholder="Paste a document here, or choose a text file below."></textarea>
<div class="row">
  <label>file <input type="file" id="file" accept=".txt,text/plain"></label>
  <label><input type="checkbox" id="highlights" checked> show what the model kept</label>
  <button id="submit">Summarize</button>
</div>
<details id="decoding"><summary>decoding options (empty = the server's default)</summary><div id="options"></div></details>
<section id="summary-section">
<h2 style="font-size:1.1rem">Summary</h2>
<div id="summary"></div>
</section>
<div id="details"></div>
<div id="error"></div>
<section id="highlight-section" hidden>
<h2 style="font-size:1.1rem">What the model kept</h2>
<p class="note">Each word is shaded by its share of the pooled memory (the poolers' mixing weights traced back
to the document; docs/highlight.md). Click a summary word to see the sentences it drew on.</p>
<div id="highlight"></div>
</section>
<script>)PAGE" + highlight_view_script() +
                                  R"PAGE(</script>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
fetch("/v1/model").then((r) => r.json()).then((m) => {
  $("model").textContent = `model ${m.name}: ${m.parameters.toLocaleString()} parameters, vocabulary ${m.tokenizer.vocab_size}, up to ${m.max_source_positions} source tokens`;
}).catch(() => { $("model").textContent = "model information unavailable"; });
// The decoding options are the request fields /openapi.json documents (one declaration: the server's).
const optionFields = [];
fetch("/openapi.json").then((r) => r.json()).then((api) => {
  const properties = api.components.schemas.SummarizeRequest.properties;
  for (const [name, schema] of Object.entries(properties)) {
    if (!schema["x-decoding-option"]) continue;
    const label = document.createElement("label");
    label.title = schema.description || "";
    const input = document.createElement("input");
    input.id = "option-" + name;
    input.dataset.field = name;
    if (schema.type === "boolean") {
      input.type = "checkbox";
      input.checked = schema.default === true;
    } else {
      input.type = "number";
      input.step = schema.type === "integer" ? "1" : "any";
      input.placeholder = schema.default === undefined ? "" : String(schema.default);
      if (name === "beam") input.value = "4";
    }
    label.append(name.replaceAll("_", " "), input);
    $("options").append(label);
    optionFields.push({ name, input, type: schema.type, initial: input.checked });
  }
  $("options").dataset.ready = "1";
}).catch(() => { $("options").textContent = "options unavailable"; });
$("file").addEventListener("change", () => {
  const f = $("file").files[0];
  if (!f) return;
  const reader = new FileReader();
  reader.onload = () => { $("document").value = reader.result; };
  reader.readAsText(f);
});
$("submit").addEventListener("click", async () => {
  $("error").textContent = "";
  $("details").textContent = "";
  $("summary").textContent = "summarizing\u2026";
  $("submit").disabled = true;
  const body = { document: $("document").value, return_highlights: $("highlights").checked };
  for (const { name, input, type, initial } of optionFields) {
    if (type === "boolean") {
      if (input.checked !== initial) body[name] = input.checked;  // unchanged ones are left to the server
      continue;
    }
    if (input.value.trim() === "") continue;
    body[name] = type === "integer" ? parseInt(input.value, 10) : Number(input.value);
  }
  $("highlight-section").hidden = true;
  $("summary-section").hidden = false;
  try {
    const response = await fetch("/v1/summarize", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const result = await response.json();
    if (!response.ok) throw new Error(`${response.status}: ${result.error}`);
    const s = result.summaries[0];
    $("summary").textContent = s.summary;
    $("summary").dataset.done = "1";
    // With the highlight view the summary is shown once, in its panel (words linked to the document).
    $("summary-section").hidden = Boolean(s.highlights);
    if (s.highlights) {
      window.pyramidionHighlight.render($("highlight"), s.highlights);
      $("highlight-section").hidden = false;
      $("highlight").dataset.done = "1";
    }

    $("details").textContent = `score ${s.score.toFixed(3)}, ${s.tokens} tokens, source ${s.source_tokens} tokens${s.truncated ? " (truncated)" : ""}, ${result.elapsed_ms.toFixed(0)} ms` +
                               (result.warnings ? ` \u2014 ${result.warnings.join("; ")}` : "");
  } catch (e) {
    $("summary").textContent = "";
    $("error").textContent = String(e.message || e);
  } finally {
    $("submit").disabled = false;
  }
});
</script>
</body>
</html>
)PAGE";
  return page;
}

}  // namespace pyramidion::server
