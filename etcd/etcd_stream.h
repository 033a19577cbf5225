#pragma once
// Plumbing shared by the client's bidirectional streams (watch, lease
// keep-alive): a gRPC callback reactor that hands every message to the
// client's own thread and tells when the call is over, so the owner can
// cancel it and wait for it to be gone before it goes itself.
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include <boost/asio/post.hpp>
#include <grpcpp/grpcpp.h>

#include "etcd/etcd_client.h"

namespace metalpxe::etcd {

// Set once a stream's OnDone has run; Wait() blocks until then.
class StreamFinished {
 public:
  void Set() {
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// One stream: `on_message` and `on_done` run on the client's io thread, in
// order (a message is posted before the end of its stream). The reactor
// deletes itself when gRPC is done with it; the owner keeps the Handle to
// send, cancel, and wait until the call is gone.
template <typename Req, typename Resp>
class StreamReactor : public grpc::ClientBidiReactor<Req, Resp> {
  // What outlives the reactor: writes queued from the owner's thread go
  // through here, and stop reaching the reactor once it is done.
  struct Link {
    std::mutex mu;
    StreamReactor* reactor = nullptr;  // null once OnDone ran
    std::deque<Req> queue;
    Req current;
    bool writing = false;
  };

 public:
  class Handle {
   public:
    Handle() = default;
    // Queues a message; dropped once the stream is over.
    void Send(Req req) const {
      if (!link_) return;
      std::lock_guard lock(link_->mu);
      if (link_->reactor == nullptr) return;
      link_->queue.push_back(std::move(req));
      if (!link_->writing) link_->reactor->StartNextWrite();
    }
    void Cancel() const {
      if (context_) context_->TryCancel();
    }
    // Blocks until gRPC has finished the call (after Cancel: promptly).
    void WaitFinished() const {
      if (finished_) finished_->Wait();
    }
    bool valid() const { return link_ != nullptr; }

   private:
    friend class StreamReactor;
    std::shared_ptr<grpc::ClientContext> context_;
    std::shared_ptr<StreamFinished> finished_;
    std::shared_ptr<Link> link_;
  };
  using Starter = std::function<void(grpc::ClientContext*, grpc::ClientBidiReactor<Req, Resp>*)>;

  static Handle Start(EtcdClient& client, const Starter& start, std::function<void(Resp)> on_message,
                      std::function<void(grpc::Status)> on_done) {
    auto* r = new StreamReactor(client, std::move(on_message), std::move(on_done));
    Handle h;
    h.context_ = r->context_;
    h.finished_ = r->finished_;
    h.link_ = r->link_;
    r->link_->reactor = r;
    start(r->context_.get(), r);
    r->StartRead(&r->incoming_);
    // Writes start later, from the owner's thread: the hold keeps OnDone
    // away until the stream stops taking them (OnReadDone(false)).
    r->AddHold();
    r->StartCall();
    return h;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The stream is over (ended by the server, broken or cancelled): take
      // no more writes, then let OnDone come.
      {
        std::lock_guard lock(link_->mu);
        link_->reactor = nullptr;
      }
      this->RemoveHold();
      return;
    }
    boost::asio::post(io_, [cb = on_message_, msg = std::move(incoming_)]() mutable { cb(std::move(msg)); });
    incoming_ = Resp();
    this->StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(link_->mu);
    link_->writing = false;
    if (ok && link_->reactor != nullptr && !link_->queue.empty()) StartNextWrite();
  }

  void OnDone(const grpc::Status& st) override {
    {
      std::lock_guard lock(link_->mu);
      link_->reactor = nullptr;
    }
    // Let go of everything here before the owner hears we are finished:
    // the context (it holds the channel) and the callbacks (they hold the
    // owner's state) must not be the last references, destroyed on a gRPC
    // thread after the owner and its client are gone.
    auto on_done = std::move(on_done_);
    auto finished = std::move(finished_);
    auto& io = io_;
    delete this;
    boost::asio::post(io, [cb = std::move(on_done), st] { cb(st); });
    finished->Set();
  }

 private:
  StreamReactor(EtcdClient& client, std::function<void(Resp)> on_message, std::function<void(grpc::Status)> on_done)
      : io_(client.io()), context_(client.NewContext(std::chrono::milliseconds(0))),
        finished_(std::make_shared<StreamFinished>()), link_(std::make_shared<Link>()),
        on_message_(std::move(on_message)), on_done_(std::move(on_done)) {}

  // Called with link_->mu held.
  void StartNextWrite() {
    link_->current = std::move(link_->queue.front());
    link_->queue.pop_front();
    link_->writing = true;
    this->StartWrite(&link_->current);
  }
  boost::asio::io_context& io_;
  std::shared_ptr<grpc::ClientContext> context_;
  std::shared_ptr<StreamFinished> finished_;
  std::shared_ptr<Link> link_;
  std::function<void(Resp)> on_message_;
  std::function<void(grpc::Status)> on_done_;
  Resp incoming_;
};

}  // namespace metalpxe::etcd
