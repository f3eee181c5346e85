// Helpers shared by the vipd_native sources: how a failed system call or a bad argument becomes a
// JS exception. Errors are JS Errors with the errno text in the message, plus `errno`, `syscall`
// and `strerror` properties, so the TypeScript wrappers can explain them (src/native.ts).
#ifndef VIPD_NATIVE_COMMON_H_
#define VIPD_NATIVE_COMMON_H_

#include <napi.h>

#include <sys/socket.h>

#include <cstring>
#include <string>

namespace vipd {

// The Error for a failed system call, not thrown: the watched sockets hand theirs to onError.
// `subject` names what the call was about (an interface, a socket path); empty for none.
inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                              const std::string& subject) {
  std::string message = std::string(syscall) + " failed";
  if (!subject.empty()) message += " on " + subject;
  const std::string text = strerror(err);
  Napi::Error error = Napi::Error::New(env, message + ": " + text);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("strerror", Napi::String::New(env, text));
  return error;
}

inline Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall,
                              const std::string& subject) {
  ErrnoError(env, err, syscall, subject).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Reads and clears a socket's pending error (SO_ERROR), the one the kernel would otherwise hand to
// the next send or read whatever that call's own fate: 0 when there is none.
inline int TakeSocketError(int fd) {
  int err = 0;
  socklen_t length = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) return 0;
  return err;
}

inline Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// The addon's per-environment state (napi instance data: one slot per addon and environment, so
// a worker thread that loads the addon gets its own).
struct AddonData {
  Napi::FunctionReference socket_class;  // native/watched_socket.cc
  Napi::FunctionReference timer_class;   // native/timer.cc
};

// This environment's AddonData, made on first use.
inline AddonData* InstanceData(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) {
    data = new AddonData;
    env.SetInstanceData(data);
  }
  return data;
}

// Each source file adds its functions to the module's exports (native/addon.cc calls these).
void InitPacketSocket(Napi::Env env, Napi::Object exports);
void InitNotify(Napi::Env env, Napi::Object exports);
void InitWatchedSocket(Napi::Env env);  // a class, not exported: rawSocket() and netlinkSocket() make them
void InitRawSocket(Napi::Env env, Napi::Object exports);
void InitNetlinkSocket(Napi::Env env, Napi::Object exports);
void InitFault(Napi::Env env, Napi::Object exports);
void InitTimer(Napi::Env env, Napi::Object exports);

}  // namespace vipd

#endif  // VIPD_NATIVE_COMMON_H_
