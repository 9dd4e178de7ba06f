// File-descriptor passing over AF_UNIX stream sockets (SCM_RIGHTS), for `vm` ports: `tapwire exec` asks
// tapwired for an fd of a persistent TAP and runs an emulator with it, the way libvirt hands qemu a
// `-netdev tap,fd=N`. Node's net module can neither send nor receive fds, hence these few syscalls.
// No policy here: who may have which fd is decided in src/daemon/fd-server.ts.
//
// Daemon side (the design choice): a native listening socket, accepted natively, read by Node.
//   new UnixListener({ path, mode, gid? }, onAccept) does
//     socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC) -> bind(path) -> chmod(path, mode)
//     -> chown(path, -1, gid) -> listen()
//   in that order: until listen() every connect() is refused, so no client can get in while the socket
//   file still has the umask's mode. A uv_poll on the listening fd (level-triggered, on the loop of the
//   creating thread) accept4()s each connection (non-blocking, close-on-exec) and calls onAccept(fd, 0).
//   JS owns that fd from then on: it reads SO_PEERCRED first (peerCred), wraps the fd in
//   `new net.Socket({ fd })` (a documented API) to read the request with Node's timeouts and size cap,
//   and calls sendFd(fd, ...) while that socket is not destroyed (Node closes the fd synchronously on
//   destroy, so the number cannot have been reused meanwhile). The alternative, net.createServer plus
//   sendFd(socket._handle.fd), leans on an undocumented internal of Node's stream handles, and Node
//   chmods its socket file only after it has begun listening.
//   An accept error other than EAGAIN/EINTR/ECONNABORTED (EMFILE, ENFILE, ENOBUFS, ENOMEM) stops the
//   poll, since a level-triggered poll would otherwise spin, and is reported as onAccept(-1, errno); JS
//   calls resume() when it sees fit. close() stops the poll and closes the listening fd; it never
//   unlinks the path (JS does, after checking the file is still ours).
//
// sendFd(socketFd, fd, payload) -> bytes sent: one sendmsg(MSG_NOSIGNAL) with one SCM_RIGHTS fd and the
//   payload (at least 1 byte: the fd travels with the first byte). On a non-blocking socket the count can
//   be short (only for payloads larger than the free send buffer); the caller writes the rest itself.
// peerCred(socketFd) -> { pid, uid, gid, groups }: the credentials the peer had at connect()
//   (SO_PEERCRED) and its supplementary groups (SO_PEERGROUPS, Linux 4.13+; `groups` is null on a kernel
//   without it). Both are as seen from the caller's user namespace.
// requestFd(path, request, timeoutMs) -> { fd, reply }: the client side, blocking (it runs in the
//   short-lived CLI): connect, send the request, shut down the write side, then read the reply until a
//   newline, end of stream or 64 KiB, with room for one SCM_RIGHTS fd. A server that hangs up early (EPIPE
//   while sending, ECONNRESET after its last byte) still has its answer read; a server that said nothing
//   gives { fd: null, reply: <empty> }. The whole exchange (connect
//   included) is bounded by timeoutMs through SO_SNDTIMEO/SO_RCVTIMEO; running out throws ETIMEDOUT.
//   The fd is received close-on-exec (MSG_CMSG_CLOEXEC): it must not leak into any other child, and
//   child_process.spawn with the fd at stdio index 3 dup2()s it to fd 3 of the child, which clears the
//   flag there (libuv clears it explicitly when the fd already is 3). `fd` is null when no fd came, and
//   `reply` then holds the server's error text. More than one fd is a protocol error: all are closed.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "common.h"
#include "unixsock.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

