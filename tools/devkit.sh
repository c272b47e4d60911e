#!/usr/bin/env bash
# tools/devkit.sh — what a GPU machine that can install nothing needs to build and check
# tpipe (make devkit), put in .devkit/ (ignored by git): the Debian packages of the
# libraries the build links (.devkit/debs/*.deb, fetched with apt-get download, to be
# unpacked there with dpkg -x into a private prefix by tests/gpu/device-check.sh), and
# MNIST compressed (.devkit/mnist/*.gz, from data/mnist). About 30 MiB in all; nothing is
# fetched again that is there already.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=$root/.devkit
me=devkit.sh
# the -dev packages tools/deps.sh installs, and the libraries they need at run time
pkgs=(zlib1g-dev libjpeg62-turbo-dev libjpeg62-turbo libpng-dev libpng16-16 libfftw3-dev libfftw3-double3
      libfftw3-single3 libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libopenblas0 libgfortran5
      libquadmath0)
mkdir -p "$kit/debs" "$kit/mnist"
missing=()
for p in "${pkgs[@]}"; do
    compgen -G "$kit/debs/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || { echo "$me: needs apt-get (Debian or Ubuntu) to fetch ${missing[*]}" >&2; exit 1; }
    echo "$me: fetching ${missing[*]}" >&2
    (cd "$kit/debs" && apt-get download "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
        { echo "$me: apt-get download failed" >&2; exit 1; }
fi
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -s "$kit/mnist/$f.gz" ] && continue
    if [ -f "$root/data/mnist/$f.gz" ]; then
        cp "$root/data/mnist/$f.gz" "$kit/mnist/"
    elif [ -f "$root/data/mnist/$f" ]; then
        gzip -9c "$root/data/mnist/$f" >"$kit/mnist/$f.gz.tmp" && mv "$kit/mnist/$f.gz.tmp" "$kit/mnist/$f.gz"
    else
        echo "$me: no $f in data/mnist (make data)" >&2
        exit 1
    fi
done
du -sh "$kit" | sed "s|^|$me: |; s|$root/||" >&2
