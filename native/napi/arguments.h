// Reading the wrappers' JavaScript arguments into plain-C++ values. Each
// reader answers false on a value it does not take; those that name `what`
// have thrown a TypeError by then, the others leave the message to the caller.
#ifndef STICKY_NAPI_ARGUMENTS_H
#define STICKY_NAPI_ARGUMENTS_H

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "../cidr.h"
#include "../http_head.h"
#include "../peeker.h"  // STICKY_HAVE_PEEKER

namespace sticky {
namespace napi {

// The largest head limit a HeadPeeker or Dispatcher takes: each allocates
// its peek buffer once, with this many bytes at most.
constexpr double kMaxPeekLimit = 16 * 1024 * 1024;

// A Buffer or any other Uint8Array: its bytes as seen through the view.
bool read_bytes(const Napi::Value& value, const uint8_t** data, size_t* length);

// A Number that is a whole number from `min` to `max`.
bool read_whole_number(const Napi::Value& value, double min, double max, double* out);
bool read_whole_number(const Napi::Value& value, int min, int max, int* out);

// An optional string naming one of two choices (undefined: the first);
// `*is_second` when it names the second.
bool read_choice(Napi::Env env, const Napi::Value& value, const std::string& what, const char* first,
                 const char* second, bool* is_second);

// Appends every entry of `value`, an array of address or CIDR strings, to `set`.
bool read_cidr_list(Napi::Env env, const Napi::Value& value, const std::string& what, CidrSet* set);

// Reads { format?: 'list' | 'forwarded', pick?: 'leftmost' | 'rightmost-untrusted',
// trusted?: string[] } (undefined: every default) into `rules` and `trusted`.
bool read_head_rules(Napi::Env env, const Napi::Value& value, const char* what, HeadRules* rules,
                     CidrSet* trusted);

#ifdef STICKY_HAVE_PEEKER
// 'offset' (or undefined), 'no-offset' or 'whole' (native/head_copy.h).
bool read_peek_mode(Napi::Env env, const Napi::Value& value, const std::string& what, PeekMode* mode);
#endif

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_NAPI_ARGUMENTS_H
