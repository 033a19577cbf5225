#pragma once
// Small helpers shared by the two halves of EtcdStoreWriter's
// implementation (scheduling in etcd_store_writer.cpp, transactions in
// etcd_store_txn.cpp). Not part of any interface.
#include <chrono>
#include <variant>

#include "etcd/etcd_client.h"
#include "etcd/etcd_store_writer.h"

namespace metalpxe::etcd::store_internal {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

inline std::int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Every transaction of the writer may be sent again after a lost answer:
// the marker tells whether the first attempt was applied.
inline CallOptions RepeatSafe() {
  CallOptions o;
  o.repeat_safe = true;
  return o;
}

inline bool IsEvent(const EtcdStoreWriter::Item& i) { return std::holds_alternative<EventRecord>(i.write.op); }
inline const LeaseRecord* LeasePut(const EtcdStoreWriter::Item& i) { return std::get_if<LeaseRecord>(&i.write.op); }

// Ends every write of the batch not yet decided with `st` (an error, or ok
// when nothing is left to write).
inline void SettleRemaining(EtcdStoreWriter::Batch& b, const Status& st) {
  for (auto& it : b.items)
    if (!it.done) it.done = true, it.result = st;
}

}  // namespace metalpxe::etcd::store_internal
