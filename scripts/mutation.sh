#!/usr/bin/env bash
# Mutation testing, with the two tools of tools/mutate:
#
#  - dropreturn takes out, one at a time, each early return that follows a
#    failure or a refusal, in the core, backchannel, redisstore and every
#    adapter module (tested with the shared suite of adapters/conformance),
#    and fails on a survivor (or a return that no test reaches) that
#    tools/mutate/survivors.txt does not explain;
#  - gremlins v0.6.0 applies its default mutators to the core, backchannel
#    and redisstore; a module whose test efficacy, killed / (killed +
#    lived) over the covered mutants, is under 90% fails. This script
#    checks the efficacy itself: gremlins v0.6.0 ignores
#    --threshold-efficacy given on the command line (viper hands the value
#    over as a string, which is then read as 0).
#
# Usage: scripts/mutation.sh [--ci | --full] [--returns-only | --gremlins-only]
#
#   --full  everything: the return deletions, and gremlins on every file of
#           the three modules with two workers; tens of minutes on 2 cores.
#           The default, unless CI=true.
#   --ci    the return deletions in full, and gremlins on a bounded set of
#           files (GREMLINS_CI_FILES below) with one worker, so that the
#           script stays around 15 to 20 minutes on 2 cores. The default when
#           CI=true.
#
# Neither tool writes the tree: dropreturn tests its mutants through go test
# -overlay, gremlins in copies of the module. The tests of redisstore need
# redis-server on PATH (without it they skip, unless CI=true).
set -uo pipefail
cd "$(dirname "$0")/.."

mode=full
[ "${CI:-}" = true ] && mode=ci
returns=true
gremlins=true
for arg in "$@"; do
	case $arg in
	--ci) mode=ci ;;
	--full) mode=full ;;
	--returns-only) gremlins=false ;;
	--gremlins-only) returns=false ;;
	*)
		echo "usage: scripts/mutation.sh [--ci | --full] [--returns-only | --gremlins-only]" >&2
		exit 2
		;;
	esac
done

# The modules whose early returns dropreturn takes out. The adapters' tests
# live in adapters/conformance, a module of its own that reaches each
# adapter through a replace directive: DIR=TESTS_DIR has dropreturn test
# the adapter's mutants with the tests of that module that depend on the
# mutated package, as well as with the adapter's own (the fiber adapters'
# internal/httpconv). adapters/conformance itself holds no product code
# (its fixture package is skipped below), so it is not mutated.
RETURN_TESTS=adapters/conformance
RETURN_MODULES=(. backchannel redisstore
	adapters/gin=$RETURN_TESTS adapters/echo=$RETURN_TESTS
	adapters/fiber=$RETURN_TESTS adapters/fiber/fiber3=$RETURN_TESTS)
# Packages that support tests (no product code): dropreturn leaves them out.
# It tests each mutant with the tests of every package of the module that
# depends on the mutated one (-importers): internal/oidcdoc has no tests of
# its own, the core's exercise it.
RETURN_SKIP='(^|/)(ledgertest|redistest|fixture)/'
# The go test -timeout of each mutant: several times the longest test run
# (redisstore's, about 110 s), and short enough that a mutant that loops
# for ever (mayHaveCaseVariants without its return) costs little.
RETURN_TIMEOUT=2m
# The modules gremlins mutates, and what it leaves out of each: from the
# core, the nested modules (gremlins walks into them) and ledgertest; from
# redisstore, its test server.
GREMLINS_MODULES=(. backchannel redisstore)
declare -A GREMLINS_EXCLUDE=(
	[.]='^(adapters|backchannel|redisstore|e2e|examples|tools|ledgertest)/'
	[backchannel]=''
	[redisstore]='^redistest/'
)
# The files gremlins mutates in CI mode, with one worker: where the core
# refuses logout requests, cross-site posts and front-channel logouts,
# and where backchannel fetches and picks signing keys. Each mutant runs
# the whole test suite of its package, 5 to 10 seconds, so that about 80
# mutants take 5 to 6 minutes after the return deletions (about 15
# minutes on 2 busy cores). A module without CI files (redisstore, whose
# suite takes about 2 minutes per mutant) gets gremlins in full mode only.
declare -A GREMLINS_CI_FILES=(
	[.]='handler.go crosssite.go frontchannel.go'
	[backchannel]='jwks.go'
)

# The least test efficacy of gremlins, in percent, for each module.
MIN_EFFICACY=90

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()
figures=()

# build_tools builds dropreturn and gremlins, at the versions that
# tools/mutate/go.mod pins, into $tmp.
build_tools() {
	go -C tools/mutate build -o "$tmp/dropreturn" ./cmd/dropreturn &&
		go -C tools/mutate build -o "$tmp/gremlins" github.com/go-gremlins/gremlins/cmd/gremlins
}

# run_returns runs dropreturn over RETURN_MODULES and keeps its summary
# lines for the figures.
run_returns() {
	echo "==> dropreturn: early returns after a failure or refusal"
	local status=0
	"$tmp/dropreturn" -allow tools/mutate/survivors.txt -skip "$RETURN_SKIP" -timeout "$RETURN_TIMEOUT" -importers \
		"${RETURN_MODULES[@]}" | tee "$tmp/dropreturn.log" || status=1
	while IFS= read -r line; do
		figures+=("returns  ${line#module }")
	done < <(grep '^module ' "$tmp/dropreturn.log")
	[ $status -eq 0 ] || failed+=("dropreturn")
}

