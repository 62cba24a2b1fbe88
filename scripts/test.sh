#!/usr/bin/env bash
# Runs the tests of every Go module in this repository, with the race
# detector. Tests that need Chromium, Firefox, Node.js, redis-server or Ory
# Hydra skip when those are missing, unless CI=true, where they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# The interop tests run panva's oidc-provider and GenAuth's SDKs from
# e2e/node_modules; install them when missing or older than the lock file.
installed=e2e/node_modules/.package-lock.json
if command -v npm >/dev/null 2>&1 && [ -f e2e/package-lock.json ] &&
	{ [ ! -f "$installed" ] || [ e2e/package-lock.json -nt "$installed" ]; }; then
	echo "==> npm ci in e2e"
	(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
status=0
# test DIR runs the tests of the module in DIR.
test() {
	echo "==> go test -race ./... in $1"
	go -C "$1" test -race -count=1 -timeout 20m ./...
}
# The e2e module runs two browsers and three providers, about 5 minutes
# spent mostly waiting on them: it runs alongside the other modules, its
# output kept until they are done, and gets more than go test's default
# 10-minute timeout.
e2e_log=$(mktemp)
trap 'rm -f "$e2e_log"' EXIT
test e2e >"$e2e_log" 2>&1 &
e2e_pid=$!
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	[ "$dir" = e2e ] && continue
	test "$dir" || status=1
done < <(git ls-files '*go.mod' 'go.mod' | sort -u)
wait "$e2e_pid" || status=1
cat "$e2e_log"
exit $status
