// Why the primary turns a connection away, as stats().rejected counts it:
// each reason's name, the HTTP status it answers with (0: the connection is
// closed without an answer) and the answer's text, in which `{header}` stands
// for the header as the user wrote it and `{limit}` for the head limit in
// bytes. src/rejections.ts REJECTIONS is the TS twin (same order, names,
// statuses and texts); the addon exports this list as `rejectReasons`.
#ifndef STICKY_REJECTIONS_H
#define STICKY_REJECTIONS_H

#include <cstddef>
#include <cstring>
#include <string>

namespace sticky {

enum class Rejection {
  MissingHeader,
  InvalidHeader,
  HeadTooLarge,
  HeadTimeout,
  ClosedEarly,
  QueueFull,
  MalformedProxy,
  UntrustedProxy,
};
constexpr size_t kRejectionCount = static_cast<size_t>(Rejection::UntrustedProxy) + 1;

struct RejectionInfo {
  const char* reason;
  int status;
  const char* message;
};

// In the order of enum Rejection.
constexpr RejectionInfo kRejections[] = {
    {"missing-header", 400, "Missing {header} header"},
    {"invalid-header", 400, "{header} header does not start with an IP address"},
    {"head-too-large", 431, "Request head is over {limit} bytes"},
    {"head-timeout", 0, ""},
    {"closed-early", 0, ""},
    {"queue-full", 503, "No worker is available"},
    // A PROXY protocol header that does not parse, from a trusted peer.
    {"malformed-proxy", 0, ""},
    // A PROXY protocol header (or its start) from a peer not in trustedProxies.
    {"untrusted-proxy", 0, ""},
};
static_assert(sizeof kRejections / sizeof kRejections[0] == kRejectionCount, "one entry per Rejection");

inline const RejectionInfo& rejection_info(Rejection reason) {
  return kRejections[static_cast<size_t>(reason)];
}

// The reason's text with its placeholders filled, in one pass: a header name
// holding "{limit}" stays as written.
inline std::string rejection_message(Rejection reason, const std::string& header, size_t limit) {
  static const char kHeader[] = "{header}";
  static const char kLimit[] = "{limit}";
  std::string text;
  for (const char* at = rejection_info(reason).message; *at != '\0';) {
    if (std::strncmp(at, kHeader, sizeof kHeader - 1) == 0) {
      text += header;
      at += sizeof kHeader - 1;
    } else if (std::strncmp(at, kLimit, sizeof kLimit - 1) == 0) {
      text += std::to_string(limit);
      at += sizeof kLimit - 1;
    } else {
      text += *at++;
    }
  }
  return text;
}

}  // namespace sticky

#endif  // STICKY_REJECTIONS_H