# go_files DIR prints the Go files of DIR that are not tests, relative to
# DIR, nested modules included.
go_files() {
	find "$1" -name node_modules -prune -o -name '*.go' ! -name '*_test.go' -printf '%P\n' | sort
}

# only_files DIR FILE... prints the gremlins arguments that leave out every
# Go file of DIR but FILEs.
only_files() {
	local dir=$1 file keep
	shift
	while IFS= read -r file; do
		keep=false
		for k in "$@"; do [ "$file" = "$k" ] && keep=true; done
		$keep || printf -- '-E\n^%s$\n' "${file//./\\.}"
	done < <(go_files "$dir")
}

# absolute_modfile DIR OUT writes to OUT a copy of DIR's go.mod and go.sum
# whose relative replace paths are made absolute (and clean: a path with ..
# in it is refused as ambiguous). gremlins tests each mutant in a copy of
# the module elsewhere, where ../ is not the core.
absolute_modfile() {
	local dir=$1 out=$2 line
	mkdir -p "$out"
	while IFS= read -r line; do
		if [[ $line =~ ^(.*=\>[[:space:]]+)(\.\.?(/[^[:space:]]*)?)[[:space:]]*$ ]]; then
			line="${BASH_REMATCH[1]}$(cd "$dir/${BASH_REMATCH[2]}" && pwd)"
		fi
		printf '%s\n' "$line"
	done <"$dir/go.mod" >"$out/go.mod"
	cp "$dir/go.sum" "$out/go.sum"
}

# run_gremlins DIR runs gremlins on the module in DIR (on its CI files in
# CI mode) and keeps its figures.
run_gremlins() {
	local dir=$1 name=${1//\//-} workers=2
	local args=(unleash --timeout-coefficient 10)
	[ -n "${GREMLINS_EXCLUDE[$dir]}" ] && args+=(-E "${GREMLINS_EXCLUDE[$dir]}")
	if [ "$mode" = ci ]; then
		workers=1
		# shellcheck disable=SC2086 # the file list splits on spaces
		mapfile -t -O ${#args[@]} args < <(only_files "$dir" ${GREMLINS_CI_FILES[$dir]})
	fi
	args+=(--workers "$workers")
	# -count=1: gremlins times the coverage run to set each mutant's
	# timeout, and a cached run would make that timeout a few milliseconds.
	local flags="${GOFLAGS:-} -count=1"
	if grep -qE '=> \.\.?(/|$)' "$dir/go.mod"; then
		absolute_modfile "$dir" "$tmp/mod-$name"
		flags+=" -modfile=$tmp/mod-$name/go.mod"
	fi
	echo "==> gremlins in $dir ($mode mode, $workers workers)"
	local start=$SECONDS status=0
	(cd "$dir" && GOFLAGS="$flags" "$tmp/gremlins" "${args[@]}") >"$tmp/gremlins-$name.log" 2>&1 || status=1
	grep -vE '^ *(KILLED|NOT COVERED) ' "$tmp/gremlins-$name.log"
	figures+=("gremlins $dir: $(gremlins_figures "$tmp/gremlins-$name.log"); $((SECONDS - start))s")
	efficacy_ok "$tmp/gremlins-$name.log" || status=1
	[ $status -eq 0 ] || failed+=("gremlins in $dir")
}

# efficacy_ok LOG reports whether a gremlins run killed at least
# MIN_EFFICACY percent of the mutants that it killed or that lived.
efficacy_ok() {
	awk -v min="$MIN_EFFICACY" '
		/^Killed: / { gsub(",", ""); killed = $2; lived = $4; found = 1 }
		END { exit !(found && killed * 100 >= min * (killed + lived)) }' "$1"
}

# gremlins_figures LOG prints the counts and the efficacy of a gremlins
# run on one line.
gremlins_figures() {
	awk '
		/^Killed: / { gsub(",", ""); killed = $2; lived = $4; notcovered = $7 }
		/^Timed out: / { gsub(",", ""); timedout = $3; notviable = $6 }
		/^Test efficacy: / { efficacy = $3 }
		END {
			if (efficacy == "") { print "no result"; exit }
			printf "%d killed, %d lived, %d timed out, %d not viable, %d not covered; efficacy %s",
				killed, lived, timedout, notviable, notcovered, efficacy
		}' "$1"
}

start=$SECONDS
if ! build_tools; then
	echo "FAILED: building dropreturn and gremlins"
	exit 1
fi
$returns && run_returns
if $gremlins; then
	for dir in "${GREMLINS_MODULES[@]}"; do
		if [ "$mode" = ci ] && [ -z "${GREMLINS_CI_FILES[$dir]:-}" ]; then
			echo "==> gremlins in $dir: full mode only"
			continue
		fi
		run_gremlins "$dir"
	done
fi

echo "==> mutation testing figures ($mode mode, $((SECONDS - start))s)"
printf '%s\n' "${figures[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "mutation testing failed: ${failed[*]}"
	exit 1
fi
echo "mutation testing passed"
