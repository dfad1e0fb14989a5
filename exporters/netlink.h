// A route netlink (NETLINK_ROUTE) socket on libmnl, and a message builder:
// the transport under the route applier (exporters/route_apply.h).
//
// Every request is acknowledged, and every answer carries the kernel's own
// words: the socket sets NETLINK_EXT_ACK, so a refusal reads e.g. "Invalid
// argument (kernel: Nexthop has invalid gateway)" rather than a bare errno.
// NETLINK_GET_STRICT_CHK is set too, so dumps can be filtered by table in the
// kernel. Waiting for an answer is bounded by a receive timeout.
//
// The socket belongs to the network namespace of the thread that opens it.
// Thread-safety: one NetlinkSocket per thread; it is move-only and unlocked.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace linewatch {

// The kernel's answer to one request or dump: 0, or an errno with the extended
// ack message when the kernel gave one.
struct NlAnswer {
  int error = 0;             // 0 or a positive errno
  std::string extack;        // the kernel's message, "" when it gave none
  bool interrupted = false;  // a dump saw NLM_F_DUMP_INTR: the data changed meanwhile

  bool ok() const { return error == 0 && !interrupted; }
  // "Invalid argument (kernel: Nexthop has invalid gateway)"; with a hint
  // naming CAP_NET_ADMIN for EPERM.
  std::string text() const;
};

// One netlink request under construction: a header, a family header and
// attributes. Attributes past the buffer's capacity are not written and mark
// the message as overflowed; NetlinkSocket refuses to send such a message.
class NlMessage {
 public:
  // `flags` are added to NLM_F_REQUEST (and NLM_F_ACK or NLM_F_DUMP, which the
  // socket adds itself).
  NlMessage(std::uint16_t type, std::uint16_t flags);
  NlMessage(const NlMessage&) = delete;
  NlMessage& operator=(const NlMessage&) = delete;

  // The zeroed family header (rtmsg, nhmsg, ...). Call once, before any attribute.
  template <class T>
  T* header() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
  }

  void put(std::uint16_t type, const void* data, std::size_t len);
  void put_u32(std::uint16_t type, std::uint32_t value);
  void put_u16(std::uint16_t type, std::uint16_t value);
  // A nested attribute: put its contents between nest_start() and nest_end().
  nlattr* nest_start(std::uint16_t type);
  void nest_end(nlattr* nest);
  // Zeroed, aligned room for a raw struct (e.g. rtnexthop inside RTA_MULTIPATH);
  // nullptr after an overflow.
  void* reserve(std::size_t len);
  // Where the next byte goes, to measure raw structs with their attributes.
  void* tail() const { return mnl_nlmsg_get_payload_tail(nlh_); }

  nlmsghdr* get() const { return nlh_; }
  bool overflowed() const { return overflowed_; }

 private:
  std::vector<char> buffer_;
  nlmsghdr* nlh_;
  bool overflowed_ = false;
};

// Calls fn(const nlattr&) for each attribute of `nlh` that follows its family
// header of `offset` bytes (libmnl's mnl_attr_for_each, usable from C++).
template <class Fn>
void for_each_attribute(const nlmsghdr& nlh, std::size_t offset, Fn fn) {
  const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(&nlh));
  auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(&nlh, offset));
  while (mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)))) {
    fn(*attr);
    attr = mnl_attr_next(attr);
  }
}

// Called for each answer message of a dump or request, in order.
using NlHandler = std::function<void(const nlmsghdr&)>;

class NetlinkSocket {
 public:
  // Default bound on waiting for the kernel's answer to one request.
  static constexpr Duration kDefaultTimeout = std::chrono::seconds(5);

  // Opens and binds a NETLINK_ROUTE socket in the calling thread's network
  // namespace, joined to the multicast `groups` (RTNLGRP_* values; none for
  // requests only). Failure: io naming what failed.
  static Result<NetlinkSocket> open(Duration timeout = kDefaultTimeout,
                                    const std::vector<unsigned>& groups = {});

  NetlinkSocket(NetlinkSocket&&) noexcept = default;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept = default;

  // Sends `msg` with NLM_F_ACK and waits for the kernel's acknowledgement;
  // `on_reply` sees any data message that comes before it (the answer to a
  // GET). Failure: the errno and message of the refusal, ETIMEDOUT when no
  // answer came within the timeout, EMSGSIZE for an overflowed message.
  NlAnswer request(NlMessage& msg, const NlHandler& on_reply = {});

  // Sends `msg` with NLM_F_DUMP and hands each message to `on_message` until
  // the dump ends. `interrupted` is set when the kernel flagged the dump as
  // inconsistent: the caller should drop what it collected and dump again.
  NlAnswer dump(NlMessage& msg, const NlHandler& on_message);

  // Hands every message already queued on the socket (multicast notifications
  // of joined groups) to `on_message`, without waiting.
  NlAnswer drain(const NlHandler& on_message);

 private:
  struct Closer {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
  };
  explicit NetlinkSocket(mnl_socket* socket);
  NlAnswer send(NlMessage& msg, std::uint16_t flags);
  // Reads answers to sequence `seq` until an ack, an error or NLMSG_DONE.
  NlAnswer receive(std::uint32_t seq, const NlHandler& on_message);

  std::unique_ptr<mnl_socket, Closer> socket_;
  std::uint32_t portid_ = 0;
  std::uint32_t seq_ = 0;
  std::vector<char> buffer_;
};

}  // namespace linewatch
