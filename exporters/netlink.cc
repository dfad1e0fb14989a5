#include "exporters/netlink.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace linewatch {
namespace {

// Requests are small; the largest is a multipath route of 255 IPv6 hops
// (about 7 KiB). Answers: the kernel writes at most 32 KiB of dump per read.
constexpr std::size_t kRequestBytes = 16 * 1024;
constexpr std::size_t kReceiveBytes = 32 * 1024;

// The NLMSGERR_ATTR_MSG string of an error or done message, if any. The
// TLVs start after the nlmsgerr (or the done's int) and, without
// NETLINK_CAP_ACK taking effect, after the echoed request too.
std::string extack_of(const nlmsghdr& nlh, unsigned offset) {
  if (!(nlh.nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  std::string message;
  auto on_attr = [](const nlattr* attr, void* data) -> int {
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
        mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
      *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
    }
    return MNL_CB_OK;
  };
  if (offset > mnl_nlmsg_get_payload_len(&nlh)) return "";
  mnl_attr_parse(&nlh, offset, on_attr, &message);
  return message;
}

NlAnswer error_answer(const nlmsghdr& nlh) {
  if (mnl_nlmsg_get_payload_len(&nlh) < sizeof(nlmsgerr)) return {EBADMSG, "short error message"};
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(&nlh));
  unsigned offset = sizeof(nlmsgerr);
  if (!(nlh.nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  return {-err->error, err->error != 0 ? extack_of(nlh, offset) : ""};
}

NlAnswer done_answer(const nlmsghdr& nlh) {
  if (mnl_nlmsg_get_payload_len(&nlh) < sizeof(int)) return {};
  int status = 0;
  std::memcpy(&status, mnl_nlmsg_get_payload(&nlh), sizeof status);
  return {status < 0 ? -status : 0, status < 0 ? extack_of(nlh, sizeof(int)) : ""};
}

}  // namespace

std::string NlAnswer::text() const {
  if (interrupted && error == 0) return "the kernel's answer changed while it was read";
  std::string out = std::strerror(error);
  if (!extack.empty()) out += " (kernel: " + extack + ")";
  if (error == EPERM) out += " (applying routes needs CAP_NET_ADMIN)";
  return out;
}

NlMessage::NlMessage(std::uint16_t type, std::uint16_t flags) : buffer_(kRequestBytes) {
  nlh_ = mnl_nlmsg_put_header(buffer_.data());
  nlh_->nlmsg_type = type;
  nlh_->nlmsg_flags = NLM_F_REQUEST | flags;
}

void NlMessage::put(std::uint16_t type, const void* data, std::size_t len) {
  if (!mnl_attr_put_check(nlh_, buffer_.size(), type, len, data)) overflowed_ = true;
}

void NlMessage::put_u32(std::uint16_t type, std::uint32_t value) {
  put(type, &value, sizeof value);
}

void NlMessage::put_u16(std::uint16_t type, std::uint16_t value) {
  put(type, &value, sizeof value);
}

nlattr* NlMessage::nest_start(std::uint16_t type) {
  nlattr* nest = mnl_attr_nest_start_check(nlh_, buffer_.size(), type);
  if (nest == nullptr) overflowed_ = true;
  return nest;
}

void NlMessage::nest_end(nlattr* nest) {
  if (nest != nullptr && !overflowed_) mnl_attr_nest_end(nlh_, nest);
}

void* NlMessage::reserve(std::size_t len) {
  const std::size_t aligned = MNL_ALIGN(len);
  if (overflowed_ || nlh_->nlmsg_len + aligned > buffer_.size()) {
    overflowed_ = true;
    return nullptr;
  }
  void* at = tail();
  std::memset(at, 0, aligned);
  nlh_->nlmsg_len += aligned;
  return at;
}

NetlinkSocket::NetlinkSocket(mnl_socket* socket)
    : socket_(socket), portid_(mnl_socket_get_portid(socket)), buffer_(kReceiveBytes) {}

Result<NetlinkSocket> NetlinkSocket::open(Duration timeout, const std::vector<unsigned>& groups) {
  mnl_socket* raw = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (raw == nullptr) return io_error(std::string("netlink socket: ") + std::strerror(errno));
  std::unique_ptr<mnl_socket, Closer> owned(raw);
  if (mnl_socket_bind(raw, 0, MNL_SOCKET_AUTOPID) < 0)
    return io_error(std::string("netlink bind: ") + std::strerror(errno));
  int on = 1;
  for (int option : {NETLINK_EXT_ACK, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK}) {
    if (mnl_socket_setsockopt(raw, option, &on, sizeof on) < 0)
      return io_error(std::string("netlink socket option ") + std::to_string(option) + ": " +
                      std::strerror(errno));
  }
  for (unsigned group : groups) {
    if (mnl_socket_setsockopt(raw, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
      return io_error("netlink group " + std::to_string(group) + ": " + std::strerror(errno));
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  if (setsockopt(mnl_socket_get_fd(raw), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
    return io_error(std::string("netlink receive timeout: ") + std::strerror(errno));
  return NetlinkSocket(owned.release());
}

NlAnswer NetlinkSocket::request(NlMessage& msg, const NlHandler& on_reply) {
  NlAnswer sent = send(msg, NLM_F_ACK);
  if (!sent.ok()) return sent;
  return receive(msg.get()->nlmsg_seq, on_reply);
}

NlAnswer NetlinkSocket::dump(NlMessage& msg, const NlHandler& on_message) {
  NlAnswer sent = send(msg, NLM_F_DUMP);
  if (!sent.ok()) return sent;
  return receive(msg.get()->nlmsg_seq, on_message);
}

NlAnswer NetlinkSocket::send(NlMessage& msg, std::uint16_t flags) {
  if (msg.overflowed()) return {EMSGSIZE, "request larger than the netlink buffer"};
  nlmsghdr* nlh = msg.get();
  nlh->nlmsg_flags |= flags;
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(socket_.get(), nlh, nlh->nlmsg_len) < 0) return {errno, ""};
  return {};
}

NlAnswer NetlinkSocket::receive(std::uint32_t seq, const NlHandler& on_message) {
  bool interrupted = false;
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {ETIMEDOUT, "no answer from the kernel"};
      return {errno, ""};
    }
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      // Answers to an earlier request that timed out are skipped.
      if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid_) continue;
      if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        NlAnswer a = error_answer(*nlh);
        a.interrupted = interrupted;
        return a;
      }
      if (nlh->nlmsg_type == NLMSG_DONE) {
        NlAnswer a = done_answer(*nlh);
        a.interrupted = interrupted;
        return a;
      }
      if (nlh->nlmsg_type >= NLMSG_MIN_TYPE && on_message) on_message(*nlh);
    }
  }
}

NlAnswer NetlinkSocket::drain(const NlHandler& on_message) {
  for (;;) {
    const ssize_t n =
        recv(mnl_socket_get_fd(socket_.get()), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      return {errno, ""};
    }
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type >= NLMSG_MIN_TYPE && on_message) on_message(*nlh);
    }
  }
}

}  // namespace linewatch