namespace tw {
namespace {

constexpr size_t kMaxReply = 64 * 1024;
constexpr int kMaxTimeoutMs = 10 * 60 * 1000;
// kAcceptBurst bounds the connections taken per wake-up, so a flood cannot starve the event loop.
constexpr int kAcceptBurst = 16;

bool IsUint8Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

class UnixListener : public PolledSocket<UnixListener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UnixListener",
                       {
                           InstanceMethod("resume", &UnixListener::Resume),
                           InstanceMethod("close", &UnixListener::Close),
                       });
  }

  // new UnixListener({ path, mode, gid?, backlog? }, onAccept(fd, errno))
  explicit UnixListener(const Napi::CallbackInfo& info) : PolledSocket(info, FdClose::kWhenHandleClosed) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      ThrowType(env, "new UnixListener({ path, mode, gid?, backlog? }, onAccept)");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::string path = o.Get("path").IsString() ? o.Get("path").As<Napi::String>().Utf8Value() : "";
    int mode = o.Get("mode").IsNumber() ? o.Get("mode").As<Napi::Number>().Int32Value() : -1;
    int64_t gid = o.Get("gid").IsNumber() ? o.Get("gid").As<Napi::Number>().Int64Value() : -1;
    int backlog = o.Get("backlog").IsNumber() ? o.Get("backlog").As<Napi::Number>().Int32Value() : 64;
    sockaddr_un addr;
    socklen_t addrLen = 0;
    if (!FillAddress(path, &addr, &addrLen)) {
      ThrowType(env, "UnixListener: path must be 1-107 bytes");
      return;
    }
    if (mode < 0 || mode > 07777) {
      ThrowType(env, "UnixListener: mode must be a file mode such as 0o660");
      return;
    }
    if (gid < -1 || gid > 0xfffffffeLL) {
      ThrowType(env, "UnixListener: gid out of range");
      return;
    }
    if (backlog < 1 || backlog > 4096) {
      ThrowType(env, "UnixListener: backlog 1..4096");
      return;
    }
    if (!FindLoop(env, "UnixListener: no libuv loop")) return;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ThrowErrno(env, errno, "socket(AF_UNIX)");
      return;
    }
    if (!BindFile(env, fd, path, addr, addrLen, mode, -1, gid)) return;
    if (listen(fd, backlog) < 0) {
      DropFile(env, fd, path, errno, "listen");
      return;
    }
    const char* call = "";
    if (int rc = Watch(fd, &call); rc < 0) {
      DropFile(env, fd, path, -rc, call);
      return;
    }
    info.This().As<Napi::Object>().Set("fd", fd);
    Hold(env, info[1].As<Napi::Function>(), "tapwire.fdpass");
  }

 private:
  friend class PolledSocket<UnixListener>;

  // Ready accepts up to kAcceptBurst connections and hands each to onAccept; an accept or poll error
  // pauses the poll and is handed over instead.
  void Ready(int status) {
    Napi::Env env = Env();
    for (int i = 0; i < kAcceptBurst && Polling(); i++) {
      int fd = -1;
      int err = 0;
      if (status < 0) {
        err = -status;
      } else {
        fd = accept4(Fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) return;
          if (errno == EINTR || errno == ECONNABORTED) continue;
          err = errno;
        }
      }
      if (err != 0) Pause();
      if (!Emit({Napi::Number::New(env, fd), Napi::Number::New(env, err)})) return;
      if (err != 0) return;
    }
  }
};

// sendFd(socketFd, fd, payload) -> bytes sent.
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !IsUint8Array(info[2]))
    return ThrowType(env, "sendFd(socketFd, fd, Uint8Array)");
  int sock = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  Napi::Uint8Array payload = info[2].As<Napi::Uint8Array>();
  if (sock < 0 || fd < 0) return ThrowType(env, "sendFd: bad fd");
  if (payload.ByteLength() == 0) return ThrowType(env, "sendFd: the payload needs at least 1 byte to carry the fd");

  iovec iov;
  iov.iov_base = payload.Data();
  iov.iov_len = payload.ByteLength();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, errno, "sendmsg(SCM_RIGHTS)");
  return Napi::Number::New(env, static_cast<double>(n));
}

// peerCred(socketFd) -> { pid, uid, gid, groups: number[] | null }
Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "peerCred(socketFd)");
  int sock = info[0].As<Napi::Number>().Int32Value();
  if (sock < 0) return ThrowType(env, "peerCred: bad fd");
  ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return ThrowErrno(env, errno, "getsockopt(SO_PEERCRED)");
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, cred.pid));
  result.Set("uid", Napi::Number::New(env, cred.uid));
  result.Set("gid", Napi::Number::New(env, cred.gid));

  // SO_PEERGROUPS answers ERANGE with the size it needs when the buffer is too small.
  std::vector<gid_t> groups(64);
  for (int attempt = 0;; attempt++) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      Napi::Array arr = Napi::Array::New(env, groups.size());
      for (size_t i = 0; i < groups.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, groups[i]));
      result.Set("groups", arr);
      break;
    }
    if (errno == ENOPROTOOPT) {
      result.Set("groups", env.Null());
      break;
    }
    if (errno != ERANGE || attempt >= 3) return ThrowErrno(env, errno, "getsockopt(SO_PEERGROUPS)");
    groups.resize(glen / sizeof(gid_t) + 1);
  }
  return result;
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// SetTimeout sets `option` (SO_SNDTIMEO or SO_RCVTIMEO) to what is left until `deadline`; false (errno
// ETIMEDOUT) when nothing is left.
bool SetTimeout(int sock, int option, int64_t deadline) {
  int64_t left = deadline - NowMs();
  if (left <= 0) {
    errno = ETIMEDOUT;
    return false;
  }
  timeval tv;
  tv.tv_sec = static_cast<time_t>(left / 1000);
  tv.tv_usec = static_cast<suseconds_t>((left % 1000) * 1000);
  return setsockopt(sock, SOL_SOCKET, option, &tv, sizeof tv) == 0;
}

