#!/usr/bin/env bash
# bench/gobench.sh: run the Go benchmarks into a file benchstat can compare.
#
#   bash bench/gobench.sh                      # -count 10, every package
#   bash bench/gobench.sh -count 20 -o new.txt ./dnsfilter/...
#   bash bench/gobench.sh -bench Match         # only benchmarks matching a regexp
#
# Compare two runs (see bench/README.md):
#   go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt
set -euo pipefail

count=10
out=
bench=.
pkgs=()
while [ $# -gt 0 ]; do
  case $1 in
    -count | --count)
      [ $# -ge 2 ] || { echo "gobench.sh: $1 needs a number" >&2; exit 2; }
      count=$2; shift 2 ;;
    -o | --out)
      [ $# -ge 2 ] || { echo "gobench.sh: $1 needs a file name" >&2; exit 2; }
      out=$2; shift 2 ;;
    -bench | --bench)
      [ $# -ge 2 ] || { echo "gobench.sh: $1 needs a regexp" >&2; exit 2; }
      bench=$2; shift 2 ;;
    -h | --help)
      sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*)
      echo "gobench.sh: unknown flag '$1' (want -count N, -o FILE, -bench REGEXP, then packages)" >&2; exit 2 ;;
    *)
      pkgs+=("$1"); shift ;;
  esac
done
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "gobench.sh: -count '$count': want a whole number, like 10" >&2; exit 2; }
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
if [ -z "$out" ]; then
  rev=$(git rev-parse --short HEAD 2>/dev/null || echo nogit)
  git diff --quiet HEAD 2>/dev/null || rev=$rev-changed
  out=${TMPDIR:-/tmp}/nocontact-gobench-$rev-$(date -u +%Y%m%dT%H%M%SZ).txt
fi

# Unit tests are skipped (-run '^$'); benchmarks report allocations.
go test -run '^$' -bench "$bench" -benchmem -count "$count" "${pkgs[@]}" | tee "$out"
echo "gobench.sh: results in $out" >&2
