// NETLINK_ROUTE sockets, part of the vipd_native addon (native/addon.cc), replacing npm netlink
// (its socket's errors, a receive-buffer overrun among them, ended the process). The addon only
// moves datagrams: building requests and parsing replies is src/net/netlink.ts's job.
//
//   netlinkSocket({ groups, rcvbuf }, onBatch, onError) -> NativeSocket
//     socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), non-blocking and close-on-exec, with
//       SO_RCVBUFFORCE      `rcvbuf` bytes (SO_RCVBUF, capped by net.core.rmem_max, when the
//                           process lacks CAP_NET_ADMIN); 0 keeps the default
//       NETLINK_NO_ENOBUFS  0: an overrun is reported (onError ENOBUFS), so a monitor knows it
//                           lost events and dumps again instead of guessing
//       NETLINK_EXT_ACK     1: an error reply carries the kernel's message (NLMSGERR_ATTR_MSG)
//       NETLINK_CAP_ACK     1: an error reply echoes only the request's header, not its payload
//                           (the reply to a large request must not overrun the buffer itself)
//                           Both are best effort (kernels before 4.12 / 4.3 refuse them).
//       bind                nl_pid 0 (the kernel picks the port id), nl_groups = `groups`
//                           (RTMGRP_* bits: 1 link, 0x10 IPv4 addresses...)
//     onBatch(Buffer[]): one Buffer per datagram read, each holding one or more nlmsghdr;
//       datagrams not sent by the kernel (nl_pid != 0) are dropped
//     send(buffer): one datagram of requests to the kernel (sockaddr_nl pid 0)
//   Reading, errors (an overrun is a pending ENOBUFS: onError, and the socket goes on), close and
//   faults: native/watched_socket.cc. An open fault (injectFault 'netlink' 'open') throws before
//   socket() is called.
#include <napi.h>

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "common.h"
#include "fault.h"
#include "watched_socket.h"

namespace {

using vipd::ThrowErrno;
using vipd::ThrowType;

constexpr const char* kSubject = "NETLINK_ROUTE socket";

class NetlinkProtocol : public vipd::Protocol {
 public:
  vipd::FaultKind kind() const override { return vipd::FaultKind::kNetlink; }

  bool Destination(const Napi::CallbackInfo& /*info*/, sockaddr_storage* dst,
                   socklen_t* length) const override {
    sockaddr_nl* kernel = reinterpret_cast<sockaddr_nl*>(dst);
    kernel->nl_family = AF_NETLINK;  // nl_pid 0: the kernel
    *length = sizeof *kernel;
    return true;
  }

  Napi::Value Datagram(Napi::Env env, const uint8_t* data, size_t size,
                       const msghdr& message) const override {
    const sockaddr_nl* from = static_cast<const sockaddr_nl*>(message.msg_name);
    if (message.msg_namelen >= sizeof *from && from->nl_pid != 0) return Napi::Value();
    return Napi::Buffer<uint8_t>::Copy(env, data, size);
  }
};

Napi::Value NetlinkSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr const char* kUsage =
      "netlinkSocket({ groups: number, rcvbuf: number }, onBatch: function, onError: function)";
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() ||
      !info[2].IsFunction()) {
    return ThrowType(env, kUsage);
  }
  const Napi::Object options = info[0].As<Napi::Object>();
  const Napi::Value groups = options.Get("groups");
  const Napi::Value rcvbuf = options.Get("rcvbuf");
  if (!groups.IsNumber() || !rcvbuf.IsNumber() || rcvbuf.As<Napi::Number>().Int64Value() < 0 ||
      rcvbuf.As<Napi::Number>().Int64Value() > 0x7fffffff) {
    return ThrowType(env, kUsage);
  }
  int err = 0;
  if (vipd::TakeFault(vipd::FaultKind::kNetlink, vipd::FaultOp::kOpen, &err)) {
    return ThrowErrno(env, err, "socket(AF_NETLINK)", kSubject);
  }
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return ThrowErrno(env, errno, "socket(AF_NETLINK)", kSubject);
  const auto fail = [&](const char* syscall) {
    err = errno;
    ::close(fd);
    return ThrowErrno(env, err, syscall, kSubject);
  };

  const int size = static_cast<int>(rcvbuf.As<Napi::Number>().Int64Value());
  if (size > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    if (errno != EPERM || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
      return fail("setsockopt(SO_RCVBUF)");
    }
  }
  const int zero = 0;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &zero, sizeof zero) != 0) {
    return fail("setsockopt(NETLINK_NO_ENOBUFS)");
  }
  const int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);

  sockaddr_nl address = {};
  address.nl_family = AF_NETLINK;
  address.nl_groups = groups.As<Napi::Number>().Uint32Value();
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return fail("bind");
  return vipd::WatchSocket(env, fd, std::make_unique<NetlinkProtocol>(), kSubject,
                           info[1].As<Napi::Function>(), info[2].As<Napi::Function>());
}

}  // namespace

void vipd::InitNetlinkSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkSocket", Napi::Function::New(env, NetlinkSocket, "netlinkSocket"));
}
