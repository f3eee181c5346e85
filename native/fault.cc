// injectFault(kind, op, errno, count), part of the vipd_native addon (native/addon.cc): the test
// hook through which the lab makes a socket fail as the kernel would, without root tricks that
// race the daemon (closing its descriptor under it, bringing a link down at the right moment).
//
//   injectFault('raw' | 'netlink', 'open' | 'send' | 'recv', errno, count)
//     open: the next `count` rawSocket()/netlinkSocket() calls of that kind throw errno
//     send: the next `count` send() calls throw errno (nothing is sent)
//     recv: at the next `count` readiness events the datagrams queued are read and dropped and
//           onError gets errno: a lost batch, as after a receive-buffer overrun
//   count 0 cancels what is still pending for that kind and op; a new call replaces it.
//
// Counters are process-wide (every socket of the kind shares them; a mutex because worker
// threads could load the addon too) and cost one uncontended lock per operation.
#include <napi.h>

#include <mutex>
#include <string>

#include "common.h"
#include "fault.h"

namespace {

struct Fault {
  int count = 0;
  int err = 0;
};

std::mutex mutex;
Fault faults[2][3];  // [FaultKind][FaultOp]

using vipd::ThrowType;

Napi::Value InjectFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr const char* kUsage =
      "injectFault(kind: 'raw' | 'netlink', op: 'open' | 'send' | 'recv', errno: number, "
      "count: number)";
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    return ThrowType(env, kUsage);
  }
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  const std::string op = info[1].As<Napi::String>().Utf8Value();
  const int err = info[2].As<Napi::Number>().Int32Value();
  const int count = info[3].As<Napi::Number>().Int32Value();
  int k = kind == "raw" ? 0 : kind == "netlink" ? 1 : -1;
  int o = op == "open" ? 0 : op == "send" ? 1 : op == "recv" ? 2 : -1;
  if (k < 0 || o < 0 || err <= 0 || count < 0) return ThrowType(env, kUsage);
  std::lock_guard<std::mutex> lock(mutex);
  faults[k][o] = Fault{count, err};
  return env.Undefined();
}

}  // namespace

bool vipd::TakeFault(FaultKind kind, FaultOp op, int* err) {
  std::lock_guard<std::mutex> lock(mutex);
  Fault& fault = faults[static_cast<int>(kind)][static_cast<int>(op)];
  if (fault.count == 0) return false;
  fault.count -= 1;
  *err = fault.err;
  return true;
}

void vipd::InitFault(Napi::Env env, Napi::Object exports) {
  exports.Set("injectFault", Napi::Function::New(env, InjectFault, "injectFault"));
}
