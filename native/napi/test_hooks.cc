// Exports only the tests call: they check plain-C++ code that no public
// export reaches on its own against the shared vectors.
#include <memory>
#include <string>

#include "../cidr.h"
#include "../rendezvous.h"
#include "arguments.h"
#include "errors.h"
#include "exports.h"

namespace sticky {
namespace napi {

namespace {

// pickForTest(hash: bigint, live: boolean[], starting: boolean[]) -> index | 'wait'
// Checks sticky::route_worker against test/vectors/rendezvous.json.
Napi::Value pick_for_test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool lossless = false;
  const uint64_t hash = info[0].IsBigInt() ? info[0].As<Napi::BigInt>().Uint64Value(&lossless) : 0;
  if (!lossless || !info[1].IsArray() || !info[2].IsArray()) {
    throw_type_error(env, "pickForTest: (hash: bigint < 2^64, live: boolean[], starting: boolean[])");
    return Napi::Value();
  }
  const Napi::Array live_in = info[1].As<Napi::Array>();
  const Napi::Array starting_in = info[2].As<Napi::Array>();
  const size_t workers = live_in.Length();
  if (workers == 0 || starting_in.Length() != workers) {
    throw_type_error(env, "pickForTest: live and starting must have the same, non-zero length");
    return Napi::Value();
  }
  std::unique_ptr<bool[]> live(new bool[workers]);
  std::unique_ptr<bool[]> starting(new bool[workers]);
  for (uint32_t i = 0; i < workers; ++i) {
    live[i] = live_in.Get(i).ToBoolean();
    starting[i] = starting_in.Get(i).ToBoolean();
  }
  const int index = route_worker(hash, live.get(), starting.get(), workers);
  if (index == kWaitForWorker) return Napi::String::New(env, "wait");
  return Napi::Number::New(env, index);
}

// cidrContainsForTest(list: string[], address: Buffer of 16) -> whether a
// range of `list` holds `address`, or null if an entry is not a range:
// test/vectors/cidr.json.
Napi::Value cidr_contains_for_test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* address = nullptr;
  size_t address_length = 0;
  if (!info[0].IsArray() || !read_bytes(info[1], &address, &address_length) || address_length != 16) {
    throw_type_error(env, "cidrContainsForTest: (list: string[], address: 16-byte Buffer)");
    return Napi::Value();
  }
  const Napi::Array list = info[0].As<Napi::Array>();
  CidrSet set;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const Napi::Value entry = list.Get(i);
    if (!entry.IsString()) return env.Null();
    const std::string text = entry.As<Napi::String>().Utf8Value();
    if (!add_cidr(set, text.data(), text.size())) return env.Null();
  }
  return Napi::Boolean::New(env, contains(set, address));
}

}  // namespace

void export_test_hooks(Napi::Env env, Napi::Object exports) {
  exports.Set("pickForTest", Napi::Function::New<pick_for_test>(env, "pickForTest"));
  exports.Set("cidrContainsForTest", Napi::Function::New<cidr_contains_for_test>(env, "cidrContainsForTest"));
}

}  // namespace napi
}  // namespace sticky
