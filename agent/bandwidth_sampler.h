// BandwidthSampler: each line's traffic, measured once a period (1 s) from
// the byte counters of the interface it leaves by (probes/iface_counters.h,
// rules/bandwidth.h), handed to a consumer (storage, failover) and kept as a
// snapshot for the API.
//
// The interface of a line, in order: lines[].counters; else
// lines[].interface; else the device the kernel uses to reach lines[].gateway
// through the line's binding (interface_towards), worked out on the sampler's
// thread at its start, again every `resolve_retry` while that fails, and again
// when the interface has been missing for `resolve_retry` (the route may now
// leave by another device). A line with none of these has no bandwidth: one
// log line says to set lines[].counters, and its state stays `none`.
//
// Threading: one thread, started by the constructor and joined by stop() or
// the destructor; stop() wakes it at once. Probes and the failover decision
// thread never wait on it: the consumer must not block (Store::submit_bandwidth
// and Failover::on_bandwidth only queue), and snapshot() copies under a lock
// held only for the copy. snapshot() may be called from any thread.
// Counters are read in the network namespace of the sampler's thread, the
// agent's.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/time.h"
#include "rules/bandwidth.h"

namespace linewatch {

class Failover;
class Store;

// Where a line's interface name came from.
enum class CountersFrom {
  none,       // no interface: set lines[].counters (see `detail`)
  counters,   // lines[].counters
  interface,  // lines[].interface
  gateway,    // the device of the route to lines[].gateway
};
const char* to_string(CountersFrom from);

// One line's bandwidth as of the sampler's last pass.
struct LineBandwidth {
  std::string line;
  std::string interface;  // "" while none is known
  CountersFrom from = CountersFrom::none;
  std::optional<std::uint64_t> capacity_bps;
  BandwidthReading reading;  // state none until the first read
  // Why there is no rate, for the operator: the read or resolution error
  // ("interface eth9: No such device"), or how to give the line an
  // interface. "" while measuring.
  std::string detail;
};

// Called on the sampler's thread with every reading that has a rate
// (state measuring). Must not block.
using BandwidthConsumer = std::function<void(const std::string& line, const BandwidthReading&)>;

struct BandwidthSamplerOptions {
  // One read of every line's counters per period. Default: 1s.
  Duration period = std::chrono::seconds(1);
  // A line whose interface comes from its gateway is resolved again this
  // long after a failed resolution, and once its interface has been missing
  // this long. Default: 10s.
  Duration resolve_retry = std::chrono::seconds(10);
  BandwidthOptions meter;
};

class BandwidthSampler {
 public:
  // Copies what it needs of `lines` and starts the thread. `clock` must
  // outlive the sampler. Never fails: a line whose counters cannot be read
  // shows why in snapshot() and in the log.
  BandwidthSampler(const std::vector<LineSpec>& lines, const Clock& clock,
                   BandwidthConsumer consumer, BandwidthSamplerOptions options = {});
  ~BandwidthSampler();  // stop()
  BandwidthSampler(const BandwidthSampler&) = delete;
  BandwidthSampler& operator=(const BandwidthSampler&) = delete;

  // Wakes the thread and joins it (within one counter read of every line).
  // The consumer is not called after stop() returns. Idempotent.
  void stop();

  // Every configured line in config order, as of the last pass (state none
  // before the first).
  std::vector<LineBandwidth> snapshot() const;

 private:
  struct Slot;

  void run();
  void resolve(Slot& slot, MonoTime now);
  void sample(Slot& slot);

  const Clock& clock_;
  BandwidthConsumer consumer_;
  BandwidthSamplerOptions options_;
  std::vector<Slot> slots_;  // the thread's own; snapshot() reads views_

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;             // guarded by mutex_
  std::vector<LineBandwidth> views_;  // guarded by mutex_
  std::thread thread_;                // last: started after every member above
};

// The agent's consumer: each reading goes to store.submit_bandwidth (rates
// rounded to whole bits/s) and, when `failover` is not null and a route names
// the line, to failover->on_bandwidth. Both must outlive the sampler.
BandwidthConsumer bandwidth_to(Store& store, Failover* failover, const Config& config);

}  // namespace linewatch
