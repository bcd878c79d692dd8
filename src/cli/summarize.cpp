// `pyramidion summarize`: summaries of documents from JSONL (arXiv/PubMed format or any text field), plain text
// (one document per line) or stdin; JSONL or plain-text output in input order, streamed chunk by chunk.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>

#include "command.h"
#include "decoding_options.h"
#include "model_loading.h"
#include "numeric_checks.h"
#include "output_paths.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/line_reader.h"
#include "pyramidion/util/progress.h"

namespace pyramidion::cli {
namespace {

struct SummarizeOptions {
  std::string model;
  std::string input = "-";
  std::string output = "-";
  std::string input_format = "auto";   // auto, jsonl, text
  std::string output_format = "auto";  // auto, jsonl, text
  std::string text_field = "article_text";
  std::string id_field = "article_id";
  SummarizerOptions loading;
  bool strict = false;
  int64_t chunk = 64;  // documents generated per chunk (output is written after each)
  GenerationOptions generation;
  bool max_len_b_given = false;  // otherwise the default is fitted to the model
};

struct Document {
  int64_t line = 0;
  std::string id;
  std::vector<std::string> sentences;  // empty = nothing to summarize (a warning was given)
};

// One input line -> a document; problems become a warning (or an error with --strict).
Document parse_line(const std::string& line, int64_t number, const SummarizeOptions& o, const std::string& name) {
  Document doc;
  doc.line = number;
  doc.id = std::to_string(number);
  auto problem = [&](const std::string& what) {
    const std::string message = name + ":" + std::to_string(number) + ": " + what;
    if (o.strict) throw CommandError(message);
    spdlog::warn("{} (empty summary)", message);
    doc.sentences.clear();
    return doc;
  };
  const bool json = o.input_format == "jsonl" || (o.input_format == "auto" && !line.empty() && line[0] == '{');
  if (!json) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return problem("empty document");
    doc.sentences = {line};
    return doc;
  }
  if (!json_depth_ok(line)) return problem(json_depth_message());
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return problem("invalid JSON");
  }
  if (!value.is_object()) return problem("not a JSON object");
  if (value.contains(o.id_field) && value[o.id_field].is_string())
    doc.id = value[o.id_field].get<std::string>();
  else if (value.contains("id") && value["id"].is_string())
    doc.id = value["id"].get<std::string>();
  if (!value.contains(o.text_field)) return problem("field \"" + o.text_field + "\" missing");
  const auto& text = value[o.text_field];
  if (text.is_string()) {
    doc.sentences = {text.get<std::string>()};
  } else if (text.is_array()) {
    for (const auto& s : text) {
      if (!s.is_string()) return problem("field \"" + o.text_field + "\" is not a string or a list of strings");
      doc.sentences.push_back(s.get<std::string>());
    }
  } else {
    return problem("field \"" + o.text_field + "\" is not a string or a list of strings");
  }
  bool empty = true;
  for (const auto& s : doc.sentences) empty = empty && s.find_first_not_of(" \t\r\n") == std::string::npos;
  if (empty) return problem("empty document");
  return doc;
}

