#pragma once
// A bounded hand-off from a backend callback thread (which must not block)
// to the gRPC handler thread writing a server stream. The handler waits in
// short slices so it notices a cancelled client or a server shutdown.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace metalpxe {

template <typename T>
class StreamQueue {
 public:
  explicit StreamQueue(std::size_t capacity) : capacity_(capacity) {}

  // Never blocks. When full: with replace_last the newest item replaces the
  // last queued one (progress: only the latest matters); otherwise the item is
  // dropped and overflowed() turns true (the stream must end: it lost data).
  void Push(T item, bool replace_last = false) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      if (items_.size() >= capacity_) {
        if (replace_last && !items_.empty()) {
          items_.back() = std::move(item);
        } else {
          overflowed_ = true;
        }
      } else {
        items_.push_back(std::move(item));
      }
    }
    cv_.notify_one();
  }

  // No more items will come (e.g. a download finished); Pop drains, then ends.
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  // An item, or nullopt after `slice` without one (check cancellation, retry).
  std::optional<T> Pop(std::chrono::milliseconds slice) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, slice, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  bool drained_and_closed() {
    std::lock_guard lock(mu_);
    return closed_ && items_.empty();
  }
  bool overflowed() {
    std::lock_guard lock(mu_);
    return overflowed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool closed_ = false;
  bool overflowed_ = false;
};

}  // namespace metalpxe
