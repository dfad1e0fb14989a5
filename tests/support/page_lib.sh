# Loading the built-in page in headless Chromium, for the page tests. Source
# it after defining fail().

# page_browse URL DIR: loads URL, which must be http://127.0.0.1:PORT/...,
# with a fresh profile in DIR, and writes there dom.html (the DOM once the
# page's scripts have run: up to 10 s of virtual time, less than the page's
# 30 s refresh), page.png (a screenshot) and console.log (Chromium's log,
# with the page's console messages). Chromium reaches nothing but loopback:
# every host name resolves to nothing and every other address goes to a
# proxy that does not exist (loopback always bypasses proxies).
page_browse() {
  local url=$1 dir=$2
  [[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+/ ]] || fail "page_browse: $url is not on 127.0.0.1"
  command -v chromium >/dev/null || fail "chromium is not installed (scripts/setup.sh installs it)"
  local flags=(
    --headless --disable-gpu --no-first-run --no-default-browser-check
    --disable-background-networking --disable-component-update --disable-sync
    --disable-default-apps --disable-extensions --disable-breakpad --no-pings
    --disable-domain-reliability --metrics-recording-only
    --proxy-server=socks5://127.0.0.1:1 --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    --enable-logging=stderr --v=0 --window-size=1400,1800 --virtual-time-budget=10000
  )
  # Chromium's sandbox refuses to run as root.
  [ "$(id -u)" -ne 0 ] || flags+=(--no-sandbox)
  rm -rf "$dir/profile"
  timeout 90 chromium "${flags[@]}" --user-data-dir="$dir/profile" --dump-dom "$url" \
    >"$dir/dom.html" 2>"$dir/console.log" || fail "chromium --dump-dom $url failed: $(tail -5 "$dir/console.log")"
  rm -rf "$dir/profile"
  timeout 90 chromium "${flags[@]}" --user-data-dir="$dir/profile" --screenshot="$dir/page.png" "$url" \
    >/dev/null 2>>"$dir/console.log" || fail "chromium --screenshot $url failed: $(tail -5 "$dir/console.log")"
  rm -rf "$dir/profile"
  # A non-empty PNG: its signature, then more than the signature.
  [ "$(head -c 8 "$dir/page.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "the screenshot $dir/page.png is not a PNG"
  [ "$(stat -c %s "$dir/page.png")" -gt 10000 ] || fail "the screenshot $dir/page.png is nearly empty"
  # The page ran without a script error or a refusal by its own policy.
  if grep -E 'CONSOLE.*(Uncaught|Content Security Policy|Refused to)' "$dir/console.log"; then
    fail "the page logged errors in the browser"
  fi
}
