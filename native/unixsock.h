// What UnixListener (fdpass.cc) and UnixDgram (dgram.cc) share: both are a native AF_UNIX socket at a
// path, made the same way and watched the same way. Here are its address (FillAddress), its socket file
// (BindFile, DropFile) and its polled lifecycle (PolledSocket).
//
// PolledSocket owns one non-blocking socket fd watched by a uv_poll (readable, level-triggered) on the
// loop of the creating thread. What a wake-up does is the derived class's (its Ready(status)); when and
// how the fd is watched, paused, resumed and closed is here. In the order a derived constructor uses it:
// - FindLoop(env, message) before the socket is created, so a missing loop leaves nothing to undo.
// - Watch(fd, &call) once the socket is ready: uv_poll_init + uv_poll_start. On failure nothing is kept
//   and the fd is still the caller's to close (and its file to remove).
// - Hold(env, callback, resource) last: keeps the JS callback and an async context for Emit(), adds the
//   env cleanup hook, and Ref()s the object, which stays alive while open because the poll handle
//   points back to it.
// - Ready(status) runs inside a HandleScope on each wake-up; status < 0 is a libuv poll error. After an
//   error Pause() stops the poll (level-triggered, it would spin); JS calls resume() when it sees fit.
// - close() (JS), the env cleanup hook (a poll handle left open at thread exit aborts Node) and the
//   destructor all Shutdown(): stop the poll, uv_close the handle, close the fd. Safe to repeat.
#pragma once
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <initializer_list>
#include <string>

#include "common.h"

namespace tw {

// FillAddress makes the address of the socket file `path`; false when the path is empty, has a NUL or
// does not fit sun_path (1-107 bytes).
inline bool FillAddress(const std::string& path, sockaddr_un* addr, socklen_t* len) {
  memset(addr, 0, sizeof *addr);
  if (path.empty() || path.size() >= sizeof addr->sun_path || path.find('\0') != std::string::npos) return false;
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return true;
}

// DropFile gives up a socket being set up at `path` after BindFile succeeded: it closes fd, removes the
// file, and throws err as the errno of `call`.
inline void DropFile(Napi::Env env, int fd, const std::string& path, int err, const std::string& call) {
  close(fd);
  unlink(path.c_str());
  ThrowErrno(env, err, call);
}

// BindFile binds fd to `path` (addr and addrLen from FillAddress), then chmods the file to `mode`, then
// chowns it to uid/gid when either is >= 0 (-1 keeps that one), in that order. On failure it closes fd,
// throws, and returns false; only a file this call created is removed (an EADDRINUSE leaves the existing
// one alone).
inline bool BindFile(Napi::Env env, int fd, const std::string& path, const sockaddr_un& addr, socklen_t addrLen,
                     int mode, int64_t uid, int64_t gid) {
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), addrLen) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind");
    return false;
  }
  if (chmod(path.c_str(), static_cast<mode_t>(mode)) < 0) {
    DropFile(env, fd, path, errno, "chmod");
    return false;
  }
  if ((uid >= 0 || gid >= 0) && chown(path.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) < 0) {
    DropFile(env, fd, path, errno, "chown");
    return false;
  }
  return true;
}

// FdClose is when Shutdown() closes the fd: at once (libuv allows closing right after uv_poll_stop, and
// the fd is free when close() returns), or once libuv has closed the poll handle (after close() returns).
enum class FdClose { kAtOnce, kWhenHandleClosed };

// PolledSocket is the base of a Napi::ObjectWrap class T over one polled socket fd (CRTP: T derives from
// PolledSocket<T>, defines `void Ready(int status)` and makes PolledSocket<T> a friend).
template <class T>
class PolledSocket : public Napi::ObjectWrap<T> {
 public:
  ~PolledSocket() override {
    if (hookAdded_) napi_remove_env_cleanup_hook(env_, &PolledSocket::Cleanup, this);
    Shutdown();
    delete context_;
  }

 protected:
  PolledSocket(const Napi::CallbackInfo& info, FdClose fdClose) : Napi::ObjectWrap<T>(info), fdClose_(fdClose) {}

  // FindLoop stores the loop of the calling thread; false (with `message` thrown) when there is none.
  bool FindLoop(Napi::Env env, const char* message) {
    if (napi_get_uv_event_loop(env, &loop_) == napi_ok) return true;
    Napi::Error::New(env, message).ThrowAsJavaScriptException();
    return false;
  }

