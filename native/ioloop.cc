// IoLoop: batched frame I/O on non-blocking fds, on the event loop of the thread that created it.
//
// Contract (the JS side relies on each point):
// - One preallocated receive arena of `slots` x `slotSize` bytes, exposed as `rxBuffer` (an ArrayBuffer,
//   no copies) with the frame lengths in `rxLengths`. When an fd registered with add(fd, port) becomes
//   readable (uv_poll, level-triggered), up to `slots` frames are read from it, frame i at offset
//   i * slotSize, and onBatch(port, count, errno, skipped) is called once. The arena is reused by the next batch:
//   JS must finish with the frames (forward them with flush()) before onBatch returns. Frame i of a batch
//   starts at rxOffsets[i] (a slot boundary) and is rxLengths[i] bytes long.
// - Where the kernel allows it, the reads of one wake-up and the writes of one flush() each go to the
//   kernel in one io_uring_enter (RWF_NOWAIT, so they complete inline); otherwise, or with
//   { ioUring: false }, one read()/write() per frame. `ioUring` tells which (reads and writes fall back
//   separately if the device refuses RWF_NOWAIT).
// - A read that fills a whole slot may be truncated: slotSize must exceed the largest frame plus the vnet
//   header (64 KiB + header once GSO is on); JS treats a full slot as a drop.
// - Read errors come in two classes (IsFrameError), from what the kernel does in packet_recvmsg (AF_PACKET)
//   and tun_do_read (TAP/TUN):
//   * one frame the kernel took off the queue and then could not hand over: EINVAL (virtio_net_hdr_from_skb
//     refuses the skb, e.g. a UFO frame a guest wrote into a vm port's TAP, or the packet_rcv_vnet / tun_put_user
//     length checks), EMSGSIZE, ENOBUFS, ENOMEM. The frame is gone, the next one is readable: reading goes
//     on, and the batch reports how many were lost as `skipped` (each also spends one slot of the batch, so
//     an error that did not consume a frame cannot keep a wake-up reading forever). A guest must never be
//     able to disable its port with what it sends.
//   * anything else (EBADF, EBADFD from a detached TUN queue, ENODEV from a packet socket whose device
//     was unregistered, ENXIO, EIO, ENETDOWN, EFAULT from tun_ring_recv on a shut-down queue, ...): the
//     device is gone. Polling that fd stops and the errno is reported as onBatch(port, n, errno, skipped).
//   Both read paths (io_uring and plain read()) classify the same way.
// - flush(n) writes n frames described by `txPlan` triples [fd, offset, length] (offsets into rxBuffer)
//   with one write() each, in order, in one call from JS, and stores 0 or the errno of each in `txResult`;
//   it returns the number of failed writes. send(fd, bytes) writes one frame built by JS.
// - remove(port) stops polling but never closes the fd: the device code owns fds.
// - close() (or the env cleanup hook, when the thread exits) stops and closes every poll handle, so a
//   worker thread can end without libuv finding open handles.
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

#include "common.h"
#include "uring.h"

