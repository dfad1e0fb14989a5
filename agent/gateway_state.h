// GatewayState: what `linewatch gateway` must remember across restarts, in
// its data_dir: the plan last put in force, whose version is the floor for
// the next push. Without it a restarted gateway would accept a replay of any
// push still inside the freshness window, or an old plan pushed out of order.
//
//   DATA_DIR/state.json   {"applied_version":N,"plan":{...plan JSON...}}
//   DATA_DIR/lock         flock()ed while a gateway runs on this data_dir
//
// save() replaces state.json atomically: the new content goes to a temporary
// file in the same directory, is fsync()ed, renamed over state.json, and the
// directory is fsync()ed, so after a crash at any point the file holds either
// the old state or the new one, never a mix.
//
// Thread-safety: none; one owner (the gateway's server thread after start).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/fd.h"
#include "rules/plan.h"

namespace linewatch {

struct AppliedState {
  std::uint64_t version = 0;      // 0: nothing applied yet
  std::optional<RoutePlan> plan;  // the plan of `version`; nullopt when version is 0
};

class GatewayState {
 public:
  // Creates `data_dir` (and its parents) when missing and takes its lock.
  // Failure: io naming the directory and the step, e.g. "data_dir
  // /var/lib/x: another gateway is running on it (lock held)".
  static Result<GatewayState> open(const std::string& data_dir);

  // The saved state; version 0 when none was saved yet. Failure: io when the
  // file cannot be read, invalid_argument naming the file when its content is
  // not a state this code wrote (the gateway must not guess its floor).
  Result<AppliedState> load() const;

  // Makes `plan` (and its version) the saved state, atomically and durably.
  // Failure: io naming the file and the step; the old state is kept then.
  Status save(const RoutePlan& plan);

  const std::string& path() const { return path_; }

 private:
  GatewayState(std::string dir, Fd lock);
  std::string dir_;
  std::string path_;  // dir_/state.json
  Fd lock_;           // held for the life of this object
};

}  // namespace linewatch
