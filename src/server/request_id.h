#pragma once
// X-Request-Id: every response of the service carries one (the client's own when it sent a usable one), and the
// log lines about a request name it, so a client's report and the server's log meet.
#include <string>

namespace pyramidion::server {

inline constexpr const char* kRequestIdHeader = "X-Request-Id";

// 1..128 visible ASCII characters (no spaces or controls: it goes into a header and a log line unchanged).
bool acceptable_request_id(const std::string& id);

// A new id, unique within the process and unlikely to repeat across restarts: "<8 hex of the process>-<counter>".
std::string new_request_id();

// The id for a raw request head ("GET /health HTTP/1.1\r\nX-Request-Id: abc\r\n..."): its X-Request-Id header
// (name in any case) when acceptable, else a new one.
std::string request_id_from_head(const std::string& head);

}  // namespace pyramidion::server
