// Helpers shared by the vipd_native sources: how a failed system call or a bad argument becomes a
// JS exception. Errors are JS Errors with the errno text in the message, plus `errno`, `syscall`
// and `strerror` properties, so the TypeScript wrappers can explain them (src/native.ts).
#ifndef VIPD_NATIVE_COMMON_H_
#define VIPD_NATIVE_COMMON_H_

#include <napi.h>

#include <cstring>
#include <string>

namespace vipd {

// `subject` names what the call was about (an interface, a socket path); empty for none.
inline Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall,
                              const std::string& subject) {
  std::string message = std::string(syscall) + " failed";
  if (!subject.empty()) message += " on " + subject;
  const std::string text = strerror(err);
  Napi::Error error = Napi::Error::New(env, message + ": " + text);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("strerror", Napi::String::New(env, text));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

inline Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Each source file adds its functions to the module's exports (native/addon.cc calls these).
void InitPacketSocket(Napi::Env env, Napi::Object exports);
void InitNotify(Napi::Env env, Napi::Object exports);

}  // namespace vipd

#endif  // VIPD_NATIVE_COMMON_H_
