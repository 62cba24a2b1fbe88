#!/usr/bin/env bash
# Builds and vets every Go program of README.md and docs/backend-logout.md
# (the back-end logout program): each ```go block that
# declares "package main" is written to a directory of its own inside the
# examples module (which requires every module the programs use), checked
# with gofmt, then built and vetted as it stands. With --extract DIR, it
# only writes the programs to DIR/p1/main.go, DIR/p2/main.go, ... (the
# release rehearsal builds them in a user's module).
set -euo pipefail
extract=
if [ "${1:-}" = --extract ]; then
	extract=$(realpath -m "$2")
fi
cd "$(dirname "$0")/.."
if [ -n "$extract" ]; then
	dir=$extract
	mkdir -p "$dir"
else
	dir=$(mktemp -d examples/readme-check-XXXXXX)
	trap 'rm -rf "$dir"' EXIT
fi
awk -v dir="$dir" '
	/^```go$/ { inblock = 1; n++; file = ""; next }
	/^```$/ && inblock { inblock = 0; if (file != "") close(file); next }
	inblock {
		if (file == "" && $0 == "package main") {
			programs++
			system("mkdir -p " dir "/p" programs)
			file = dir "/p" programs "/main.go"
		}
		if (file != "") print > file
	}
	END { if (programs == 0) { print "README.md has no package main program" > "/dev/stderr"; exit 1 } }
' README.md docs/backend-logout.md
[ -z "$extract" ] || exit 0
count=$(find "$dir" -name main.go | wc -l)
echo "README.md and docs/backend-logout.md: $count package main programs"
unformatted=$(gofmt -l "$dir")
if [ -n "$unformatted" ]; then
	echo "gofmt would change these README programs:"
	gofmt -d "$dir"
	exit 1
fi
pkgs="./$(basename "$dir")/..."
go -C examples vet "$pkgs"
go -C examples build -o /dev/null "$pkgs"
