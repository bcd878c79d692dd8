// `pyramidion highlight`: what the poolers kept of one document, as a self-contained HTML page (words shaded by
// their share of the pooled memory, per pooling layer, the summary linked to its source sentences) and/or the
// numbers as JSON. The work is the library's (explain/highlight.h, explain/highlight_page.h).
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "command.h"
#include "decoding_options.h"
#include "model_loading.h"
#include "output_paths.h"
#include "pyramidion/explain/highlight.h"
#include "pyramidion/explain/highlight_page.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/line_reader.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion::cli {
namespace {

struct HighlightCommandOptions {
  std::string model;
  std::string input = "-";
  std::string output;                 // HTML page; "-" = stdout
  std::string json_output;            // the numbers; "-" = stdout
  std::string input_format = "auto";  // auto, jsonl, text (one document a line), whole (the input is one document)
  std::string text_field = "article_text";
  std::string id_field = "article_id";
  int64_t document_index = 0;
  SummarizerOptions loading;
  HighlightOptions highlight;
  bool max_len_b_given = false;  // otherwise the default is fitted to the model
};

struct Document {
  std::string id;
  std::vector<std::string> sentences;
};

Document parse_jsonl(const std::string& line, const std::string& where, const HighlightCommandOptions& o) {
  if (!json_depth_ok(line)) throw CommandError(where + ": " + json_depth_message());
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw CommandError(where + ": invalid JSON");
  }
  if (!value.is_object()) throw CommandError(where + ": not a JSON object");
  Document doc;
  if (value.contains(o.id_field) && value[o.id_field].is_string())
    doc.id = value[o.id_field].get<std::string>();
  else if (value.contains("id") && value["id"].is_string())
    doc.id = value["id"].get<std::string>();
  if (!value.contains(o.text_field)) throw CommandError(where + ": field \"" + o.text_field + "\" missing");
  const auto& text = value[o.text_field];
  const std::string wrong = where + ": field \"" + o.text_field + "\" is not a string or a list of strings";
  if (text.is_string()) {
    doc.sentences = {text.get<std::string>()};
  } else if (text.is_array()) {
    for (const auto& s : text) {
      if (!s.is_string()) throw CommandError(wrong);
      doc.sentences.push_back(s.get<std::string>());
    }
  } else {
    throw CommandError(wrong);
  }
  return doc;
}

