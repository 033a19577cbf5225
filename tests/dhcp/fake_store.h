#pragma once
// A small in-memory Store for DHCP unit tests: leases only, callbacks run on
// a writer thread like the real store's, and it can be told to fail writes,
// so the server is checked to withhold ACKs whose lease was not stored.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/lease_ownership.h"
#include "core/store.h"

namespace metalpxe::dhcp::testing {

class FakeStore final : public Store {
 public:
  FakeStore() : thread_([this] { Run(); }) {}
  ~FakeStore() override {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void set_fail_writes(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  std::size_t puts() const {
    std::lock_guard lock(mu_);
    return puts_;
  }
  void Preload(const LeaseRecord& r) {
    std::lock_guard lock(mu_);
    leases_[r.ip.value] = r;
  }

  // Apply the rule every real Store applies (core/lease_ownership.h): an
  // address held by another MAC is refused with kAlreadyExists, as when a
  // second appliance granted it.
  void set_enforce_ownership(bool on) {
    std::lock_guard lock(mu_);
    enforce_ownership_ = on;
  }

  void PutLease(const LeaseRecord& lease, DurableCallback done) override {
    Enqueue([this, lease]() {
      if (fail_) return Status(ErrorCode::kUnavailable, "disk on fire");
      if (enforce_ownership_) {
        auto it = leases_.find(lease.ip.value);
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        if (auto why = LeaseWriteConflict(it == leases_.end() ? nullptr : &it->second, lease, now))
          return Status(ErrorCode::kAlreadyExists, *why);
      }
      leases_[lease.ip.value] = lease;
      ++puts_;
      return Status::Ok();
    }, std::move(done));
  }
  void DeleteLease(Ipv4Address ip, DurableCallback done) override {
    Enqueue([this, ip]() {
      leases_.erase(ip.value);
      return Status::Ok();
    }, std::move(done));
  }
  Result<std::vector<LeaseRecord>> LoadLeases() override {
    std::lock_guard lock(mu_);
    std::vector<LeaseRecord> out;
    for (const auto& [ip, r] : leases_) out.push_back(r);
    return out;
  }
  void PutMachine(const MachineRecord&, DurableCallback done) override { Enqueue([] { return Status::Ok(); }, std::move(done)); }
  Result<std::vector<MachineRecord>> LoadMachines() override { return std::vector<MachineRecord>{}; }
  void PutToken(const TokenRecord&, DurableCallback done) override { Enqueue([] { return Status::Ok(); }, std::move(done)); }
  void DeleteExpiredTokens(std::int64_t, DurableCallback done) override { Enqueue([] { return Status::Ok(); }, std::move(done)); }
  Result<std::vector<TokenRecord>> LoadTokens() override { return std::vector<TokenRecord>{}; }
  void PutCluster(const ClusterRecord&, DurableCallback done) override { Enqueue([] { return Status::Ok(); }, std::move(done)); }
  Result<std::vector<ClusterRecord>> LoadClusters() override { return std::vector<ClusterRecord>{}; }
  void PutUpgrade(const UpgradeRecord&, DurableCallback done) override { Enqueue([] { return Status::Ok(); }, std::move(done)); }
  Result<std::vector<UpgradeRecord>> LoadUpgrades() override { return std::vector<UpgradeRecord>{}; }
  void PutApplyTarget(const ApplyTargetRecord&, DurableCallback done) override {
    Enqueue([] { return Status::Ok(); }, std::move(done));
  }
  void DeleteApplyTarget(const MacAddress&, DurableCallback done) override {
    Enqueue([] { return Status::Ok(); }, std::move(done));
  }
  Result<std::vector<ApplyTargetRecord>> LoadApplyTargets() override { return std::vector<ApplyTargetRecord>{}; }
  void AppendEvent(const EventRecord&, DurableCallback done) override { Enqueue([] { return Status::Ok(); }, std::move(done)); }
  Result<std::vector<EventRecord>> LoadEvents(std::int64_t, std::size_t) override { return std::vector<EventRecord>{}; }
  void PutTimelineEntry(const TimelineEntry&, DurableCallback done) override {
    Enqueue([] { return Status::Ok(); }, std::move(done));
  }
  void TrimTimeline(const MacAddress&, std::int64_t, DurableCallback done) override {
    Enqueue([] { return Status::Ok(); }, std::move(done));
  }
  Result<std::vector<TimelineEntry>> LoadTimeline(const MacAddress&, std::size_t) override {
    return std::vector<TimelineEntry>{};
  }
  Status Flush() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
    return Status::Ok();
  }

 private:
  struct Op {
    std::function<Status()> apply;  // runs under mu_
    DurableCallback done;
  };
  void Enqueue(std::function<Status()> apply, DurableCallback done) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(Op{std::move(apply), std::move(done)});
    }
    cv_.notify_all();
  }
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return quit_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::deque<Op> batch;
      batch.swap(queue_);
      busy_ = true;
      std::vector<std::pair<DurableCallback, Status>> results;
      for (auto& op : batch) results.emplace_back(std::move(op.done), op.apply());
      lock.unlock();
      for (auto& [done, status] : results)
        if (done) done(status);
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  std::map<std::uint32_t, LeaseRecord> leases_;
  bool fail_ = false;
  bool enforce_ownership_ = false;
  bool quit_ = false;
  bool busy_ = false;
  std::size_t puts_ = 0;
  std::thread thread_;
};

}  // namespace metalpxe::dhcp::testing
