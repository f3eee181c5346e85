// sd_notify(3) without libsystemd, part of the vipd_native addon (native/addon.cc). Node has no
// AF_UNIX datagram sockets, and linking libsystemd would make every build machine need its
// headers for one sendto.
//
//   notify(path, message)   sends `message` as one datagram to the socket at `path`
//                           (NOTIFY_SOCKET as systemd sets it); a path starting with '@' is an
//                           abstract socket: the '@' stands for the leading NUL byte
//
// One socket per message, as libsystemd does: a few messages a minute do not justify keeping a
// descriptor open. The socket is non-blocking, so a service manager that stops reading costs a
// lost message (EAGAIN, thrown) rather than a stalled event loop; the caller decides what a lost
// message is worth. systemd learns our PID from the credentials the kernel attaches for its
// SO_PASSCRED socket, so none are sent explicitly. Errors are thrown as native/common.h describes.
#include <napi.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

namespace {

using vipd::ThrowErrno;
using vipd::ThrowType;

Napi::Value Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    return ThrowType(env, "notify(path: string, message: string)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const std::string message = info[1].As<Napi::String>().Utf8Value();

  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  // A filesystem path needs room for its terminating NUL; an abstract name is exactly its bytes
  // (the '@' becomes the leading NUL), and the address length, not a NUL, ends it.
  const bool abstract = !path.empty() && path[0] == '@';
  if (path.empty() || path.size() + (abstract ? 0 : 1) > sizeof address.sun_path) {
    return ThrowErrno(env, path.empty() ? EINVAL : ENAMETOOLONG, "notify", path);
  }
  path.copy(address.sun_path, path.size());
  if (abstract) address.sun_path[0] = '\0';
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket(AF_UNIX)", path);
  ssize_t sent;
  do {
    // MSG_NOSIGNAL: a vanished receiver must not raise SIGPIPE in the daemon.
    sent = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (sent < 0) return ThrowErrno(env, err, "sendto", path);
  return env.Undefined();
}

}  // namespace

void vipd::InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("notify", Napi::Function::New(env, Notify, "notify"));
}
