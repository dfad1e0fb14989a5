#!/usr/bin/env bash
# Installation as a Debian administrator meets it. Two modes:
#
#   install_test.sh tree BUILD_DIR
#     `cmake --install` into DESTDIR temp dirs (any user who may write
#     BUILD_DIR, where it leaves install_manifest.txt): the binary, config,
#     unit, sysusers file and docs land where documented, for prefix
#     /usr/local and /usr; the shipped config passes check-config and watches
#     loopback only; a second install keeps an edited config;
#     `systemd-analyze verify` passes on the installed unit and fails on a
#     broken copy of it.
#
#   install_test.sh deb BUILD_DIR
#     Root only, else exit 77 (skipped). `cpack -G DEB` on the built tree; the
#     package's Depends (from dpkg-shlibdeps), conffile, layout and stripped
#     binary; `apt-get install` of it, the user, the config, the unit, an ICMP
#     round as that user with only CAP_NET_RAW (the unit's privileges), a
#     reinstall that keeps an edited conffile, and `apt-get purge` leaving
#     nothing behind. It changes the machine (package, user): meant for a
#     throwaway CI machine, it restores what it changed on exit.
#
# Neither mode builds anything: BUILD_DIR must hold a built linewatch.
set -euo pipefail
mode=${1:?usage: install_test.sh tree|deb BUILD_DIR}
build=$(cd "${2:?usage: install_test.sh tree|deb BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linewatch-install.XXXXXX)
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "-- $*"; }

# verify_unit UNIT: systemd-analyze verify reports problems of a unit file
# mostly as warnings with exit status 0, so any line naming the unit fails too.
verify_unit() {
  local out code
  set +e; out=$(systemd-analyze verify "$1" 2>&1); code=$?; set -e
  if [ "$code" -ne 0 ] || echo "$out" | grep -q linewatch; then
    echo "$out" >&2
    return 1
  fi
}

# check_shipped_config BIN CONF: valid, and every address outside comments is
# loopback, so a fresh install sends nothing off the machine.
check_shipped_config() {
  local out
  out=$("$1" check-config "$2") || fail "check-config $2: $out"
  echo "$out" | grep -q "ok (1 lines, 1 targets, 2 probe jobs)" || fail "unexpected check-config: $out"
  grep -q '^  data_dir: /var/lib/linewatch ' "$2" || fail "$2: data_dir is not /var/lib/linewatch"
  grep -q '^  listen: 127\.0\.0\.1:' "$2" || fail "$2: agent.listen is not loopback"
  local addrs
  addrs=$(sed 's/#.*//' "$2" | grep -oE '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+' | sort -u)
  [ -n "$addrs" ] || fail "$2: no address found"
  if echo "$addrs" | grep -vq '^127\.'; then fail "$2: non-loopback address: $addrs"; fi
}

# install_into DESTDIR PREFIX: `cmake --install` as an administrator runs it.
install_into() {
  DESTDIR=$1 cmake --install "$build" --prefix "$2" || fail "cmake --install (DESTDIR=$1, prefix $2) failed"
}

