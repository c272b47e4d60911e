#!/usr/bin/env bash
# tools/deps.sh — make sure the libraries tpipe builds against are installed (make deps).
#
#   tools/deps.sh           check; install what is missing (Debian/Ubuntu: apt-get, via sudo
#                           when not root); silent and fast when everything is there
#   tools/deps.sh --list    print the Debian package names, one per line
#   TP_DEPS_EXTRA="libhdf5-dev ..." tools/deps.sh   also ensure these (treated as required)
#
# Required: zlib, libjpeg-turbo, OpenBLAS, libpng, FFTW 3 (-dev packages). Optional:
# python3-numpy (one test uses it), libhdf5-dev (Keras .h5 weights in wimport), and
# openmpi-bin with libopenmpi-dev (mpirun; mpicc builds libtpipe-mpi.so): installed when
# possible, a warning otherwise.
# Without apt-get it checks that the headers compile (CC, CPPFLAGS honoured) and otherwise
# prints what to install. Exit status: 0 ready, 1 something required is missing.
set -euo pipefail

me=deps.sh
# "a|b" means: any of these satisfies it; the first one apt knows is installed
# (Debian ships libjpeg62-turbo-dev, Ubuntu libjpeg-turbo8-dev).
required=(zlib1g-dev "libjpeg62-turbo-dev|libjpeg-turbo8-dev|libjpeg-dev" libopenblas-dev libpng-dev libfftw3-dev)
read -r -a extra <<<"${TP_DEPS_EXTRA:-}"
required+=(${extra[@]+"${extra[@]}"})
optional=(python3-numpy libhdf5-dev openmpi-bin libopenmpi-dev)

case "${1:-}" in
    --list) for p in "${required[@]}" "${optional[@]}"; do echo "${p%%|*}"; done; exit 0 ;;
    -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
    "") ;;
    *) echo "$me: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

# installed ALT: true when any alternative of "a|b|c" is installed
installed() {
    local p
    for p in ${1//|/ }; do
        case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" in *" ok installed") return 0 ;; esac
    done
    return 1
}

# No dpkg/apt-get: compile-check the headers, or say what to install.
no_apt() {
    local h bad=()
    for h in zlib.h jpeglib.h cblas.h png.h fftw3.h; do
        # shellcheck disable=SC2086  # CPPFLAGS may hold several flags
        echo "#include <$h>" | "${CC:-cc}" ${CPPFLAGS:-} -E - >/dev/null 2>&1 || bad+=("$h")
    done
    [ ${#bad[@]} -eq 0 ] && return 0
    echo "$me: headers not found: ${bad[*]}" >&2
    echo "$me: tpipe needs zlib, libjpeg-turbo, OpenBLAS, libpng and FFTW 3 (headers and libraries):" >&2
    echo "$me:   Debian/Ubuntu: apt-get install zlib1g-dev libjpeg62-turbo-dev libopenblas-dev libpng-dev libfftw3-dev python3-numpy" >&2
    echo "$me:   Fedora/RHEL:   dnf install zlib-devel libjpeg-turbo-devel openblas-devel libpng-devel fftw-devel python3-numpy" >&2
    echo "$me:   macOS:         brew install zlib jpeg-turbo openblas libpng fftw numpy  (then set CPPFLAGS/LDFLAGS to their prefixes)" >&2
    exit 1
}

if ! command -v dpkg-query >/dev/null 2>&1; then no_apt; exit 0; fi

missing=() opt_missing=()
for p in "${required[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${optional[@]}"; do installed "$p" || opt_missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && [ ${#opt_missing[@]} -eq 0 ] && exit 0   # fast path

if ! command -v apt-get >/dev/null 2>&1; then
    if [ ${#missing[@]} -gt 0 ]; then no_apt; fi
    [ ${#opt_missing[@]} -eq 0 ] || echo "$me: optional, not installed: ${opt_missing[*]}" >&2
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then sudo=()
elif command -v sudo >/dev/null 2>&1; then sudo=(sudo)
else
    all=("${missing[@]}" "${opt_missing[@]}")
    echo "$me: missing: ${all[*]}; not root and no sudo: as root run: apt-get install ${all[*]}" >&2
    exit 1
fi

# apt-get update at most once: before installing when the lists are empty, else after a failure.
updated=0
apt_update() { [ $updated -eq 1 ] && return 0; updated=1; "${sudo[@]}" apt-get update -q || true; }
apt_install() {   # env, not a prefix assignment: sudo would drop DEBIAN_FRONTEND
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}
# resolve "a|b" to the first alternative apt has a candidate for (after update, if any)
resolve() {
    local p
    for p in ${1//|/ }; do
        apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]' && { echo "$p"; return; }
    done
    echo "${1%%|*}"
}
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then apt_update; fi

# ensure PKGS: apt-get install, and once more after an apt-get update if that fails
ensure() { apt_install "$@" || { [ $updated -eq 0 ] && apt_update && apt_install "$@"; }; }

pkgs=(); for p in "${missing[@]}"; do pkgs+=("$(resolve "$p")"); done
all=("${pkgs[@]}" "${opt_missing[@]}")
echo "$me: installing: ${all[*]}"
if [ ${#pkgs[@]} -gt 0 ] && ! ensure "${pkgs[@]}"; then
    echo "$me: could not install: ${pkgs[*]}" >&2; exit 1
fi
if [ ${#opt_missing[@]} -gt 0 ] && ! ensure "${opt_missing[@]}"; then
    echo "$me: warning: could not install optional ${opt_missing[*]} (the test that needs it will skip)" >&2
fi
