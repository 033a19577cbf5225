#pragma once
// Core's Scheduler on the daemon's io_context: a steady_timer per wait,
// cancelled when its handle goes.
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/provisioning/power_control.h"

namespace metalpxe {

class AsioScheduler final : public Scheduler {
 public:
  explicit AsioScheduler(boost::asio::io_context& io) : io_(io) {}

  std::unique_ptr<Handle> After(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto timer = std::make_unique<TimerHandle>(io_, delay);
    timer->timer.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
    return timer;
  }

 private:
  struct TimerHandle final : Handle {
    TimerHandle(boost::asio::io_context& io, std::chrono::milliseconds delay) : timer(io, delay) {}
    ~TimerHandle() override { timer.cancel(); }
    boost::asio::steady_timer timer;
  };
  boost::asio::io_context& io_;
};

}  // namespace metalpxe
