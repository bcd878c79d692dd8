#include "server/summarize_request.h"

#include <nlohmann/json.hpp>

#include <cstdint>

#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion::server {
namespace {

using nlohmann::json;

}  // namespace

SummarizeRequest parse_summarize_request(const std::string& body, const GenerationOptions& defaults,
                                         const RequestLimits& limits) {
  if (!json_depth_ok(body)) throw RequestError(400, json_depth_message());
  json value;
  std::string key;  // the last key read: a number out of range is reported with its field
  const json::parser_callback_t remember_key = [&key](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && parsed.is_string()) key = parsed.get<std::string>();
    return true;
  };
  try {
    value = json::parse(body, remember_key);
  } catch (const json::parse_error& e) {
    throw RequestError(400, "malformed JSON at byte " + std::to_string(e.byte));
  } catch (const json::exception&) {  // out_of_range.406: a number beyond double (1e400)
    throw RequestError(400, key.empty() ? std::string("a number is out of range")
                                        : "\"" + key + "\" is out of range (a number beyond 1.8e308)");
  }
  if (!value.is_object()) throw RequestError(400, "the body must be a JSON object");

  SummarizeRequest request;
  request.generation = defaults;
  auto& s = request.generation.search;
  bool has_documents = false;
  for (const auto& [key, field] : value.items()) {
    if (key == "documents") {
      if (!field.is_array()) throw RequestError(400, "\"documents\" must be an array of strings");
      for (size_t i = 0; i < field.size(); ++i) {
        if (!field[i].is_string()) throw RequestError(400, "\"documents[" + std::to_string(i) + "]\" must be a string");
        request.documents.push_back(field[i].get<std::string>());
      }
      has_documents = true;
    } else if (key == "document") {
      if (!field.is_string()) throw RequestError(400, "\"document\" must be a string");
      request.documents.push_back(field.get<std::string>());
      request.single = true;
    } else if (const auto* option = find_generation_option(key); option && (option->uses & kPerRequest)) {
      try {
        option->from_json(request.generation, field);  // its range: validate() below
      } catch (const InvalidGenerationOption& e) {
        throw RequestError(400, "\"" + e.field + "\" " + e.reason);
      }
    } else if (key == "return_highlights") {
      if (!field.is_boolean()) throw RequestError(400, "\"return_highlights\" must be true or false");
      request.return_highlights = field.get<bool>();
    } else if (key == "stream") {
      if (!field.is_boolean()) throw RequestError(400, "\"stream\" must be true or false");
      request.stream = field.get<bool>();
    } else {
      throw RequestError(400, "unknown field \"" + key + "\"");
    }
  }
  if (has_documents == request.single)
    throw RequestError(400, has_documents ? "give \"documents\" or \"document\", not both"
                                          : "missing \"documents\" (an array of strings) or \"document\" (a string)");
  if (request.documents.empty()) throw RequestError(400, "\"documents\" is empty");
  if (request.stream &&
      (request.documents.size() != 1 || request.generation.search.beam != 1 || request.return_highlights))
    throw RequestError(400,
                       "\"stream\" needs one document, \"beam\": 1 and no \"return_highlights\" (beam search "
                       "knows its best summary only at the end)");
  if (static_cast<int64_t>(request.documents.size()) > limits.max_documents)
    throw RequestError(413, std::to_string(request.documents.size()) + " documents in one request (at most " +
                                std::to_string(limits.max_documents) + ")");
  for (size_t i = 0; i < request.documents.size(); ++i)
    if (blank(request.documents[i]))
      throw RequestError(
          400, request.single ? "\"document\" is empty" : "\"documents[" + std::to_string(i) + "]\" is empty");
  try {
    validate(request.generation);
  } catch (const InvalidGenerationOption& e) {
    throw RequestError(400, "\"" + e.field + "\" " + e.reason);
  }
  if (s.beam > limits.max_beam)
    throw RequestError(400, "\"beam\" must be <= " + std::to_string(limits.max_beam) + " on this server (got " +
                                std::to_string(s.beam) + ")");
  const int64_t rows = static_cast<int64_t>(request.documents.size()) * s.beam;
  if (rows > limits.max_beam_rows)
    throw RequestError(413, std::to_string(request.documents.size()) + " documents x beam " + std::to_string(s.beam) +
                                " = " + std::to_string(rows) + " beams in one request (at most " +
                                std::to_string(limits.max_beam_rows) + ": --max-request-beams)");
  return request;
}

}  // namespace pyramidion::server
