// Test-only fault injection for the watched sockets (native/fault.cc): process-wide counters that
// make the next opens, sends or reads of one kind of socket fail with a chosen errno, taken by
// native/raw_socket.cc, native/netlink_socket.cc and native/watched_socket.cc at the point where
// the real system call would have failed.
#ifndef VIPD_NATIVE_FAULT_H_
#define VIPD_NATIVE_FAULT_H_

namespace vipd {

enum class FaultKind { kRaw = 0, kNetlink = 1 };
enum class FaultOp { kOpen = 0, kSend = 1, kRecv = 2 };

// True, with the errno to fail with in *err, when an injected fault is due for this operation
// (and counts it off); false for the real system call.
bool TakeFault(FaultKind kind, FaultOp op, int* err);

}  // namespace vipd

#endif  // VIPD_NATIVE_FAULT_H_
