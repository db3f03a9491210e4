#!/bin/sh
# Installs, on Debian 12, the packages libautoenc needs to build, run its tests
# and its demo, and build its documentation. Does nothing if all are present.
# Runs as root, or through sudo otherwise. Extra package names may be given
# as arguments (e.g. valgrind). With --ci first, also what .ci/run needs for the
# dynamic checks: clang and libclang-rt-14-dev (libFuzzer targets), valgrind
# (memcheck) and abigail-tools (abidw/abidiff, the ABI guard). gcc's ASan, UBSan
# and TSan runtimes come with gcc.
set -eu

ci_packages=""
if [ "${1:-}" = "--ci" ]; then
    ci_packages="clang libclang-rt-14-dev valgrind abigail-tools lintian dpkg-dev file"
    shift
fi

packages="cmake gcc g++ libc6-dev make pkg-config binutils libopenblas-dev libcmocka-dev \
doxygen zlib1g-dev libpng-dev dataset-fashion-mnist \
python3 python3-numpy python3-sklearn python3-matplotlib python3-pytest python3-tqdm python3-venv python3-setuptools \
python3-pip openmpi-bin libopenmpi-dev $ci_packages $*"

# Rust: Debian's cargo and rustc, unless a toolchain is already on the PATH (rustup's).
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    packages="$packages cargo rustc"
fi

missing=""
for package in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)
    case "$status" in
        ii*) ;;
        *) missing="$missing $package" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-deps: missing:$missing; run as root or install sudo" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # the list is meant to split into words
$as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $missing
