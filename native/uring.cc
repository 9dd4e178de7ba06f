#include "uring.h"

#include <errno.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tw {

Uring::~Uring() {
  if (sqes_ != nullptr) munmap(sqes_, sqesSize_);
  if (cqRing_ != nullptr && cqRing_ != sqRing_) munmap(cqRing_, cqRingSize_);
  if (sqRing_ != nullptr) munmap(sqRing_, sqRingSize_);
  if (fd_ >= 0) close(fd_);
}

int Uring::Init(unsigned entries) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
  if (fd < 0) return errno;
  fd_ = fd;
  entries_ = p.sq_entries;
  sqRingSize_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cqRingSize_ = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cqRingSize_ > sqRingSize_) sqRingSize_ = cqRingSize_;
  void* sq = mmap(nullptr, sqRingSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) return errno;
  sqRing_ = sq;
  if (single) {
    cqRing_ = sq;
  } else {
    void* cq = mmap(nullptr, cqRingSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) return errno;
    cqRing_ = cq;
  }
  sqesSize_ = p.sq_entries * sizeof(struct io_uring_sqe);
  void* sqes = mmap(nullptr, sqesSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return errno;
  sqes_ = static_cast<struct io_uring_sqe*>(sqes);
  char* s = static_cast<char*>(sqRing_);
  sqHead_ = reinterpret_cast<unsigned*>(s + p.sq_off.head);
  localTail_ = *reinterpret_cast<unsigned*>(s + p.sq_off.tail);
  sqTail_ = reinterpret_cast<unsigned*>(s + p.sq_off.tail);
  sqMask_ = reinterpret_cast<unsigned*>(s + p.sq_off.ring_mask);
  sqArray_ = reinterpret_cast<unsigned*>(s + p.sq_off.array);
  char* c = static_cast<char*>(cqRing_);
  cqHead_ = reinterpret_cast<unsigned*>(c + p.cq_off.head);
  cqTail_ = reinterpret_cast<unsigned*>(c + p.cq_off.tail);
  cqMask_ = reinterpret_cast<unsigned*>(c + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<struct io_uring_cqe*>(c + p.cq_off.cqes);
  return 0;
}

void Uring::Prep(uint8_t opcode, int fd, const void* buf, unsigned len, uint64_t userData) {
  // Fill the entry first; Submit publishes the tail (a release store) afterwards, as the ABI wants.
  unsigned index = localTail_ & *sqMask_;
  struct io_uring_sqe* sqe = &sqes_[index];
  memset(sqe, 0, sizeof *sqe);
  sqArray_[index] = index;
  localTail_++;
  queued_++;
  sqe->opcode = opcode;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(buf);
  sqe->len = len;
  sqe->off = static_cast<uint64_t>(-1);  // the file position: none on a device
  sqe->rw_flags = RWF_NOWAIT;
  sqe->user_data = userData;
}

void Uring::PrepRead(int fd, void* buf, unsigned len, uint64_t userData) { Prep(IORING_OP_READ, fd, buf, len, userData); }

void Uring::PrepWrite(int fd, const void* buf, unsigned len, uint64_t userData) { Prep(IORING_OP_WRITE, fd, buf, len, userData); }

// Submit publishes the queued entries and enters the kernel once, asking to wait for all of them (they
// complete inline: RWF_NOWAIT). Without SQPOLL the kernel takes entries only inside io_uring_enter, so
// the head tells exactly how many it took; the ones it did not take (an error such as EAGAIN/EBUSY, or an
// interruption) are taken back by rewinding the tail, and Submit returns that error.
int Uring::Submit(unsigned* consumed) {
  unsigned n = queued_;
  queued_ = 0;
  *consumed = 0;
  if (n == 0) return 0;
  unsigned headBefore = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
  __atomic_store_n(sqTail_, localTail_, __ATOMIC_RELEASE);
  int err = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    unsigned taken = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE) - headBefore;
    if (taken == n) break;
    long r = syscall(__NR_io_uring_enter, fd_, n - taken, n - taken, IORING_ENTER_GETEVENTS, nullptr, 0);
    if (r < 0 && errno != EINTR) {
      err = errno;
      break;
    }
  }
  *consumed = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE) - headBefore;
  if (*consumed < n) {
    if (err == 0) err = EAGAIN;
    localTail_ -= n - *consumed;
    __atomic_store_n(sqTail_, localTail_, __ATOMIC_RELEASE);
  }
  return err;
}

int Uring::Wait(unsigned n) {
  for (;;) {
    long r = syscall(__NR_io_uring_enter, fd_, 0, n, IORING_ENTER_GETEVENTS, nullptr, 0);
    if (r >= 0) return 0;
    if (errno != EINTR && errno != EAGAIN && errno != EBUSY) return errno;
  }
}

}  // namespace tw
