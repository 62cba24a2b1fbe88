#!/usr/bin/env bash
# Runs the tests of every Go module in this repository, with the race
# detector. Tests that need Chromium, Node.js or redis-server skip when those
# are missing, unless CI=true, where they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	echo "==> go test -race ./... in $dir"
	if ! go -C "$dir" test -race -count=1 ./...; then
		status=1
	fi
done < <(git ls-files '*go.mod' 'go.mod' | sort -u)
exit $status
