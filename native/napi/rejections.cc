// The `rejectReasons` export: ../rejections.h as [{ reason, status, message }]
// in enum order, for the test that the TS list agrees.
#include "../rejections.h"
#include "exports.h"

namespace sticky {
namespace napi {

Napi::Array define_reject_reasons(Napi::Env env) {
  Napi::Array list = Napi::Array::New(env, kRejectionCount);
  for (size_t i = 0; i < kRejectionCount; ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("reason", kRejections[i].reason);
    entry.Set("status", static_cast<double>(kRejections[i].status));
    entry.Set("message", kRejections[i].message);
    list.Set(static_cast<uint32_t>(i), entry);
  }
  return list;
}

}  // namespace napi
}  // namespace sticky