tree_mode() {
  trap 'rm -rf "$work"' EXIT
  local root=$work/root out
  note "cmake --install, prefix /usr/local, DESTDIR=$root"
  install_into "$root" /usr/local >"$work/install1.log"
  local bin=$root/usr/local/bin/linewatch conf=$root/etc/linewatch/linewatch.yaml
  local unit=$root/usr/local/lib/systemd/system/linewatch.service
  [ -x "$bin" ] || fail "no executable $bin"
  [ -f "$conf" ] || fail "no $conf"
  [ -f "$unit" ] || fail "no $unit"
  [ -f "$root/usr/local/lib/sysusers.d/linewatch.conf" ] || fail "no sysusers.d/linewatch.conf"
  for f in linewatch.yaml configuration.md full.yaml gateway.md gateway.yaml; do
    [ -f "$root/usr/local/share/doc/linewatch/$f" ] || fail "no share/doc/linewatch/$f"
  done
  cmp -s "$conf" "$src/packaging/linewatch.yaml" || fail "$conf is not the shipped default"
  grep -qx 'ExecStart=/usr/local/bin/linewatch run -c /etc/linewatch/linewatch.yaml' "$unit" ||
    fail "ExecStart does not name the installed binary: $(grep ExecStart "$unit")"
  grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" ||
    fail "no ExecReload sending SIGHUP: systemctl reload would not reload"
  check_shipped_config "$bin" "$conf"

  note "a second install keeps an edited config"
  sed -i 's/^  id: linewatch /  id: edited-by-admin /' "$conf"
  grep -q 'id: edited-by-admin' "$conf" || fail "could not edit $conf"
  install_into "$root" /usr/local >"$work/install2.log"
  grep -q 'id: edited-by-admin' "$conf" || fail "the second install overwrote $conf"
  grep -q "Keeping: $conf" "$work/install2.log" || fail "the second install did not say it kept $conf"
  { [ -x "$bin" ] && [ -f "$unit" ]; } || fail "the second install lost files"

  note "prefix /usr puts the unit in /lib/systemd/system"
  install_into "$work/usr-root" /usr >/dev/null
  grep -qx 'ExecStart=/usr/bin/linewatch run -c /etc/linewatch/linewatch.yaml' \
    "$work/usr-root/lib/systemd/system/linewatch.service" || fail "prefix /usr: unit missing or wrong ExecStart"
  [ -f "$work/usr-root/usr/lib/sysusers.d/linewatch.conf" ] || fail "prefix /usr: no sysusers.d file"

  note "systemd-analyze verify (ExecStart pointed into DESTDIR)"
  mkdir -p "$work/good" "$work/bad"
  sed "s|^ExecStart=/usr/local/bin/linewatch |ExecStart=$bin |" "$unit" >"$work/good/linewatch.service"
  verify_unit "$work/good/linewatch.service" || fail "systemd-analyze verify rejects the installed unit"
  # verify accepts a unit that would run as root (User= empty) or with more
  # privileges: the lines that bound them are checked one by one, and the
  # overall exposure against a ceiling (2.5 on systemd's 0-10 scale).
  local want
  for want in User=linewatch Group=linewatch AmbientCapabilities=CAP_NET_RAW \
    CapabilityBoundingSet=CAP_NET_RAW NoNewPrivileges=yes ProtectSystem=strict StateDirectory=linewatch; do
    grep -qx "$want" "$unit" || fail "unit lacks the line $want"
  done
  systemd-analyze security --offline=yes --threshold=25 "$work/good/linewatch.service" >"$work/security.txt" ||
    fail "unit exposure above 2.5: $(tail -1 "$work/security.txt")"
  # The check must be able to fail: a misspelt key is only a warning to systemd.
  sed 's/^ProtectSystem=/ProtectSytem=/' "$work/good/linewatch.service" >"$work/bad/linewatch.service"
  if verify_unit "$work/bad/linewatch.service" 2>/dev/null; then
    fail "systemd-analyze verify accepted a unit with a misspelt key"
  fi
  note "ok"
}

# --- deb mode -------------------------------------------------------------

# pkg_state: dpkg's status of linewatch when installed or half there, else "".
pkg_state() {
  local s
  s=$(dpkg-query -W -f='${Status}' linewatch 2>/dev/null) || true
  case "$s" in *not-installed | "") ;; *) echo "$s" ;; esac
}
user_existed=""
installed_here=""
deb_cleanup() {
  set +e
  if [ -n "$installed_here" ] && [ -n "$(pkg_state)" ]; then
    apt-get purge -y -qq -o DPkg::Lock::Timeout=120 linewatch >/dev/null 2>&1
  fi
  # Absent before the run (checked), so whatever is left is this run's.
  if [ -n "$installed_here" ]; then rm -rf /etc/linewatch /var/lib/linewatch; fi
  if [ -z "$user_existed" ] && getent passwd linewatch >/dev/null; then
    userdel linewatch
    if getent group linewatch >/dev/null; then groupdel linewatch; fi
  fi
  rm -rf "$work"
}

