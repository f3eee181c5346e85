// Raw IP sockets for VRRP (IP protocol 112), part of the vipd_native addon (native/addon.cc),
// replacing npm raw-socket (nan: does not build on Node 24; closed itself on any error, and vipd
// had to read its private fields to drain it).
//
//   rawSocket({ family: 4, protocol, ifname, local, group? }, onBatch, onError) -> NativeSocket
//     socket(AF_INET, SOCK_RAW, protocol), non-blocking and close-on-exec, with
//       IP_HDRINCL        vipd writes the IP header itself (TTL 255, TOS 0xc0, its own source:
//                         src/net/ipv4.ts), whatever the kernel would have picked
//       SO_BINDTODEVICE   reads and sends on `ifname` only
//       IP_MULTICAST_IF   multicast leaves through `ifname`, from `local` (by index, so it holds
//                         when the address changes)
//       IP_MULTICAST_LOOP 0: our own adverts are not read back
//       IP_ADD_MEMBERSHIP `group` on `ifname` (with `local`), when given
//       IP_PKTINFO        each datagram comes with the index of the interface it arrived on
//       SO_RCVBUF         kReceiveBuffer (SO_RCVBUFFORCE where allowed): a busy loop must not cost
//                         adverts
//     onBatch(RawDatagram[]): { data: the whole packet, IP header first; ifindex }
//     send(packet, dst): one whole IPv4 packet to the dotted-quad `dst`
//   Reading, errors, close and faults: native/watched_socket.cc. An open fault (injectFault 'raw'
//   'open') throws before socket() is called. Errors are thrown as native/common.h describes,
//   naming the interface.
//
// Family 4 only for now; an IPv6 socket is another Protocol (no header on receive: the source
// and hop limit come from recvmsg's address and IPV6_HOPLIMIT).
#include <napi.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
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

// 1 MiB (the kernel doubles it for its bookkeeping): a few thousand adverts of 40-60 bytes at
// the kernel's ~700 bytes of truesize each.
constexpr int kReceiveBuffer = 1 << 20;

constexpr const char* kUsage =
    "rawSocket({ family: 4, protocol: number, ifname: string, local: string, group?: string }, "
    "onBatch: function, onError: function)";

class RawProtocol : public vipd::Protocol {
 public:
  vipd::FaultKind kind() const override { return vipd::FaultKind::kRaw; }

  bool Destination(const Napi::CallbackInfo& info, sockaddr_storage* dst,
                   socklen_t* length) const override {
    sockaddr_in* address = reinterpret_cast<sockaddr_in*>(dst);
    address->sin_family = AF_INET;
    if (info.Length() < 2 || !info[1].IsString() ||
        inet_pton(AF_INET, info[1].As<Napi::String>().Utf8Value().c_str(),
                  &address->sin_addr) != 1) {
      ThrowType(info.Env(), "send(packet: Buffer, dst: string): dst must be an IPv4 address");
      return false;
    }
    *length = sizeof *address;
    return true;
  }

  Napi::Value Datagram(Napi::Env env, const uint8_t* data, size_t size,
                       const msghdr& message) const override {
    int ifindex = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        ifindex = info.ipi_ifindex;
      }
    }
    Napi::Object datagram = Napi::Object::New(env);
    datagram.Set("data", Napi::Buffer<uint8_t>::Copy(env, data, size));
    datagram.Set("ifindex", Napi::Number::New(env, ifindex));
    return datagram;
  }
};

bool ReadAddress(const Napi::Object& options, const char* key, in_addr* out) {
  const Napi::Value value = options.Get(key);
  return value.IsString() && inet_pton(AF_INET, value.As<Napi::String>().Utf8Value().c_str(),
                                       out) == 1;
}

Napi::Value RawSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() ||
      !info[2].IsFunction()) {
    return ThrowType(env, kUsage);
  }
  const Napi::Object options = info[0].As<Napi::Object>();
  const Napi::Value family = options.Get("family");
  const Napi::Value protocol = options.Get("protocol");
  const Napi::Value ifnameValue = options.Get("ifname");
  const Napi::Value groupValue = options.Get("group");
  in_addr local = {};
  in_addr group = {};
  const bool joins = !groupValue.IsUndefined();
  if (!family.IsNumber() || family.As<Napi::Number>().Int32Value() != 4 ||
      !protocol.IsNumber() || !ifnameValue.IsString() || !ReadAddress(options, "local", &local) ||
      (joins && !ReadAddress(options, "group", &group))) {
    return ThrowType(env, kUsage);
  }
  const int proto = protocol.As<Napi::Number>().Int32Value();
  if (proto <= 0 || proto > 255) return ThrowType(env, "rawSocket: protocol must be 1..255");
  const std::string ifname = ifnameValue.As<Napi::String>().Utf8Value();

  int err = 0;
  if (vipd::TakeFault(vipd::FaultKind::kRaw, vipd::FaultOp::kOpen, &err)) {
    return ThrowErrno(env, err, "socket(AF_INET, SOCK_RAW)", ifname);
  }
  const unsigned int ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return ThrowErrno(env, errno, "if_nametoindex", ifname);
  const int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return ThrowErrno(env, errno, "socket(AF_INET, SOCK_RAW)", ifname);

  // Each option in turn; the first refusal closes the socket and names the option.
  const int one = 1;
  const int zero = 0;
  ip_mreqn on_interface = {};
  on_interface.imr_address = local;
  on_interface.imr_ifindex = static_cast<int>(ifindex);
  ip_mreqn membership = on_interface;
  membership.imr_multiaddr = group;
  struct Option {
    int level;
    int name;
    const void* value;
    socklen_t length;
    const char* label;
  };
  const Option settings[] = {
      {IPPROTO_IP, IP_HDRINCL, &one, sizeof one, "setsockopt(IP_HDRINCL)"},
      {SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size()),
       "setsockopt(SO_BINDTODEVICE)"},
      {IPPROTO_IP, IP_MULTICAST_IF, &on_interface, sizeof on_interface,
       "setsockopt(IP_MULTICAST_IF)"},
      {IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero, "setsockopt(IP_MULTICAST_LOOP)"},
      {IPPROTO_IP, IP_PKTINFO, &one, sizeof one, "setsockopt(IP_PKTINFO)"},
  };
  for (const Option& o : settings) {
    if (setsockopt(fd, o.level, o.name, o.value, o.length) != 0) {
      err = errno;
      ::close(fd);
      return ThrowErrno(env, err, o.label, ifname);
    }
  }
  if (joins && setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership, sizeof membership) != 0) {
    err = errno;
    ::close(fd);
    return ThrowErrno(env, err, "setsockopt(IP_ADD_MEMBERSHIP)", ifname);
  }
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN, a raw socket only CAP_NET_RAW: SO_RCVBUF then, which the
  // kernel caps at net.core.rmem_max. A smaller buffer is no reason to refuse the socket.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  }
  return vipd::WatchSocket(env, fd, std::make_unique<RawProtocol>(), ifname,
                           info[1].As<Napi::Function>(), info[2].As<Napi::Function>());
}

}  // namespace

void vipd::InitRawSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("rawSocket", Napi::Function::New(env, RawSocket, "rawSocket"));
}
