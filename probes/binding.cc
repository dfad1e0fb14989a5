#include "probes/binding.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace linewatch {
namespace {

Error setting_error(const std::string& setting, int err) {
  return io_error(setting + ": " + std::strerror(err));
}

Status bind_source(int fd, int family, const std::string& source) {
  const std::string setting = "source " + source;
  const int source_family = binding_family(LineBinding{source, {}, {}});
  if (source_family == AF_UNSPEC) return invalid(setting + ": not an IPv4 or IPv6 address");
  if (source_family != family) {
    return invalid(setting + ": address family does not match the target's (" +
                   (family == AF_INET6 ? "IPv6" : "IPv4") + ")");
  }
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &in->sin_addr);
    length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, source.c_str(), &in6->sin6_addr);
    length = sizeof(sockaddr_in6);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&storage), length) != 0)
    return setting_error(setting, errno);
  return ok_status();
}

}  // namespace

int binding_family(const LineBinding& binding) {
  if (binding.source.empty()) return AF_UNSPEC;
  in_addr v4{};
  if (inet_pton(AF_INET, binding.source.c_str(), &v4) == 1) return AF_INET;
  in6_addr v6{};
  if (inet_pton(AF_INET6, binding.source.c_str(), &v6) == 1) return AF_INET6;
  return AF_UNSPEC;
}

Status apply_binding(int fd, int family, const LineBinding& binding) {
  if (!binding.interface.empty()) {
    const std::string& name = binding.interface;
    if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name.c_str(),
                     static_cast<socklen_t>(name.size())) != 0)
      return setting_error("interface " + name, errno);
  }
  if (binding.fwmark) {
    const unsigned int mark = *binding.fwmark;
    if (::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0)
      return setting_error("fwmark " + std::to_string(mark), errno);
  }
  if (!binding.source.empty()) return bind_source(fd, family, binding.source);
  return ok_status();
}

}  // namespace linewatch
