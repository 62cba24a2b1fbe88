#!/usr/bin/env bash
# Tags every published module of this repository at one version, in
# dependency order, after checking the module boundaries, a clean tree, CI,
# and a rehearsal in which a user's fresh module fetches the modules from
# a file-based module proxy built from the release commit.
#
#   scripts/release.sh v0.2.0             # release and push the tags
#   scripts/release.sh --dry-run v0.2.0   # everything but the push
#   scripts/release.sh --dry-run --skip-ci v0.99.0   # what CI runs
#   scripts/release.sh --check-boundaries
#
# See go doc in tools/release for every step and flag.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec go -C "$root/tools/release" run . -repo "$root" "$@"
