// UnixDgram: an AF_UNIX datagram socket for `socket` ports in `dgram` mode, the daemon's end of QEMU's
//   -netdev dgram,id=n0,local.type=unix,local.path=QPATH,remote.type=unix,remote.path=DPATH
// (one Ethernet frame per datagram, no length, no virtio-net header). Node has no AF_UNIX SOCK_DGRAM,
// hence this class. No policy here: what a runt, a truncated datagram or a lost peer means is decided in
// src/ports/socket-dgram.ts.
//
// Contract (the JS side relies on each point):
// - new UnixDgram({ path, mode?, uid?, gid?, batch? }, onFrames) does
//     socket(AF_UNIX, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC) -> SO_SNDBUF/SO_RCVBUF 4 MiB (the FORCE
//     variants first, then the plain ones, which the kernel caps at wmem_max/rmem_max; a refusal is not
//     an error) -> bind(path) -> chmod(path, mode, default 0660) -> chown(path, uid, gid) when either is
//     given -> discard every datagram already queued -> uv_poll (readable, level-triggered) on the loop
//     of the creating thread.
//   The discard closes the window between bind and chmod, when the file still had the umask's mode: a
//   datagram from someone the final mode would refuse is never delivered. The caller removes a stale file
//   at `path` first (bind fails with EADDRINUSE on any existing file). A failure after bind unlinks the
//   file this call created; the error is thrown with the errno name as `code` (ThrowErrno).
// - Receive: each wake-up reads datagrams with recvfrom(MSG_TRUNC) into one preallocated arena, exposed
//   as `rxBuffer` (an ArrayBuffer, no copies), packed one after another (each start 8-byte aligned),
//   until EAGAIN, `batch` datagrams (default 256, 1..4096), or fewer than `maxFrame` bytes of arena left.
//   Then ONE call onFrames(count, peerChanged, errno). Datagram i of the batch starts at rxOffsets[i] and
//   is rxLengths[i] bytes long. A datagram longer than `maxFrame` (65553 = 14 + 4 + 65535: a tagged
//   Ethernet header and the largest packet) has rxTruncated[i] = 1 and rxLengths[i] = its real length;
//   its bytes are not in the arena and it must not be used as a frame. The arena is reused by the next
//   batch: JS must be done with the frames before onFrames returns.
// - Peer: the sender's address (sun_path, or an abstract name) of the last datagram of the batch that
//   came from a bound socket becomes the peer (an unbound sender cannot be answered and changes nothing).
//   peerChanged is true when that address differs from the peer before the batch (including "there was
//   none"). The `peer` getter gives it as a string ("@name" for an abstract address) or null.
// - send(frame) -> 0 or an errno, never throws for the kernel: sendto(peer, MSG_DONTWAIT|MSG_NOSIGNAL).
//   ENOTCONN: no peer yet. EAGAIN: the peer's queue (net.unix.max_dgram_qlen datagrams, unless the peer
//   is connected to us) or our send buffer is full; the frame is not sent. ECONNREFUSED (the socket file
//   is there but nobody has it open) and ENOENT (no file): the peer went away and is forgotten. Any other
//   errno is returned as is and the peer kept. After close(): EBADF.
//   sendTo(path, frame) -> 0 or an errno: the same to an explicit path, the peer untouched (for tests, and
//   for a client side of this protocol).
// - A receive error other than EAGAIN/EINTR stops the poll (level-triggered, it would spin) and is reported
//   as onFrames(count, peerChanged, errno) with whatever was read before it; resume() polls again.
// - close() stops the poll and closes the fd at once (libuv allows closing right after uv_poll_stop), so
//   the fd is free when it returns; it never unlinks the path (JS does, after checking it is a socket).
//   Safe to call twice. The env cleanup hook does the same when the thread exits with the socket open
//   (a poll handle left open at thread exit aborts Node).
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"
#include "unixsock.h"

