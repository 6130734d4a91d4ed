#!/usr/bin/env bash
# Makes docs/gallery/report.png, the README's screenshot of qrun report: a
# 4 formats x 9 granularities x 2 models sweep planned in a throwaway
# project (combinations qrun refuses are skipped and show as "no run"),
# made-up wikitext perplexities marked on most runs (one failed, two still
# running, the rest planned), the report against fp8/default, and a headless
# Chromium screenshot of it.
#   docs/gallery/make.sh            # from the repository root
# Needs go and chromium (CHROMIUM=/path/to/chrome to pick another).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/docs/gallery"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/qrun" "$repo/cmd/qrun"
mkdir "$work/qwen3-sweep"
cd "$work/qwen3-sweep"
export SOURCE_DATE_EPOCH=1767225600 # 2026-01-01: the same picture every time
q() { "$work/qrun" "$@"; }
q init >/dev/null 2>&1
q plan --skip-invalid --model Qwen/Qwen3-8B,Qwen/Qwen3-4B \
  --format fp8,int8,nvfp4,int4_awq \
  --granularity default,w_group64,w_group128,w_per_out_channel,w_per_tensor,w_per_in_channel,a_per_tensor_static,a_per_token_dynamic,recipe_match_channel_token \
  >/dev/null 2>&1
# A made-up perplexity: the model's, plus what the format and the
# granularity cost, plus a little noise from the run id.
q runs --limit 0 | sort -k5,6 | while IFS=$'\t' read -r id _ _ model format gran _; do
  case "$id" in
    0bae*) q mark "$id" failed >/dev/null 2>&1; continue ;;
    12cc* | 5efe*) q mark "$id" running >/dev/null 2>&1; continue ;;
    05f0*) continue ;; # still planned
  esac
  ppl=$(awk -v m="$model" -v f="$format" -v g="$gran" -v id="$id" 'BEGIN {
    v = (m ~ /8B/) ? 9.72 : 11.31
    split("fp8 0.04 int8 0.11 nvfp4 0.46 int4_awq 0.33", a, " "); for (i = 1; i < 8; i += 2) if (a[i] == f) v += a[i+1]
    split("default 0 w_group64 0.02 w_group128 0.05 w_per_out_channel 0.09 w_per_tensor 0.41 w_per_in_channel 0.27 a_per_tensor_static 0.13 a_per_token_dynamic 0.03 recipe_match_channel_token 0.07", b, " ")
    for (i = 1; i < 18; i += 2) if (b[i] == g) v += b[i+1]
    v += (index("0123456789abcdef", substr(id, 1, 1)) - 8) / 400
    printf "%.3f", v }')
  q mark "$id" succeeded --metric wikitext_ppl="$ppl" >/dev/null 2>&1
done
time q report --metric wikitext_ppl --lower-is-better --baseline fp8/default -o sweep.html
ls -l sweep.html
"${CHROMIUM:-chromium}" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
  --screenshot="$work/report.png" --window-size=1400,1000 "file://$work/qwen3-sweep/sweep.html" 2>/dev/null
cp "$work/report.png" "$out/report.png"
ls -l "$out/report.png"
