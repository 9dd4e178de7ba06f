// Shared declarations of the tapwire addon. The addon is deliberately small: syscalls, fds and batched
// I/O. Every policy (what to forward, what to count, when to retry) lives in TypeScript.
#pragma once
#include <napi.h>
#include <string>

namespace tw {

// ThrowErrno throws a JS Error whose `code` is the errno name (e.g. "EBUSY"), with `errno` and `syscall`
// set, the way Node's own fs errors look. It returns an undefined value for use in `return`.
Napi::Value ThrowErrno(Napi::Env env, int err, const std::string& syscall);
// ThrowType throws a TypeError for a bad argument (a bug in the caller, not a kernel refusal).
Napi::Value ThrowType(Napi::Env env, const std::string& message);
// ErrnoName returns "EINVAL" for EINVAL, or "E<number>" when the C library has no name for it.
std::string ErrnoName(int err);

// Netns enters the network namespace named `name` (a file in /run/netns) for the calling thread and
// returns to the original one when destroyed. An empty name does nothing. Only network namespaces are
// switched, which the kernel allows in a multi-threaded process; nothing else may run on this thread
// in between, so every user keeps the object on its stack inside one synchronous call.
class Netns {
 public:
  explicit Netns(const std::string& name);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  // Error is 0 on success, or the errno of the failed open/setns.
  int Error() const { return err_; }
  const char* FailedCall() const { return call_; }

 private:
  int orig_ = -1;
  int err_ = 0;
  const char* call_ = "";
};

Napi::Object InitTunTap(Napi::Env env, Napi::Object exports);
Napi::Object InitNetlink(Napi::Env env, Napi::Object exports);
Napi::Object InitIoLoop(Napi::Env env, Napi::Object exports);
Napi::Object InitPacket(Napi::Env env, Napi::Object exports);

}  // namespace tw