  // Watch starts polling fd for readability and takes the fd over. On failure it returns the negative
  // libuv error with *call set to the failed call, and fd is still the caller's.
  int Watch(int fd, const char** call) {
    Poll* p = new Poll();
    int rc = uv_poll_init(loop_, &p->handle, fd);
    if (rc < 0) {
      delete p;
      *call = "uv_poll_init";
      return rc;
    }
    p->handle.data = this;
    rc = uv_poll_start(&p->handle, UV_READABLE, &PolledSocket::OnReadable);
    if (rc < 0) {
      // The handle is initialised, so it goes through uv_close; p->fd is still -1, so the fd stays open.
      uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &PolledSocket::OnClosed);
      *call = "uv_poll_start";
      return rc;
    }
    fd_ = fd;
    poll_ = p;
    polling_ = true;
    return 0;
  }

  // Hold keeps `callback` for Emit() (in an async context named `resource`), adds the env cleanup hook
  // and keeps the object alive while open: the poll handle points back here.
  void Hold(Napi::Env env, Napi::Function callback, const char* resource) {
    callback_ = Napi::Persistent(callback);
    context_ = new Napi::AsyncContext(env, resource);
    env_ = env;
    napi_add_env_cleanup_hook(env, &PolledSocket::Cleanup, this);
    hookAdded_ = true;
    this->Ref();
    referenced_ = true;
  }

  // Fd is the socket, or -1 before a successful construction and after Shutdown().
  int Fd() const { return fd_; }
  // Polling is whether the poll is running: false when closed or after Pause().
  bool Polling() const { return polling_; }

  // Pause stops the poll after an error, until resume().
  void Pause() {
    uv_poll_stop(&poll_->handle);
    polling_ = false;
  }

  // Emit calls the callback in the object's async context. An exception it throws is raised as uncaught
  // (napi_fatal_exception), and Emit then returns false.
  bool Emit(std::initializer_list<napi_value> args) {
    Napi::Env env = env_;
    napi_value result;
    napi_status st = napi_make_callback(env, context_->operator napi_async_context(), this->Value(),
                                        callback_.Value(), args.size(), args.begin(), &result);
    if (st != napi_ok && env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
      return false;
    }
    return true;
  }

  // close(): Shutdown() and let the object be collected. Safe to call twice.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    if (referenced_) {
      referenced_ = false;
      this->Unref();
    }
    return info.Env().Undefined();
  }

  // resume(): poll again after an error stopped it; does nothing when closed or polling.
  Napi::Value Resume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (poll_ == nullptr || polling_) return env.Undefined();
    int rc = uv_poll_start(&poll_->handle, UV_READABLE, &PolledSocket::OnReadable);
    if (rc < 0) return ThrowErrno(env, -rc, "uv_poll_start");
    polling_ = true;
    return env.Undefined();
  }

 private:
  // Poll lives apart from the object so that uv_close can finish after the object is gone. fd is the
  // socket to close when the handle is closed (FdClose::kWhenHandleClosed), else -1.
  struct Poll {
    uv_poll_t handle;
    int fd = -1;
  };

  static void OnClosed(uv_handle_t* h) {
    Poll* p = reinterpret_cast<Poll*>(h);
    if (p->fd >= 0) close(p->fd);
    delete p;
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    PolledSocket* self = static_cast<PolledSocket*>(handle->data);
    Napi::HandleScope scope(self->env_);
    static_cast<T*>(self)->Ready(status);
  }

  static void Cleanup(void* arg) {
    PolledSocket* self = static_cast<PolledSocket*>(arg);
    self->hookAdded_ = false;
    self->Shutdown();
  }

  // Shutdown stops polling and closes the fd (when fdClose_ says). Safe to repeat.
  void Shutdown() {
    if (poll_ == nullptr) return;
    uv_poll_stop(&poll_->handle);
    if (fdClose_ == FdClose::kWhenHandleClosed) poll_->fd = fd_;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle), &PolledSocket::OnClosed);
    poll_ = nullptr;
    polling_ = false;
    if (fdClose_ == FdClose::kAtOnce) close(fd_);
    fd_ = -1;
  }

  const FdClose fdClose_;
  uv_loop_t* loop_ = nullptr;
  napi_env env_ = nullptr;
  int fd_ = -1;
  // poll_ is null before a successful construction and after Shutdown().
  Poll* poll_ = nullptr;
  bool polling_ = false;
  bool referenced_ = false;
  bool hookAdded_ = false;
  Napi::FunctionReference callback_;
  Napi::AsyncContext* context_ = nullptr;
};

}  // namespace tw
