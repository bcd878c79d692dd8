#pragma once
// The body of POST /v1/summarize, parsed and checked: malformed JSON, wrong types, unknown fields and bad
// decoding options become a RequestError with the HTTP status and a one-line reason.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "pyramidion/decoding/summarizer.h"

namespace pyramidion::server {

struct RequestError : std::runtime_error {
  RequestError(int status_code, const std::string& reason) : std::runtime_error(reason), status(status_code) {}
  int status;
};

struct RequestLimits {
  int64_t max_documents = 256;   // documents in one request (413 above)
  int64_t max_beam = 32;         // a larger beam is refused (400): memory grows with beam x batch
  int64_t max_beam_rows = 1024;  // documents x beam in one request (413 above): bounds one request's work
};

struct SummarizeRequest {
  std::vector<std::string> documents;
  bool single = false;  // sent as "document" rather than "documents"
  GenerationOptions generation;
  bool return_highlights = false;
  bool stream = false;  // answer as server-sent events, a token at a time (one document, beam 1)
};

// `defaults`: the server's GenerationOptions (batching fields, max_source_length); the request may set every
// generation option the table marks kPerRequest (decoding/generation_options.h: beam, lenpen, ..., sampling,
// diverse_beam_groups). Options are checked with validate(), exactly as the CLI checks them.
SummarizeRequest parse_summarize_request(const std::string& body, const GenerationOptions& defaults,
                                         const RequestLimits& limits);

}  // namespace pyramidion::server