void run(const SummarizeOptions& o) {
  refuse_output_over_input(o.output, {o.input, o.model});
  const Summarizer summarizer = load_summarizer(o.model, o.loading);
  GenerationOptions generation = o.generation;
  fit_length_to_model(generation, summarizer.config(), o.max_len_b_given, o.strict);

  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.input != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(o.input, ec)) throw CommandError(o.input + ": is a directory, not an input file");
    file.open(o.input);
    if (!file) throw CommandError(o.input + ": cannot open");
    in = &file;
  }
  const std::string input_name = o.input == "-" ? "stdin" : o.input;
  // --output-format auto: a .jsonl output file gets JSONL; on stdout the output follows the input (JSONL for
  // JSONL input, one summary a line for plain text), decided from the first line when the input format is auto.
  std::optional<bool> jsonl_out;
  if (o.output_format != "auto")
    jsonl_out = o.output_format == "jsonl";
  else if (o.output != "-")
    jsonl_out = o.output.size() >= 6 && o.output.substr(o.output.size() - 6) == ".jsonl";
  else if (o.input_format != "auto")
    jsonl_out = o.input_format == "jsonl";
  std::unique_ptr<AtomicFileWriter> writer;
  std::ostream* out = &std::cout;
  if (o.output != "-") {
    writer = std::make_unique<AtomicFileWriter>(o.output, false);
    out = &writer->stream();
  }

  ProgressOptions progress_options;
  progress_options.label = "summarize";
  progress_options.unit = "docs";
  // A regular file: count its lines first, so the progress shows a percentage and an ETA. A pipe or a
  // terminal (-i <(...), /dev/stdin) is read once only: counting would consume it.
  if (o.input != "-" && std::filesystem::is_regular_file(o.input)) {
    try {
      std::ifstream count(o.input);
      progress_options.total = static_cast<int64_t>(
          std::count(std::istreambuf_iterator<char>(count), std::istreambuf_iterator<char>(), '\n'));
    } catch (const std::exception&) {
      // A read error: no total; reading the documents below reports it with the line.
    }
  }
  ProgressBar progress(progress_options);

  int64_t written = 0, empty = 0;
  std::string line;
  LineReader lines(*in, input_name, in == &std::cin ? stdin : nullptr);  // a read error is an error, not the end
  bool more = true;
  while (more) {
    std::vector<Document> docs;
    while (static_cast<int64_t>(docs.size()) < o.chunk && (more = lines.next(line))) {
      if (lines.line_number() == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte order mark
      if (!jsonl_out) jsonl_out = !line.empty() && line[0] == '{';
      docs.push_back(parse_line(line, lines.line_number(), o, input_name));
    }
    if (docs.empty()) break;
    std::vector<std::vector<std::string>> sentences;
    for (const auto& d : docs) sentences.push_back(d.sentences);  // an empty list gets no summary
    const auto results = summarizer.summarize_sentences(sentences, generation);
    std::vector<std::string> summaries(docs.size());
    for (size_t i = 0; i < docs.size(); ++i)
      if (!results[i].hypotheses.empty()) summaries[i] = results[i].hypotheses.front().text;
    const bool nbest = generation.search.nbest > 1;
    for (size_t i = 0; i < docs.size(); ++i) {
      if (docs[i].sentences.empty()) ++empty;
      if (*jsonl_out) {
        nlohmann::ordered_json record;
        record["id"] = docs[i].id;
        record["summary"] = summaries[i];
        if (nbest) {  // --nbest N: the score of the best and every hypothesis, best first
          const auto& hypotheses = results[i].hypotheses;
          record["score"] = hypotheses.empty() ? 0.0 : hypotheses.front().score;
          record["hypotheses"] = nlohmann::ordered_json::array();
          for (const auto& h : hypotheses) record["hypotheses"].push_back({{"summary", h.text}, {"score", h.score}});
        }
        *out << record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      } else {
        std::string flat = summaries[i];
        for (char& c : flat)
          if (c == '\n') c = ' ';
        *out << flat << "\n";
      }
      ++written;
    }
    out->flush();
    if (writer)
      writer->check();  // names the file and the reason
    else if (!*out)
      throw CommandError("standard output: write failed");
    progress.advance(static_cast<int64_t>(docs.size()));
  }
  progress.finish();
  if (writer) writer->commit();
  spdlog::info("summarized {} documents ({} empty or invalid)", written, empty);
}

}  // namespace

PYRAMIDION_COMMAND("summarize", [](CLI::App& app) {
  auto options = std::make_shared<SummarizeOptions>();
  auto* cmd = app.add_subcommand("summarize", "summarize documents with a trained model");
  cmd->add_option("-m,--model", options->model, "model file (from `train` or `demo`)")->required();
  cmd->add_option("-i,--input", options->input,
                  "JSONL (arXiv/PubMed or any text field) or plain text, one document a line; - = stdin")
      ->capture_default_str();
  cmd->add_option("-o,--output", options->output, "output file (written atomically); - = stdout")
      ->capture_default_str();
  cmd->add_option("--input-format", options->input_format, "auto, jsonl, text")
      ->check(CLI::IsMember({"auto", "jsonl", "text"}))
      ->capture_default_str();
  cmd->add_option("--output-format", options->output_format,
                  "auto (a .jsonl file: jsonl; stdout: as the input, jsonl for JSONL input and text for plain text), "
                  "jsonl, text")
      ->check(CLI::IsMember({"auto", "jsonl", "text"}))
      ->capture_default_str();
  cmd->add_option("--text-field", options->text_field, "JSONL field holding the document (string or list of sentences)")
      ->capture_default_str();
  cmd->add_option("--id-field", options->id_field,
                  "JSONL field holding the document id (else \"id\", else the line number)")
      ->capture_default_str();
  add_model_loading_options(*cmd, options->loading);
  cmd->add_option("--chunk", options->chunk, "documents per chunk (output is written after each chunk)")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_flag("--strict", options->strict, "an empty or invalid input line is an error, not a warning");
  add_decoding_options(*cmd, options->generation);
  cmd->callback([options, cmd] {
    options->max_len_b_given = cmd->count("--max-len-b") > 0;
    run(*options);
  });
});

}  // namespace pyramidion::cli
