#!/usr/bin/env bash
# Whole-process latency of qrun: what a user (or a SLURM array of them)
# waits for per invocation, start-up included.
#
#   bench/run.sh            # 200 runs per command
#   RUNS=500 WARMUP=20 bench/run.sh
#   QRUN_BIN=/path/to/qrun bench/run.sh   # measure a given binary, no build
#
# Builds qrun into a temporary folder, runs each command RUNS times (after
# WARMUP untimed runs) from an empty working folder (no qrun.yaml: built-in
# vocabulary only), and prints min / median / p90 / p99 / max / mean in ms.
# Timing uses bash's own $EPOCHREALTIME (no process per sample); nothing
# beyond bash, go and coreutils' sort is needed. If hyperfine is installed,
# its figures are printed as well, for comparison.
set -euo pipefail

RUNS=${RUNS:-200}
WARMUP=${WARMUP:-10}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/qrun-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/empty"

if [[ -n "${QRUN_BIN:-}" ]]; then
	bin=$(cd "$(dirname "$QRUN_BIN")" && pwd)/$(basename "$QRUN_BIN")
	built="given (QRUN_BIN)"
else
	bin="$work/qrun"
	(cd "$root" && go build -trimpath -o "$bin" ./cmd/qrun)
	built="built from $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$root" && git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
fi

# Bash ≥ 5 has $EPOCHREALTIME; older shells fall back to date(1), whose own
# fork is then part of every sample.
if [[ -n "${EPOCHREALTIME:-}" ]]; then
	clock='bash $EPOCHREALTIME'
else
	clock='date +%s%N (includes a fork per sample)'
fi
now_us() { echo $(($(date +%s%N) / 1000)); }

# measure NAME ARGS...: runs the command, checks it succeeds, prints one
# table row.
measure() {
	local name=$1
	shift
	local i t0 t1 samples=()
	if ! (cd "$work/empty" && "$bin" "$@" >/dev/null); then
		echo "bench: qrun $* failed" >&2
		exit 1
	fi
	for ((i = 0; i < WARMUP; i++)); do
		(cd "$work/empty" && "$bin" "$@" >/dev/null 2>&1)
	done
	cd "$work/empty"
	for ((i = 0; i < RUNS; i++)); do
		if [[ -n "${EPOCHREALTIME:-}" ]]; then
			t0=${EPOCHREALTIME/[.,]/}
			"$bin" "$@" >/dev/null 2>&1
			t1=${EPOCHREALTIME/[.,]/}
		else
			t0=$(now_us)
			"$bin" "$@" >/dev/null 2>&1
			t1=$(now_us)
		fi
		samples+=($((t1 - t0)))
	done
	cd "$root"
	local sorted
	mapfile -t sorted < <(printf '%s\n' "${samples[@]}" | sort -n)
	local n=${#sorted[@]} sum=0 s
	for s in "${sorted[@]}"; do sum=$((sum + s)); done
	# Nearest-rank percentiles: the smallest sample with at least p% of the
	# samples at or below it.
	pct() { local r=$((($1 * n + 99) / 100)); ((r < 1)) && r=1; echo "${sorted[r - 1]}"; }
	local med
	if ((n % 2)); then
		med=${sorted[n / 2]}
	else
		med=$(((sorted[n / 2 - 1] + sorted[n / 2]) / 2))
	fi
	ms() { local h=$((($1 + 5) / 10)); printf '%d.%02d' $((h / 100)) $((h % 100)); }
	printf '%-34s %5d %8s %8s %8s %8s %8s %8s\n' "$name" "$n" \
		"$(ms "${sorted[0]}")" "$(ms "$med")" "$(ms "$(pct 90)")" "$(ms "$(pct 99)")" \
		"$(ms "${sorted[n - 1]}")" "$(ms $((sum / n)))"
}

echo "qrun whole-process latency"
echo "  binary:   $bin, $built, $(($(wc -c <"$bin") / 1024)) KiB"
echo "  go:       $(go version | cut -d' ' -f3-)"
echo "  cpu:      $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || uname -m), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "  clock:    $clock; runs: $RUNS after $WARMUP warm-up runs; times in ms"
echo
printf '%-34s %5s %8s %8s %8s %8s %8s %8s\n' command runs min median p90 p99 max mean
printf '%-34s %5s %8s %8s %8s %8s %8s %8s\n' "$(printf -- '-%.0s' {1..34})" ----- -------- -------- -------- -------- -------- --------
measure "resolve w4a8_int x recipe_match" resolve --format w4a8_int --granularity recipe_match_channel_token
measure "resolve ... --modelopt 0.43" resolve --format w4a8_int --granularity recipe_match_channel_token --modelopt 0.43
measure "vocab list" vocab list
measure "--version (start-up floor)" --version

if command -v hyperfine >/dev/null 2>&1; then
	echo
	echo "hyperfine (for comparison):"
	(cd "$work/empty" && hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
		"$bin resolve --format w4a8_int --granularity recipe_match_channel_token" \
		"$bin vocab list")
fi
