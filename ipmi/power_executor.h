#pragma once
// Runs blocking power-driver calls on a small worker pool and posts each
// completion back to the caller's io_context, so the event loop never waits
// on a BMC. While a job is in flight it holds work on the io_context, so
// io_context::run() does not return under it.
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "ipmi/power_driver.h"

namespace metalpxe {

class PowerExecutor {
 public:
  explicit PowerExecutor(boost::asio::io_context& io, std::size_t threads = 2) : io_(io), pool_(threads) {}
  // Waits for running jobs; their completions are still posted to io.
  ~PowerExecutor() { pool_.join(); }
  PowerExecutor(const PowerExecutor&) = delete;
  PowerExecutor& operator=(const PowerExecutor&) = delete;

  // work() runs on a worker thread; done(result) runs on io's thread.
  template <typename Work, typename Done>
  void Submit(Work work, Done done) {
    auto guard = boost::asio::make_work_guard(io_);
    boost::asio::post(pool_, [this, work = std::move(work), done = std::move(done), guard = std::move(guard)]() mutable {
      auto result = work();
      boost::asio::post(io_, [done = std::move(done), result = std::move(result), guard = std::move(guard)]() mutable {
        done(std::move(result));
        guard.reset();
      });
    });
  }

  // Convenience: one driver action. The driver is shared so it outlives the job.
  void Run(std::shared_ptr<PowerDriver> driver, std::function<Status(PowerDriver&)> action,
           std::function<void(Status)> done) {
    Submit([driver = std::move(driver), action = std::move(action)] { return action(*driver); }, std::move(done));
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::thread_pool pool_;
};

}  // namespace metalpxe