deb_mode() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: installs a package and creates a user, so needs root (run as root on a throwaway machine)"
    rm -rf "$work"
    exit 77
  fi
  for tool in cpack dpkg-deb dpkg-shlibdeps apt-get systemd-analyze setpriv readelf; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install dpkg-dev systemd util-linux binutils)"
  done
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -y -qq -o DPkg::Lock::Timeout=120)
  # A package left by an interrupted earlier run would collide: remove it.
  # Files of the same name that no package owns belong to someone: skip.
  local leftover=""
  if [ -n "$(pkg_state)" ]; then
    leftover=yes
    note "removing a linewatch package already here ($(pkg_state))"
    "${apt[@]}" purge linewatch >/dev/null
  fi
  for p in /usr/bin/linewatch /etc/linewatch /lib/systemd/system/linewatch.service /var/lib/linewatch; do
    if [ -e "$p" ]; then
      echo "SKIP: $p exists outside any package; not touching it"
      rm -rf "$work"
      exit 77
    fi
  done
  # The user of a package purged above is that package's: it goes too.
  if [ -z "$leftover" ] && getent passwd linewatch >/dev/null; then user_existed=yes; fi
  trap deb_cleanup EXIT

  note "cpack -G DEB"
  local start=$SECONDS
  cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log" >&2; fail "cpack failed"; }
  note "cpack took $((SECONDS - start))s"
  local version arch deb
  version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
  arch=$(dpkg --print-architecture)
  deb=$work/pkg/linewatch_${version}_${arch}.deb
  [ -f "$deb" ] || fail "no $deb; cpack made: $(ls "$work/pkg")"

  local info contents
  info=$(dpkg-deb -I "$deb")
  echo "$info" | grep -E '^ (Depends|Section|Maintainer):'
  echo "$info" | grep -Eq '^ Depends:.*libpoco[a-z]*[0-9]' || fail "Depends lacks libpoco (shlibdeps): $info"
  echo "$info" | grep -Eq '^ Depends:.*libsqlite3-0' || fail "Depends lacks libsqlite3 (shlibdeps): $info"
  echo "$info" | grep -Eq '^ Depends:.*libc6 \(>= ' || fail "Depends lacks versioned libc6 (shlibdeps): $info"
  echo "$info" | grep -q '^ Section: net$' || fail "Section is not net"
  echo "$info" | grep -q '^ Maintainer: .*<.*@.*>' || fail "no Maintainer"
  [ "$(dpkg-deb -I "$deb" conffiles)" = /etc/linewatch/linewatch.yaml ] || fail "conffiles is not the config"
  contents=$(dpkg-deb -c "$deb")
  for p in ./usr/bin/linewatch ./etc/linewatch/linewatch.yaml ./lib/systemd/system/linewatch.service \
    ./usr/lib/sysusers.d/linewatch.conf ./usr/share/doc/linewatch/configuration.md; do
    echo "$contents" | grep -q " $p\$" || fail "package lacks $p"
  done
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/linewatch >"$work/linewatch.bin"
  if readelf -S "$work/linewatch.bin" | grep -Eq '\.debug_info|\.symtab'; then
    fail "the packaged binary is not stripped"
  fi

  note "apt-get install"
  chmod 755 "$work" "$work/pkg"  # apt reads local packages as _apt
  installed_here=yes
  "${apt[@]}" install "$deb" >"$work/apt-install.log" 2>&1 ||
    { cat "$work/apt-install.log" >&2; fail "apt-get install failed"; }
  [ -x /usr/bin/linewatch ] || fail "no /usr/bin/linewatch"
  /usr/bin/linewatch check-config /etc/linewatch/linewatch.yaml || fail "installed config does not check"
  check_shipped_config /usr/bin/linewatch /etc/linewatch/linewatch.yaml
  local pw
  pw=$(getent passwd linewatch) || fail "postinst did not create user linewatch"
  IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
  [ "$uid" -lt 1000 ] || fail "linewatch is not a system user (uid $uid)"
  { [ "$home" = /var/lib/linewatch ] && [ "$shell" = /usr/sbin/nologin ]; } || fail "user linewatch: $pw"
  [ "$(stat -c %U /var/lib/linewatch)" = linewatch ] || fail "/var/lib/linewatch is not linewatch's"
  verify_unit /lib/systemd/system/linewatch.service || fail "systemd-analyze verify rejects the packaged unit"

  note "an ICMP round as user linewatch with only CAP_NET_RAW, as the unit runs it"
  setpriv --reuid=linewatch --regid=linewatch --init-groups --no-new-privs \
    --inh-caps=-all,+net_raw --ambient-caps=-all,+net_raw --bounding-set=-all,+net_raw \
    /usr/bin/linewatch probe -c /etc/linewatch/linewatch.yaml --line loopback --target self --kind icmp ||
    fail "the default config's ICMP probe fails with the unit's privileges"

  note "a reinstall keeps an edited conffile"
  sed -i 's/^  id: linewatch /  id: edited-by-admin /' /etc/linewatch/linewatch.yaml
  "${apt[@]}" install --reinstall "$deb" >"$work/apt-reinstall.log" 2>&1 ||
    { cat "$work/apt-reinstall.log" >&2; fail "apt-get install --reinstall failed"; }
  grep -q 'id: edited-by-admin' /etc/linewatch/linewatch.yaml || fail "reinstall overwrote the edited conffile"

  note "apt-get purge"
  "${apt[@]}" purge linewatch >"$work/apt-purge.log" 2>&1 ||
    { cat "$work/apt-purge.log" >&2; fail "apt-get purge failed"; }
  [ -z "$(pkg_state)" ] || fail "linewatch still known to dpkg: $(pkg_state)"
  for p in /usr/bin/linewatch /etc/linewatch /lib/systemd/system/linewatch.service \
    /usr/lib/sysusers.d/linewatch.conf /usr/share/doc/linewatch /var/lib/linewatch; do
    [ ! -e "$p" ] || fail "purge left $p"
  done
  note "ok"
}

case "$mode" in
  tree) tree_mode ;;
  deb) deb_mode ;;
  *) fail "unknown mode $mode (tree or deb)" ;;
esac