namespace tw {
namespace {

// kMaxFrame is the largest datagram taken as a frame: Ethernet header, one 802.1Q tag, a 65535-byte packet.
constexpr int kMaxFrame = 14 + 4 + 65535;
// kArenaSize holds a batch of small frames; a batch ends when less than kMaxFrame is left.
constexpr size_t kArenaSize = 1 << 20;
constexpr int kBufferSize = 4 << 20;
constexpr int kDefaultBatch = 256;
constexpr int kMaxBatch = 4096;

// Named is whether a sender address (from recvfrom) can be sent back to: bound, by path or abstract name.
bool Named(socklen_t len) { return len > static_cast<socklen_t>(offsetof(sockaddr_un, sun_path)); }

void SetBuffer(int fd, int forced, int plain) {
  int size = kBufferSize;
  if (setsockopt(fd, SOL_SOCKET, forced, &size, sizeof size) == 0) return;
  setsockopt(fd, SOL_SOCKET, plain, &size, sizeof size);
}

bool IsUint8Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

class UnixDgram : public PolledSocket<UnixDgram> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UnixDgram",
                       {
                           InstanceMethod<&UnixDgram::Send>("send"),
                           InstanceMethod<&UnixDgram::SendTo>("sendTo"),
                           InstanceMethod("resume", &UnixDgram::Resume),
                           InstanceMethod("close", &UnixDgram::Close),
                           InstanceAccessor<&UnixDgram::Peer>("peer"),
                       });
  }

  // new UnixDgram({ path, mode?, uid?, gid?, batch? }, onFrames(count, peerChanged, errno))
  explicit UnixDgram(const Napi::CallbackInfo& info) : PolledSocket(info, FdClose::kAtOnce) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      ThrowType(env, "new UnixDgram({ path, mode?, uid?, gid?, batch? }, onFrames)");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::string path = o.Get("path").IsString() ? o.Get("path").As<Napi::String>().Utf8Value() : "";
    int mode = o.Get("mode").IsNumber() ? o.Get("mode").As<Napi::Number>().Int32Value() : 0660;
    int64_t uid = o.Get("uid").IsNumber() ? o.Get("uid").As<Napi::Number>().Int64Value() : -1;
    int64_t gid = o.Get("gid").IsNumber() ? o.Get("gid").As<Napi::Number>().Int64Value() : -1;
    batch_ = o.Get("batch").IsNumber() ? o.Get("batch").As<Napi::Number>().Int32Value() : kDefaultBatch;
    sockaddr_un addr;
    socklen_t addrLen = 0;
    if (!FillAddress(path, &addr, &addrLen)) {
      ThrowType(env, "UnixDgram: path must be 1-107 bytes");
      return;
    }
    if (mode < 0 || mode > 07777) {
      ThrowType(env, "UnixDgram: mode must be a file mode such as 0o660");
      return;
    }
    if (uid < -1 || uid > 0xfffffffeLL || gid < -1 || gid > 0xfffffffeLL) {
      ThrowType(env, "UnixDgram: uid or gid out of range");
      return;
    }
    if (batch_ < 1 || batch_ > kMaxBatch) {
      ThrowType(env, "UnixDgram: batch 1..4096");
      return;
    }
    if (!FindLoop(env, "UnixDgram: no libuv loop")) return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ThrowErrno(env, errno, "socket(AF_UNIX, SOCK_DGRAM)");
      return;
    }
    SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
    SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
    if (!BindFile(env, fd, path, addr, addrLen, mode, uid, gid)) return;
    // Whatever came in while the file had the umask's mode is dropped unread (see the header comment).
    for (;;) {
      uint8_t scratch[1];
      ssize_t n = recv(fd, scratch, sizeof scratch, MSG_TRUNC | MSG_DONTWAIT);
      if (n < 0 && errno != EINTR) break;
    }
    const char* call = "";
    if (int rc = Watch(fd, &call); rc < 0) {
      DropFile(env, fd, path, -rc, call);
      return;
    }

    Napi::ArrayBuffer rx = Napi::ArrayBuffer::New(env, kArenaSize);
    rx_ = static_cast<uint8_t*>(rx.Data());
    Napi::Int32Array offsets = Napi::Int32Array::New(env, batch_);
    offsets_ = offsets.Data();
    Napi::Int32Array lengths = Napi::Int32Array::New(env, batch_);
    lengths_ = lengths.Data();
    Napi::Uint8Array truncated = Napi::Uint8Array::New(env, batch_);
    truncated_ = truncated.Data();
    Napi::Object self = info.This().As<Napi::Object>();
    // Read-only and not configurable: the addon keeps raw pointers into these buffers.
    self.DefineProperties({
        Napi::PropertyDescriptor::Value("rxBuffer", rx, napi_enumerable),
        Napi::PropertyDescriptor::Value("rxOffsets", offsets, napi_enumerable),
        Napi::PropertyDescriptor::Value("rxLengths", lengths, napi_enumerable),
        Napi::PropertyDescriptor::Value("rxTruncated", truncated, napi_enumerable),
        Napi::PropertyDescriptor::Value("maxFrame", Napi::Number::New(env, kMaxFrame), napi_enumerable),
        Napi::PropertyDescriptor::Value("batch", Napi::Number::New(env, batch_), napi_enumerable),
        Napi::PropertyDescriptor::Value("fd", Napi::Number::New(env, fd), napi_enumerable),
    });
    Hold(env, info[1].As<Napi::Function>(), "tapwire.dgram");
  }

 private:
  friend class PolledSocket<UnixDgram>;

  // peer: a closed socket has none.
  Napi::Value Peer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Fd() < 0 || peerLen_ == 0) return env.Null();
    size_t n = peerLen_ - offsetof(sockaddr_un, sun_path);
    if (peer_.sun_path[0] == '\0') return Napi::String::New(env, "@" + std::string(peer_.sun_path + 1, n - 1));
    return Napi::String::New(env, std::string(peer_.sun_path, strnlen(peer_.sun_path, n)));
  }

  // SendRaw is one non-blocking sendto; 0 or the errno.
  int SendRaw(const Napi::Uint8Array& frame, const sockaddr_un* to, socklen_t toLen) {
    ssize_t n;
    do {
      n = sendto(Fd(), frame.Data(), frame.ByteLength(), MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(to), toLen);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return 0;
    return errno == EWOULDBLOCK ? EAGAIN : errno;
  }

  // send(frame) -> 0 | errno
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !IsUint8Array(info[0])) return ThrowType(env, "send(Uint8Array)");
    if (Fd() < 0) return Napi::Number::New(env, EBADF);
    if (peerLen_ == 0) return Napi::Number::New(env, ENOTCONN);
    int err = SendRaw(info[0].As<Napi::Uint8Array>(), &peer_, peerLen_);
    if (err == ECONNREFUSED || err == ENOENT) peerLen_ = 0;
    return Napi::Number::New(env, err);
  }

  // sendTo(path, frame) -> 0 | errno
  Napi::Value SendTo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !IsUint8Array(info[1])) return ThrowType(env, "sendTo(path, Uint8Array)");
    sockaddr_un to;
    socklen_t toLen = 0;
    if (!FillAddress(info[0].As<Napi::String>().Utf8Value(), &to, &toLen)) return ThrowType(env, "sendTo: path must be 1-107 bytes");
    if (Fd() < 0) return Napi::Number::New(env, EBADF);
    return Napi::Number::New(env, SendRaw(info[1].As<Napi::Uint8Array>(), &to, toLen));
  }

  // Ready drains up to batch_ datagrams into the arena and hands them to onFrames in one call.
  void Ready(int status) {
    int count = 0;
    int err = status < 0 ? -status : 0;
    size_t pos = 0;
    sockaddr_un from;
    socklen_t fromLen = 0;
    bool named = false;
    sockaddr_un last;
    socklen_t lastLen = 0;
    while (err == 0 && count < batch_ && kArenaSize - pos >= static_cast<size_t>(kMaxFrame)) {
      fromLen = sizeof from;
      // MSG_TRUNC makes recvfrom return the datagram's real length, so a longer one is told apart from
      // one of exactly kMaxFrame bytes.
      ssize_t n = recvfrom(Fd(), rx_ + pos, kMaxFrame, MSG_TRUNC | MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fromLen);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      if (Named(fromLen)) {
        named = true;
        last = from;
        lastLen = fromLen;
      }
      offsets_[count] = static_cast<int32_t>(pos);
      lengths_[count] = static_cast<int32_t>(n);
      if (n > kMaxFrame) {
        truncated_[count] = 1;
      } else {
        truncated_[count] = 0;
        pos = (pos + static_cast<size_t>(n) + 7) & ~static_cast<size_t>(7);
      }
      count++;
    }
    bool changed = false;
    if (named && (lastLen != peerLen_ || memcmp(&last, &peer_, lastLen) != 0)) {
      peer_ = last;
      peerLen_ = lastLen;
      changed = true;
    }
    if (count == 0 && err == 0) return;
    if (err != 0) {
      // Level-triggered: a socket in error would wake us forever. JS decides when to resume().
      Pause();
    }
    Napi::Env env = Env();
    Emit({Napi::Number::New(env, count), Napi::Boolean::New(env, changed), Napi::Number::New(env, err)});
  }

  int batch_ = kDefaultBatch;
  sockaddr_un peer_{};
  // peerLen_ is 0 while there is no peer.
  socklen_t peerLen_ = 0;
  uint8_t* rx_ = nullptr;
  int32_t* offsets_ = nullptr;
  int32_t* lengths_ = nullptr;
  uint8_t* truncated_ = nullptr;
};

}  // namespace

Napi::Object InitDgram(Napi::Env env, Napi::Object exports) {
  exports.Set("UnixDgram", UnixDgram::Define(env));
  return exports;
}

}  // namespace tw
