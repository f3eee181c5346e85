// Send-only AF_PACKET sockets for gratuitous ARP, part of the vipd_native addon (native/addon.cc).
// No maintained npm package sends raw Ethernet frames on Linux (raw-socket stops at
// AF_INET/AF_INET6); this is ~130 lines.
//
//   open(ifname) -> fd   SOCK_RAW packet socket for ETH_P_ARP, bound to the interface
//   send(fd, frames) -> number of frames sent; stops early (no throw) when the kernel says
//                       "later" (EAGAIN, ENOBUFS), throws on any other error; a socket error
//                       left pending before the call (SO_ERROR) is cleared, not thrown
//   close(fd)
//
// Everything is synchronous and thread-free: the socket is non-blocking, so a send never waits,
// and a thousand 60-byte frames take about 20 ms, too little for a worker thread to pay off.
// Errors are thrown as native/common.h describes.
#include <napi.h>

#include <cerrno>
#include <string>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

namespace {

using vipd::ThrowErrno;
using vipd::ThrowType;

bool ReadFd(const Napi::CallbackInfo& info, int* fd) {
  if (info.Length() < 1 || !info[0].IsNumber()) return false;
  *fd = info[0].As<Napi::Number>().Int32Value();
  return *fd >= 0;
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "open(ifname: string)");
  const std::string ifname = info[0].As<Napi::String>().Utf8Value();

  const unsigned int ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return ThrowErrno(env, errno, "if_nametoindex", ifname);

  // Non-blocking so a full transmit queue returns EAGAIN instead of stalling the event loop;
  // close-on-exec so the `ip` children vipd starts do not inherit a raw socket.
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (fd < 0) return ThrowErrno(env, errno, "socket(AF_PACKET)", ifname);

  // The socket only sends, but a packet socket with a protocol also receives a copy of every
  // ARP frame on the link; a filter that accepts nothing keeps those from queueing up unread.
  sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
  sock_fprog program = {1, &drop_all};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
    const int err = errno;
    ::close(fd);
    return ThrowErrno(env, err, "setsockopt(SO_ATTACH_FILTER)", ifname);
  }

  sockaddr_ll address = {};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ARP);
  address.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    ::close(fd);
    return ThrowErrno(env, err, "bind", ifname);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ReadFd(info, &fd) || info.Length() < 2 || !info[1].IsArray()) {
    return ThrowType(env, "send(fd: number, frames: Buffer[])");
  }
  const Napi::Array frames = info[1].As<Napi::Array>();
  const uint32_t count = frames.Length();
  // A pending error is about the past (a link flap while the box was backup leaves ENETDOWN on a
  // socket bound to the interface) and the kernel would fail the first send below with it, so
  // that a takeover's required GARP step failed on a link that works again. Cleared and dropped:
  // this batch's own sends tell whether the link works now.
  vipd::TakeSocketError(fd);
  for (uint32_t i = 0; i < count; ++i) {
    const Napi::Value frame = frames.Get(i);
    if (!frame.IsBuffer()) return ThrowType(env, "send: every frame must be a Buffer");
    const Napi::Buffer<uint8_t> bytes = frame.As<Napi::Buffer<uint8_t>>();
    ssize_t sent;
    do {
      sent = ::send(fd, bytes.Data(), bytes.Length(), MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      // EAGAIN: the socket's send buffer is full of frames the NIC has not taken yet. ENOBUFS:
      // the device queue dropped this frame. Both clear up by themselves, so the caller gets the
      // count so far and retries the rest a moment later.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        return Napi::Number::New(env, i);
      }
      return ThrowErrno(env, errno, "send", "");
    }
  }
  return Napi::Number::New(env, count);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ReadFd(info, &fd)) return ThrowType(env, "close(fd: number)");
  // Linux releases the descriptor even when close reports an error, so there is nothing to retry.
  ::close(fd);
  return env.Undefined();
}

}  // namespace

void vipd::InitPacketSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("send", Napi::Function::New(env, Send, "send"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}