// requestFd(path, request, timeoutMs) -> { fd: number | null, reply: Buffer }
Napi::Value RequestFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !IsUint8Array(info[1]) || !info[2].IsNumber())
    return ThrowType(env, "requestFd(path, Uint8Array, timeoutMs)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Uint8Array request = info[1].As<Napi::Uint8Array>();
  int64_t timeoutMs = info[2].As<Napi::Number>().Int64Value();
  sockaddr_un addr;
  socklen_t addrLen = 0;
  if (!FillAddress(path, &addr, &addrLen)) return ThrowType(env, "requestFd: socket path must be 1-107 bytes");
  if (timeoutMs < 1 || timeoutMs > kMaxTimeoutMs) return ThrowType(env, "requestFd: timeoutMs 1..600000");
  // A copy, so the request does not depend on a JS buffer across the blocking calls below.
  std::vector<uint8_t> req(request.Data(), request.Data() + request.ByteLength());
  int64_t deadline = NowMs() + timeoutMs;

  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return ThrowErrno(env, errno, "socket(AF_UNIX)");
  int received = -1;
  auto fail = [&](int err, const std::string& call) {
    if (received >= 0) close(received);
    close(sock);
    // A timed-out blocking call reports EAGAIN; say what happened instead.
    return ThrowErrno(env, err == EAGAIN || err == EWOULDBLOCK ? ETIMEDOUT : err, call);
  };
  auto failErrno = [&](const std::string& call) { return fail(errno, call); };

  // SO_SNDTIMEO also bounds connect() on AF_UNIX (a full backlog makes it wait).
  if (!SetTimeout(sock, SO_SNDTIMEO, deadline)) return failErrno("setsockopt(SO_SNDTIMEO)");
  if (connect(sock, reinterpret_cast<sockaddr*>(&addr), addrLen) < 0) return failErrno("connect");
  // A server may answer (e.g. "busy") and hang up before it reads the request: then sending fails with
  // EPIPE/ECONNRESET, and the answer is still there to read.
  bool hungUp = false;
  size_t sent = 0;
  while (sent < req.size()) {
    if (!SetTimeout(sock, SO_SNDTIMEO, deadline)) return failErrno("send");
    ssize_t n = send(sock, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) {
        hungUp = true;
        break;
      }
      return failErrno("send");
    }
    sent += static_cast<size_t>(n);
  }
  // End of request: a server that reads to end of stream need not wait for a newline.
  if (!hungUp && shutdown(sock, SHUT_WR) < 0) return failErrno("shutdown");

  std::vector<uint8_t> reply;
  std::vector<uint8_t> chunk(4096);
  for (;;) {
    if (!SetTimeout(sock, SO_RCVTIMEO, deadline)) return failErrno("recvmsg");
    iovec iov;
    iov.iov_base = chunk.data();
    iov.iov_len = chunk.size();
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      // ECONNRESET comes after everything the server sent has been read: the server closed without
      // reading all of the request. It ends the reply like end of stream does.
      if (errno != ECONNRESET) return failErrno("recvmsg");
      n = 0;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int got;
        memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (received < 0) {
          received = got;
        } else {
          close(got);
          return fail(EPROTO, "recvmsg: more than one fd");
        }
      }
    }
    // MSG_CTRUNC: the server sent more fds than there was room for; the kernel dropped the rest.
    if (msg.msg_flags & MSG_CTRUNC) return fail(EPROTO, "recvmsg: more than one fd (MSG_CTRUNC)");
    if (n == 0) break;
    reply.insert(reply.end(), chunk.data(), chunk.data() + n);
    if (reply.size() > kMaxReply) return fail(EMSGSIZE, "recvmsg: reply over 64 KiB");
    if (memchr(chunk.data(), '\n', static_cast<size_t>(n)) != nullptr) break;
  }
  close(sock);
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", received >= 0 ? Napi::Value(Napi::Number::New(env, received)) : env.Null());
  result.Set("reply", Napi::Buffer<uint8_t>::Copy(env, reply.data(), reply.size()));
  return result;
}

}  // namespace

Napi::Object InitFdPass(Napi::Env env, Napi::Object exports) {
  exports.Set("sendFd", Napi::Function::New(env, SendFd, "sendFd"));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred"));
  exports.Set("requestFd", Napi::Function::New(env, RequestFd, "requestFd"));
  exports.Set("UnixListener", UnixListener::Define(env));
  return exports;
}

}  // namespace tw
