// Uring: a minimal io_uring (raw syscalls, no liburing) used only to batch the reads and writes of the
// IoLoop: many SQEs, one io_uring_enter. Every operation is issued with RWF_NOWAIT semantics on
// non-blocking fds, so it completes inline during the enter and the caller can wait for all of them.
// io_uring is optional: Init() fails on kernels without it or where it is disabled
// (kernel.io_uring_disabled, seccomp), and the IoLoop then uses plain read()/write().
#pragma once
#include <linux/io_uring.h>
#include <stddef.h>
#include <stdint.h>

namespace tw {

class Uring {
 public:
  Uring() = default;
  ~Uring();
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  // Init sets up a ring of `entries` submission slots; it returns 0 or an errno.
  int Init(unsigned entries);
  bool Ready() const { return fd_ >= 0; }
  unsigned Capacity() const { return entries_; }

  // Broken is true once the ring failed in a way that may leave completions behind; the caller must
  // stop using it (and fall back to plain read()/write()).
  bool Broken() const { return broken_; }

  // PrepRead / PrepWrite queue one operation (at most Capacity() before SubmitAndWait).
  void PrepRead(int fd, void* buf, unsigned len, uint64_t userData);
  void PrepWrite(int fd, const void* buf, unsigned len, uint64_t userData);

  // SubmitAndWait submits the queued operations and waits until every one the kernel took has
  // completed, calling onComplete(userData, res) for each (res: bytes or -errno). It returns 0, or the
  // errno that kept some operations from being submitted: those were taken back from the ring (they will
  // never run) and get no onComplete, so the caller does them another way.
  template <typename F>
  int SubmitAndWait(F onComplete) {
    unsigned consumed = 0;
    int err = Submit(&consumed);
    unsigned done = 0;
    while (done < consumed) {
      unsigned head = *cqHead_;
      unsigned tail = __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE);
      if (head == tail) {
        int werr = Wait(consumed - done);
        if (werr != 0) {
          broken_ = true;
          return werr;
        }
        continue;
      }
      for (; head != tail && done < consumed; head++, done++) {
        const struct io_uring_cqe& cqe = cqes_[head & *cqMask_];
        onComplete(cqe.user_data, cqe.res);
      }
      __atomic_store_n(cqHead_, head, __ATOMIC_RELEASE);
    }
    return err;
  }

 private:
  void Prep(uint8_t opcode, int fd, const void* buf, unsigned len, uint64_t userData);
  int Submit(unsigned* consumed);
  int Wait(unsigned n);

  int fd_ = -1;
  unsigned entries_ = 0;
  unsigned queued_ = 0;
  unsigned localTail_ = 0;  // our SQ tail; published to the kernel by Submit
  bool broken_ = false;
  void* sqRing_ = nullptr;
  size_t sqRingSize_ = 0;
  void* cqRing_ = nullptr;
  size_t cqRingSize_ = 0;
  struct io_uring_sqe* sqes_ = nullptr;
  size_t sqesSize_ = 0;
  unsigned* sqHead_ = nullptr;
  unsigned* sqTail_ = nullptr;
  unsigned* sqMask_ = nullptr;
  unsigned* sqArray_ = nullptr;
  unsigned* cqHead_ = nullptr;
  unsigned* cqTail_ = nullptr;
  unsigned* cqMask_ = nullptr;
  struct io_uring_cqe* cqes_ = nullptr;
};

}  // namespace tw