// Document --document-index of the input (lines are documents, except for --input-format whole).
Document read_document(const HighlightCommandOptions& o) {
  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string name = o.input == "-" ? "stdin" : o.input;
  if (o.input != "-") {
    if (!std::filesystem::exists(o.input)) throw CommandError(o.input + ": no such file");
    if (std::filesystem::is_directory(o.input)) throw CommandError(o.input + ": is a directory");
    file.open(o.input);
    if (!file) throw CommandError(o.input + ": cannot open");
    in = &file;
  }
  Document doc;
  if (o.input_format == "whole") {
    if (o.document_index != 0)
      throw CommandError(
          fmt::format("--document-index {}: --input-format whole reads one document (index 0)", o.document_index));
    std::string text((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
    if (in->bad() || (in == &std::cin && std::ferror(stdin))) throw CommandError(name + ": read error");
    if (blank(text)) throw CommandError(name + ": empty document");
    doc.id = name;
    doc.sentences = {text};
    return doc;
  }
  std::string line;
  int64_t index = 0;
  LineReader lines(*in, name, in == &std::cin ? stdin : nullptr);  // a read error is an error, not the end
  while (lines.next(line)) {
    if (index++ < o.document_index) continue;
    const std::string where = name + ":" + std::to_string(index);
    const bool json = o.input_format == "jsonl" || (o.input_format == "auto" && !line.empty() && line[0] == '{');
    if (json) {
      doc = parse_jsonl(line, where, o);
    } else {
      doc.sentences = {line};
    }
    if (doc.id.empty()) doc.id = std::to_string(o.document_index);
    bool empty = true;
    for (const auto& s : doc.sentences) empty = empty && blank(s);
    if (empty) throw CommandError(where + ": empty document");
    return doc;
  }
  if (index == 0) throw CommandError(name + ": empty input (no documents)");
  throw CommandError(fmt::format("--document-index {}: {} has {} document{} (indices 0..{})", o.document_index, name,
                                 index, index == 1 ? "" : "s", index - 1));
}

std::string describe_model(const Summarizer& summarizer) {
  const auto& c = summarizer.config();
  std::string pooling;
  for (const auto& [layer, width] : c.pooling.schedule)
    pooling += (pooling.empty() ? "" : ", ") + fmt::format("{}: {}", layer, width);
  return fmt::format("{} \u00b7 d_model {}, {} encoder + {} decoder layers, pooling {{{}}}, up to {} source tokens",
                     std::filesystem::path(summarizer.path()).filename().string(),  // a page never shows a machine path
                     c.d_model, c.encoder_layers, c.decoder_layers, pooling, c.max_source_positions);
}

void write_output(const std::string& path, const std::string& content, const std::string& what) {
  if (path == "-") {
    std::cout << content;
    std::cout.flush();
    if (!std::cout) throw CommandError("standard output: write failed");
    return;
  }
  try {
    write_file_atomically(path, content);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  spdlog::info("wrote {} to {}", what, path);
}

void run(HighlightCommandOptions o) {
  if (o.output.empty() && o.json_output.empty()) o.output = "-";
  if (o.output == "-" && o.json_output == "-") throw CommandError("-o and --json cannot both be - (standard output)");
  if (!o.output.empty() && o.output != "-" && !o.json_output.empty() && o.json_output != "-") {
    std::error_code ec;
    const auto page = std::filesystem::weakly_canonical(o.output, ec);
    const auto numbers = std::filesystem::weakly_canonical(o.json_output, ec);
    if (o.output == o.json_output || (!ec && page == numbers))
      throw CommandError("-o and --json name the same file (" + o.output + "); the second would overwrite the first");
  }
  if (o.document_index < 0) throw CommandError(fmt::format("--document-index must be >= 0 (got {})", o.document_index));
  for (const auto& out : {o.output, o.json_output})
    if (!out.empty()) refuse_output_over_input(out, {o.input, o.model});
  const Document doc = read_document(o);  // before the model: a bad input fails at once
  const Summarizer summarizer = load_summarizer(o.model, o.loading);
  HighlightOptions highlight = o.highlight;
  fit_length_to_model(highlight.generation, summarizer.config(), o.max_len_b_given);
  DocumentHighlight h;
  try {
    h = highlight_document(summarizer, doc.sentences, highlight);
  } catch (const InvalidGenerationOption& e) {
    throw CommandError(decoding_flag(e.field) + " " + e.reason);
  } catch (const std::invalid_argument& e) {
    throw CommandError((o.input == "-" ? std::string("stdin") : o.input) + ": " + e.what());
  }
  h.id = doc.id;
  if (h.layers.empty())
    spdlog::warn("{}: the model has no pooling layers: nothing pooled (the page shows the document unshaded)", o.model);
  if (!h.words_aligned)
    spdlog::warn("the document's words and its tokenization did not align: words are rebuilt from the pieces");
  if (!o.json_output.empty())
    write_output(o.json_output, highlight_json(h).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                 "the highlight numbers");
  if (!o.output.empty()) {
    HighlightPageOptions page;
    page.title = "What the model kept: " + doc.id;
    page.subtitle = describe_model(summarizer);
    write_output(o.output, highlight_page_html(h, page), "the highlight page");
  }
}

}  // namespace

PYRAMIDION_COMMAND("highlight", [](CLI::App& app) {
  auto options = std::make_shared<HighlightCommandOptions>();
  auto* cmd =
      app.add_subcommand("highlight", "show which passages of a document the poolers kept (HTML page and/or JSON)");
  cmd->add_option("-m,--model", options->model, "model file (from `train` or `demo`)")->required();
  cmd->add_option("-i,--input", options->input,
                  "JSONL (arXiv/PubMed or any text field) or plain text, one document a line; - = stdin")
      ->capture_default_str();
  cmd->add_option("-o,--output", options->output,
                  "the HTML page (self-contained; written atomically); - = stdout "
                  "(the default when --json is not given)");
  cmd->add_option("--json", options->json_output,
                  "the numbers as JSON (token, word, sentence shares per layer); - = stdout");
  cmd->add_option("--document-index", options->document_index, "which document of the input (0 = the first line)")
      ->capture_default_str();
  cmd->add_option("--input-format", options->input_format,
                  "auto, jsonl, text (one document a line), whole (the input is one document)")
      ->check(CLI::IsMember({"auto", "jsonl", "text", "whole"}))
      ->capture_default_str();
  cmd->add_option("--text-field", options->text_field, "JSONL field holding the document (string or list of sentences)")
      ->capture_default_str();
  cmd->add_option("--id-field", options->id_field, "JSONL field holding the document id")->capture_default_str();
  cmd->add_option("--links", options->highlight.links_per_summary_word, "source sentences linked per summary word")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_model_loading_options(*cmd, options->loading);
  add_decoding_options(*cmd, options->highlight.generation);
  cmd->callback([options, cmd] {
    options->max_len_b_given = cmd->count("--max-len-b") > 0;
    run(*options);
  });
});

}  // namespace pyramidion::cli
