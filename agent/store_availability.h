// StoreAvailability: the availability the alert rules read
// (rules/alert_engine.h AvailabilitySource), from the storage rollups
// (Store::availability), answered from memory.
//
// The engine asks once a second per availability rule and scope key, on the
// alerting thread, which must not wait for SQLite. So availability() only
// looks in a cache, and a thread of this component reads the rollups: a
// figure first asked for is read at once (until then it has no value: the
// rule is not judged), then again every `refresh` while the engine keeps
// asking for it. A 24 h or 30 d figure moves little in 30 s, and the rollups
// count whole minutes and committed rounds (up to storage.flush_interval
// behind) anyway, so a 30 s old figure loses nothing that matters; a read
// costs about 0.2 ms per line x target for a 30 d window (docs/storage.md),
// which is a few ms per key per refresh for a line with tens of targets, off
// the alerting thread. A key not asked for in `forget` is dropped.
//
// What a key counts (AlertScopeKey; "" = every one of them in the config):
//   series (line, target, kind)  ratio: ok / rounds of that series, as a
//                                user of the endpoint over the line sees it
//   line   (line, "", "")        line_ratio over every target of the line:
//                                1 - network failures / rounds, summed over
//                                the targets (an endpoint's 5xx or 401 is the
//                                endpoint's, not the line's: DESIGN.md)
//   target ("", target, "")      ratio over every line towards the target:
//                                ok / rounds, summed over the lines
// Sums are of counts, not of ratios, so a target probed more often weighs
// more. "Every" is the lines and targets of the config, so a target removed
// from it no longer counts. A rule's `match` chooses which keys exist, not
// what a key counts: a line key counts every target and kind of the line.
//
// A read that fails (a locked or broken database) keeps the figure read
// before: storage trouble is not an outage of the line. It is tried again
// after `retry`, and logged once until a read works again.
//
// Thread-safety: availability() and stats() from any thread, never blocking
// on I/O (one short lock). refresh() runs on this component's thread once
// start()ed; before that (tests), on the owner's. start() and stop() from
// the owner.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "rules/alert_engine.h"
#include "storage/store.h"

namespace linewatch {

struct StoreAvailabilityOptions {
  // A figure is read again this often while it is asked for. Default: 30s.
  Duration refresh = std::chrono::seconds(30);
  // After a failed read, the next try. Default: 5s.
  Duration retry = std::chrono::seconds(5);
  // A figure not asked for this long is dropped (its scope key went).
  // Default: 10min.
  Duration forget = std::chrono::minutes(10);
};

struct StoreAvailabilityStats {
  std::uint64_t reads = 0;     // rollup queries made (one per line x target x kind asked)
  std::uint64_t failures = 0;  // ... that failed
  std::size_t figures = 0;     // scope key x window pairs cached now
};

class StoreAvailability final : public AvailabilitySource {
 public:
  // Reads the rollups: Store::availability, or a stand-in in tests.
  using Reader = std::function<Result<Availability>(const AvailabilityQuery&)>;

  // `lines` and `targets` are the config's ids; `clock` must outlive this
  // (monotonic time for the cache, wall time for the windows' ends).
  StoreAvailability(Reader read, std::vector<std::string> lines, std::vector<std::string> targets,
                    const Clock& clock, StoreAvailabilityOptions options = {});
  ~StoreAvailability() override;  // stop()
  StoreAvailability(const StoreAvailability&) = delete;
  StoreAvailability& operator=(const StoreAvailability&) = delete;

  // The cached figure for `key` over `window`; nullopt until it has been
  // read, or when the window holds no rounds. Never reads the store.
  std::optional<double> availability(const AlertScopeKey& key, Duration window,
                                     MonoTime now) override;

  // Reads every figure that is due. Returns when the next one is due, on
  // Clock::now (now + refresh when nothing is asked for).
  MonoTime refresh();

  void start();  // the thread: refresh() and wait; once
  void stop();   // idempotent

  StoreAvailabilityStats stats() const;

  // The figure of `key` over `window` ending at `now`, read at once: the
  // counts of its line x target pairs summed (see above). nullopt: no
  // rounds, or a kind that is not one. Failure: the first read's error.
  Result<std::optional<double>> read(const AlertScopeKey& key, Duration window, WallTime now) const;

 private:
  using Key = std::pair<AlertScopeKey, Duration>;
  struct Figure {
    std::optional<double> value;  // nullopt: never read, or no rounds
    MonoTime due{};               // the next read
    MonoTime asked{};             // the last availability() call
  };

  void run();

  const Reader read_;
  const std::vector<std::string> lines_, targets_;
  const Clock& clock_;
  const StoreAvailabilityOptions options_;
  bool failing_ = false;  // refreshing thread only: a read failed, logged

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<Key, Figure> figures_;         // guarded by mu_
  bool fresh_key_ = false;                // guarded by mu_: a key waits for its first read
  bool stopping_ = false;                 // guarded by mu_
  mutable StoreAvailabilityStats stats_;  // guarded by mu_

  std::thread thread_;
};

}  // namespace linewatch
