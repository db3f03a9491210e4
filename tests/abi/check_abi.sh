#!/bin/sh
# ABI guard: compares the ABI of a built libautoenc.so with the committed baseline
# tests/abi/libautoenc.abi (written by abidw, Debian package abigail-tools) and fails on
# any incompatible change. Added functions and added enum values are compatible and pass
# (they are listed); a removed or changed function, a changed public struct, enum value or
# parameter type fails.
#
#   tests/abi/check_abi.sh path/to/libautoenc.so            check
#   tests/abi/check_abi.sh --update path/to/libautoenc.so   rewrite the baseline
#
# The library must carry DWARF debug information: build it with
#   cmake -S . -B build-abi -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAE_BUILD_TESTS=OFF \
#         -DAE_BUILD_EXAMPLES=OFF -DAE_BUILD_BENCH=OFF -DAE_BUILD_DOCS=OFF
#   cmake --build build-abi --target autoenc
#
# When to refresh the baseline: when a release adds functions or enum values (the check
# passes and lists them), refresh it so that later checks guard the new ABI too. Check
# first, then update from the same build, and commit tests/abi/libautoenc.abi with the
# change. An incompatible change is never "refreshed away": it needs a new
# AE_VERSION_MAJOR (a new SONAME), and only then a new baseline.
#
# struct ae_model is opaque (defined in src/internal.h; callers only hold pointers), so its
# layout is excluded by abidiff.suppr; so is growth at the end of ae_fit_report and
# ae_progress, which carry their size in their first field.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
baseline="$here/libautoenc.abi"
suppressions="$here/abidiff.suppr"

update=0
if [ "${1:-}" = "--update" ]; then
    update=1
    shift
fi
if [ $# -ne 1 ]; then
    echo "usage: $0 [--update] path/to/libautoenc.so" >&2
    exit 2
fi
library=$1

for tool in abidw abidiff readelf; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "check_abi: $tool not found (install abigail-tools and binutils)" >&2
        exit 2
    fi
done
if [ ! -f "$library" ]; then
    echo "check_abi: no library at $library" >&2
    exit 2
fi
if ! readelf -S "$library" | grep -q '\.debug_info'; then
    echo "check_abi: $library has no debug information; build it with" \
         "-DCMAKE_BUILD_TYPE=RelWithDebInfo (or Debug)" >&2
    exit 2
fi

# Locations as bare file names and no build paths, so the baseline does not depend on
# where the tree was built.
write_abi() {
    abidw --headers-dir "$root/include" --no-corpus-path --short-locs --no-comp-dir-path \
          --drop-undefined-syms --type-id-style hash --out-file "$2" "$1"
}

if [ "$update" -eq 1 ]; then
    write_abi "$library" "$baseline"
    echo "check_abi: wrote $baseline from $library"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
write_abi "$library" "$tmp/current.abi"

set +e
abidiff --suppressions "$suppressions" "$baseline" "$tmp/current.abi" >"$tmp/report" 2>&1
status=$?
set -e
cat "$tmp/report"

# abidiff's status is a bit field: 1 error, 2 usage error, 4 some ABI change,
# 8 an incompatible change. Bit 4 alone also covers additions, so the summary lines
# decide: anything removed or changed fails, additions pass.
if [ $((status & 3)) -ne 0 ]; then
    echo "check_abi: abidiff failed (status $status)" >&2
    exit 2
fi
broken=0
if [ $((status & 8)) -ne 0 ]; then
    broken=1
fi
# e.g. "Functions changes summary: 0 Removed, 1 Changed (30 filtered out), 5 Added functions"
if grep -E 'changes summary: *[0-9]+ Removed' "$tmp/report" |
   grep -Eq '([1-9][0-9]* Removed|[1-9][0-9]* Changed)'; then
    broken=1
fi
if [ "$broken" -ne 0 ]; then
    echo "check_abi: INCOMPATIBLE ABI change against $baseline (see above)" >&2
    exit 1
fi
if [ $((status & 4)) -ne 0 ]; then
    echo "check_abi: compatible additions only; refresh the baseline when releasing them" \
         "($0 --update $library)"
else
    echo "check_abi: ABI identical to the baseline"
fi
