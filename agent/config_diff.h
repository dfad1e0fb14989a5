// Config diff: what a reload of the config file may change in place, what
// takes a restart, and which parts of the running agent a new config touches.
//
// Restart-only keys are those the agent binds at open and keeps for its life:
// agent.id (notice ids, plan identity), agent.listen (the API socket),
// agent.data_dir and storage.* (the open database), agent.api_token_file (the
// reload endpoint's own key; its content is re-read at every reload, so a
// token rotates without a restart). A reload that changes one is refused.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace linewatch {

// One message per restart-only key that differs, in the order above, e.g.
// `agent.listen: changed from "127.0.0.1:9464" to "127.0.0.1:9465"; this
// takes a restart`. Empty: `next` may be applied to a running `running`.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

// True when the failover would be built the same from both: lines,
// routes, liveness (and the reflectors it resolves to: targets' icmp
// hosts), health, scoring, apply and gateways are all equal. Then a reload
// leaves the failover, its liveness sockets, the local apply and the gateway
// pushers untouched.
bool failover_unchanged(const Config& running, const Config& next);

// What differs, part by part, for the reload to rebuild only those.
struct ConfigChanges {
  bool failover = false;  // !failover_unchanged
  bool lines = false;     // lines[]: the bandwidth sampler follows them
  bool scope = false;     // the set of line or target ids (availability)
  bool alerts = false;    // alerts: or notify: (the rules' receivers)
  bool notify = false;    // notify: (the receivers)
};
ConfigChanges diff_config(const Config& running, const Config& next);

}  // namespace linewatch