namespace tw {
namespace {

class IoLoop;

struct Poll {
  uv_poll_t handle;
  IoLoop* owner;
  int fd;
  int port;
  // hint is how many ring reads the next wake-up issues: doubled while every read brings a frame, cut
  // back to twice the last batch otherwise, so a quiet port costs few empty reads and a busy one drains
  // the whole arena in one enter.
  int hint;
};

class IoLoop : public Napi::ObjectWrap<IoLoop> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "IoLoop",
                       {
                           InstanceMethod<&IoLoop::Add>("add"),
                           InstanceMethod<&IoLoop::Remove>("remove"),
                           InstanceMethod<&IoLoop::Flush>("flush"),
                           InstanceMethod<&IoLoop::Send>("send"),
                           InstanceMethod<&IoLoop::Close>("close"),
                       });
  }

  // new IoLoop({ slots, slotSize, planSize }, onBatch)
  explicit IoLoop(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IoLoop>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      ThrowType(env, "new IoLoop(options, onBatch)");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    slots_ = o.Get("slots").IsNumber() ? o.Get("slots").As<Napi::Number>().Int32Value() : 64;
    slotSize_ = o.Get("slotSize").IsNumber() ? o.Get("slotSize").As<Napi::Number>().Int32Value() : 66048;
    planSize_ = o.Get("planSize").IsNumber() ? o.Get("planSize").As<Napi::Number>().Int32Value() : 4096;
    if (slots_ < 1 || slots_ > 1024 || slotSize_ < 64 || slotSize_ > (1 << 20) || planSize_ < 1 || planSize_ > (1 << 20)) {
      ThrowType(env, "IoLoop: slots 1..1024, slotSize 64..1 MiB, planSize 1..1 Mi");
      return;
    }
    if (napi_get_uv_event_loop(env, &loop_) != napi_ok) {
      Napi::Error::New(env, "IoLoop: no libuv loop").ThrowAsJavaScriptException();
      return;
    }
    Napi::ArrayBuffer rx = Napi::ArrayBuffer::New(env, static_cast<size_t>(slots_) * slotSize_);
    rx_ = static_cast<uint8_t*>(rx.Data());
    rxSize_ = rx.ByteLength();
    Napi::Int32Array lengths = Napi::Int32Array::New(env, slots_);
    lengths_ = lengths.Data();
    Napi::Int32Array offsets = Napi::Int32Array::New(env, slots_);
    offsets_ = offsets.Data();
    bool wantUring = !o.Get("ioUring").IsBoolean() || o.Get("ioUring").As<Napi::Boolean>().Value();
    if (wantUring && ring_.Init(256) == 0) {
      uringReads_ = true;
      uringWrites_ = true;
    }
    Napi::Int32Array plan = Napi::Int32Array::New(env, static_cast<size_t>(planSize_) * 3);
    plan_ = plan.Data();
    Napi::Int32Array result = Napi::Int32Array::New(env, planSize_);
    result_ = result.Data();
    Napi::Object self = info.This().As<Napi::Object>();
    // Read-only and not configurable: the addon keeps raw pointers into these buffers, so JS must not be
    // able to swap them for others (and have the originals collected).
    self.DefineProperties({
        Napi::PropertyDescriptor::Value("rxBuffer", rx, napi_enumerable),
        Napi::PropertyDescriptor::Value("rxLengths", lengths, napi_enumerable),
        Napi::PropertyDescriptor::Value("rxOffsets", offsets, napi_enumerable),
        Napi::PropertyDescriptor::Value("txPlan", plan, napi_enumerable),
        Napi::PropertyDescriptor::Value("txResult", result, napi_enumerable),
    });
    Napi::Object uring = Napi::Object::New(env);
    uring.Set("reads", uringReads_);
    uring.Set("writes", uringWrites_);
    self.Set("ioUring", uring);
    uringInfo_ = Napi::Persistent(uring);
    self.Set("slots", slots_);
    self.Set("slotSize", slotSize_);
    self.Set("planSize", planSize_);
    onBatch_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = new Napi::AsyncContext(env, "tapwire.io");
    env_ = env;
    napi_add_env_cleanup_hook(env, &IoLoop::Cleanup, this);
    hookAdded_ = true;
  }

  ~IoLoop() override {
    if (hookAdded_) napi_remove_env_cleanup_hook(env_, &IoLoop::Cleanup, this);
    CloseAll();
    delete context_;
  }

 private:
  static void Cleanup(void* arg) {
    IoLoop* self = static_cast<IoLoop*>(arg);
    self->hookAdded_ = false;
    self->closed_ = true;
    self->CloseAll();
  }

  static void OnClosed(uv_handle_t* h) { delete reinterpret_cast<Poll*>(h); }

  void CloseAll() {
    for (Poll*& p : polls_) {
      if (p == nullptr) continue;
      uv_poll_stop(&p->handle);
      uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &IoLoop::OnClosed);
      p = nullptr;
    }
    active_ = 0;
  }

  Poll* Find(int port) {
    if (port < 0 || static_cast<size_t>(port) >= polls_.size()) return nullptr;
    return polls_[port];
  }

  // add(fd, port): start polling fd for readability; `port` is the small integer given back in onBatch.
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return ThrowType(env, "IoLoop is closed");
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return ThrowType(env, "add(fd, port)");
    int fd = info[0].As<Napi::Number>().Int32Value();
    int port = info[1].As<Napi::Number>().Int32Value();
    if (fd < 0 || port < 0 || port > 65535) return ThrowType(env, "add: bad fd or port");
    if (static_cast<size_t>(port) >= polls_.size()) polls_.resize(port + 1, nullptr);
    if (polls_[port] != nullptr) return ThrowType(env, "add: port already registered");
    Poll* p = new Poll();
    p->owner = this;
    p->fd = fd;
    p->port = port;
    p->hint = 4;
    int rc = uv_poll_init(loop_, &p->handle, fd);
    if (rc < 0) {
      delete p;
      return ThrowErrno(env, -rc, "uv_poll_init");
    }
    p->handle.data = p;
    rc = uv_poll_start(&p->handle, UV_READABLE, &IoLoop::OnReadable);
    if (rc < 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &IoLoop::OnClosed);
      return ThrowErrno(env, -rc, "uv_poll_start");
    }
    polls_[port] = p;
    if (active_++ == 0) Ref();
    return env.Undefined();
  }

  // remove(port): stop polling; safe to call for a port that is not registered.
  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "remove(port)");
    int port = info[0].As<Napi::Number>().Int32Value();
    Poll* p = Find(port);
    if (p == nullptr) return Napi::Boolean::New(env, false);
    uv_poll_stop(&p->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &IoLoop::OnClosed);
    polls_[port] = nullptr;
    if (--active_ == 0) Unref();
    return Napi::Boolean::New(env, true);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      closed_ = true;
      bool wasActive = active_ > 0;
      CloseAll();
      if (wasActive) Unref();
    }
    return info.Env().Undefined();
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    Poll* p = static_cast<Poll*>(handle->data);
    p->owner->Drain(p, status);
  }

  // IsFrameError tells a read error that lost one frame (reading goes on) from one that ends the device;
  // see the header comment.
  static bool IsFrameError(int err) { return err == EINVAL || err == EMSGSIZE || err == ENOBUFS || err == ENOMEM; }

  // ReadPlain reads frames one read() at a time until EAGAIN or the arena is full; frames the kernel
  // could not hand over are counted in `skipped` and use up a slot of the batch each.
  int ReadPlain(int fd, int* count, int* skipped) {
    while (*count + *skipped < slots_) {
      uint8_t* slot = rx_ + static_cast<size_t>(*count) * slotSize_;
      ssize_t n = read(fd, slot, slotSize_);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (IsFrameError(errno)) {
          (*skipped)++;
          continue;
        }
        return errno == EAGAIN ? 0 : errno;
      }
      offsets_[*count] = static_cast<int32_t>(slot - rx_);
      lengths_[(*count)++] = static_cast<int32_t>(n);
    }
    return 0;
  }

  // ReadRing issues one RWF_NOWAIT read per slot in one io_uring_enter; the frames keep slot order. A
  // ring that fails (rather than the fd) is given up for reads; what it did read is still delivered.
  int ReadRing(Poll* p, int* count, int* skipped) {
    int most = slots_ < static_cast<int>(ring_.Capacity()) ? slots_ : static_cast<int>(ring_.Capacity());
    int n = p->hint < most ? p->hint : most;
    for (int i = 0; i < n; i++) {
      scratch_[i] = kNotDone;
      ring_.PrepRead(p->fd, rx_ + static_cast<size_t>(i) * slotSize_, slotSize_, i);
    }
    int rc = ring_.SubmitAndWait([&](uint64_t slot, int32_t res) { scratch_[slot] = res; });
    if (rc != 0 || ring_.Broken()) SetUringReads(false);
    int err = 0;
    for (int i = 0; i < n; i++) {
      int32_t res = scratch_[i];
      if (res > 0) {
        offsets_[*count] = i * slotSize_;
        lengths_[(*count)++] = res;
      } else if (res < 0 && res != kNotDone && res != -EAGAIN) {
        if (IsFrameError(-res)) {
          (*skipped)++;
        } else if (err == 0) {
          err = -res;
        }
      }
    }
    int took = *count + *skipped;
    p->hint = took == n ? n * 2 : (took * 2 > 4 ? took * 2 : 4);
    return err;
  }

  void Drain(Poll* p, int status) {
    // Opened first: the io_uring fallback below may touch JS objects (the `ioUring` flags).
    Napi::HandleScope scope(env_);
    int count = 0;
    int skipped = 0;
    int err = 0;
    if (status < 0) {
      err = -status;
    } else if (uringReads_) {
      err = ReadRing(p, &count, &skipped);
      if (count == 0 && skipped == 0 && err == 0) {
        // Readable, yet every RWF_NOWAIT read said EAGAIN: either a spurious wake-up or a device that
        // does not take RWF_NOWAIT. A plain read tells which; in the second case stop using the ring.
        err = ReadPlain(p->fd, &count, &skipped);
        if (count > 0) SetUringReads(false);
      }
    } else {
      err = ReadPlain(p->fd, &count, &skipped);
    }
    if (count == 0 && skipped == 0 && err == 0) return;
    int port = p->port;
    if (err != 0) {
      // A broken fd would wake us forever: stop polling it and let JS decide what the port becomes.
      uv_poll_stop(&p->handle);
      uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &IoLoop::OnClosed);
      polls_[port] = nullptr;
    }
    Napi::Env env = env_;
    napi_value args[4] = {Napi::Number::New(env, port), Napi::Number::New(env, count), Napi::Number::New(env, err), Napi::Number::New(env, skipped)};
    napi_value result;
    napi_status st = napi_make_callback(env, context_->operator napi_async_context(), Value(), onBatch_.Value(), 4, args, &result);
    if (err != 0 && --active_ == 0) Unref();
    if (st != napi_ok && env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  void SetUringReads(bool on) {
    uringReads_ = on;
    uringInfo_.Value().Set("reads", on);
  }

  // WriteRing writes plan entries [from, to) in one io_uring_enter per ring-full. Entries the ring did not
  // take, and those the device refused with EAGAIN (it does not take RWF_NOWAIT), are written with
  // write(); after either, the ring is no longer used for writes.
  int WriteRing(int from, int to) {
    bool fallback = false;
    for (int start = from; start < to;) {
      int end = start + static_cast<int>(ring_.Capacity());
      if (end > to) end = to;
      for (int i = start; i < end; i++) {
        int32_t off = plan_[3 * i + 1];
        int32_t len = plan_[3 * i + 2];
        if (off < 0 || len < 0 || static_cast<size_t>(off) + static_cast<size_t>(len) > rxSize_) {
          result_[i] = EFAULT;
          continue;
        }
        result_[i] = kNotDone;
        ring_.PrepWrite(plan_[3 * i], rx_ + off, len, i);
      }
      int rc = ring_.SubmitAndWait([&](uint64_t i, int32_t res) { result_[i] = res == -EAGAIN ? kNotDone : (res < 0 ? -res : 0); });
      if (rc != 0 || ring_.Broken()) fallback = true;
      for (int i = start; i < end; i++) {
        if (result_[i] != kNotDone) continue;
        fallback = true;
        result_[i] = WriteOne(i);
      }
      start = end;
    }
    if (fallback) {
      uringWrites_ = false;
      uringInfo_.Value().Set("writes", false);
    }
    int failures = 0;
    for (int i = from; i < to; i++) if (result_[i] != 0) failures++;
    return failures;
  }

  int WriteOne(int i) {
    int fd = plan_[3 * i];
    int32_t off = plan_[3 * i + 1];
    int32_t len = plan_[3 * i + 2];
    if (off < 0 || len < 0 || static_cast<size_t>(off) + static_cast<size_t>(len) > rxSize_) return EFAULT;
    ssize_t w;
    do {
      w = write(fd, rx_ + off, len);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? errno : 0;
  }

  // flush(n) -> failures: write the first n entries of txPlan, storing 0 or errno in txResult.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "flush(n)");
    int n = info[0].As<Napi::Number>().Int32Value();
    if (n < 0 || n > planSize_) return ThrowType(env, "flush: n out of range");
    // One write gains nothing from the ring; several do.
    if (uringWrites_ && n > 1) return Napi::Number::New(env, WriteRing(0, n));
    int failures = 0;
    for (int i = 0; i < n; i++) {
      result_[i] = WriteOne(i);
      if (result_[i] != 0) failures++;
    }
    return Napi::Number::New(env, failures);
  }

  // send(fd, bytes) -> 0 or errno: write one frame that JS built.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray()) return ThrowType(env, "send(fd, Uint8Array)");
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
    ssize_t w;
    do {
      w = write(fd, bytes.Data(), bytes.ByteLength());
    } while (w < 0 && errno == EINTR);
    return Napi::Number::New(env, w < 0 ? errno : 0);
  }

  uv_loop_t* loop_ = nullptr;
  napi_env env_ = nullptr;
  Napi::FunctionReference onBatch_;
  Napi::AsyncContext* context_ = nullptr;
  std::vector<Poll*> polls_;
  int active_ = 0;
  bool closed_ = false;
  bool hookAdded_ = false;
  int slots_ = 0;
  int slotSize_ = 0;
  int planSize_ = 0;
  uint8_t* rx_ = nullptr;
  size_t rxSize_ = 0;
  int32_t* lengths_ = nullptr;
  int32_t* offsets_ = nullptr;
  Uring ring_;
  bool uringReads_ = false;
  bool uringWrites_ = false;
  Napi::ObjectReference uringInfo_;
  int32_t scratch_[1024];
  // kNotDone marks a read or write the ring has not (or not successfully) done.
  static constexpr int32_t kNotDone = INT32_MIN;
  int32_t* plan_ = nullptr;
  int32_t* result_ = nullptr;
};

}  // namespace

Napi::Object InitIoLoop(Napi::Env env, Napi::Object exports) {
  exports.Set("IoLoop", IoLoop::Define(env));
  return exports;
}

}  // namespace tw
