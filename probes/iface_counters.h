// Interface counters: the kernel's byte and packet counters of one network
// interface, from which rules/bandwidth.h measures a line's traffic, and the
// device a line's traffic leaves by, for lines that do not name it.
//
// Source: rtnetlink (RTM_GETLINK, IFLA_STATS64), not /sys/class/net.
// - Netlink answers for the network namespace of the thread that opens the
//   socket, as every probe socket does. /sys/class/net shows the namespace
//   that /sys was MOUNTED in: `ip netns exec` remounts /sys so the two agree
//   there, but a thread that only unshares or setns()es its network namespace
//   would read the host's interfaces through /sys, or none.
// - One message carries the ifindex with the counters, so a counter read can
//   never pair the old interface's ifindex with the new one's bytes (with /sys
//   they are separate files, read at separate moments).
// - IFLA_STATS64 counters are 64-bit on every kernel this runs on; when a
//   driver keeps only 32-bit counters the kernel still widens them, so they
//   may wrap at 2^32 (rules/bandwidth.h handles a backward step).
//
// Thread-safety: every function is thread-safe and holds no state between
// calls (each call opens and closes its own socket).
// Cost: read_interface_counters is one netlink request and reply (a few
// microseconds, a handful of syscalls); interface_towards one UDP connect,
// which sends nothing, and one getifaddrs.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/error.h"

namespace linewatch {

// One reading of an interface's counters, since the interface was created
// (or since its driver last reset them).
struct InterfaceCounters {
  std::string name;
  int ifindex = 0;  // changes when the interface is deleted and created again
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t tx_packets = 0;
};

// Reads the counters of interface `name` in the calling thread's network
// namespace.
// Success: the counters and the ifindex, from one kernel message.
// Failure: not_found "interface NAME: No such device" when no interface has
// that name (it vanished, or is not created yet: the caller reports the line's
// counters as vanished); invalid_argument when `name` cannot be an interface
// name ("" or longer than 15 bytes); io for a netlink failure (the caller
// skips this sample; it is not a vanished interface).
Result<InterfaceCounters> read_interface_counters(const std::string& name);

// The interface the kernel would send by from this host to `gateway` (an IPv4
// or IPv6 literal, the line's next hop) for a socket bound per `binding`
// (source, device, fwmark as probes/binding.h applies them), without running
// `ip`. A UDP socket is bound and connected to the gateway (a route lookup;
// nothing is sent), and the source address the kernel chose is mapped to the
// interface that carries it (getifaddrs).
// Success: the interface name. When binding.interface is set, that name: the
// socket cannot leave by any other device.
// Failure (the message names the gateway and says to set lines[].counters
// where the device cannot be told):
// - invalid_argument: `gateway` is not an address literal, or is IPv6
//   link-local with no binding.interface;
// - the binding cannot be applied: apply_binding's error ("source
//   198.18.9.9: Cannot assign requested address"), after "gateway X: ";
// - unavailable: the route lookup failed ("Network is unreachable");
// - not_found: no interface, or SEVERAL interfaces, carry the chosen source
//   address (the same address on two devices cannot be told apart this way);
//   or it is on a loopback device while the gateway is not a loopback address
//   (a route with `src` set to an address held on lo, a common setup for
//   service addresses, says nothing about the device the packets leave by).
// Limits: the answer is the device holding the source address. A route whose
// `src` names an address held on ANOTHER non-loopback device (e.g. an
// unnumbered link) yields that other device. For those set
// lines[].counters.
Result<std::string> interface_towards(const std::string& gateway, const LineBinding& binding);

}  // namespace linewatch
