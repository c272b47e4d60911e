#!/bin/sh
# tpipe — the front command: `tpipe PROGRAM ARGS...` runs one of tpipe's programs, which
# live outside PATH (PREFIX/libexec/tpipe) so that names such as split and resize do not
# shadow the system's. make install writes the real folder and version in place of the
# placeholders below.
libexec='@LIBEXEC@'
version='@VERSION@'

usage() {
    echo "Usage: tpipe PROGRAM [ARGS...]"
    echo "Runs the tpipe program PROGRAM (from $libexec) with ARGS; 'tpipe PROGRAM --help'"
    echo "describes each one."
    echo
    echo "Options:"
    echo "   -h, --help                 show this help and the programs, and exit"
    echo "       --version              show the version and exit"
    echo
    echo "Programs:"
    for p in "$libexec"/*; do
        [ -f "$p" ] && [ -x "$p" ] && [ "${p##*/}" != tpipe ] && echo "  ${p##*/}"
    done
}

case "${1-}" in
"" | -h | --help) usage; exit 0 ;;
--version) echo "tpipe (tpipe) $version"; exit 0 ;;
-*) echo "tpipe: unknown option '$1' (see 'tpipe --help')" >&2; exit 2 ;;
esac
prog=$1
shift
case $prog in */* | tpipe) echo "tpipe: no program '$prog' (see 'tpipe --help')" >&2; exit 2 ;; esac
[ -x "$libexec/$prog" ] || { echo "tpipe: no program '$prog' (see 'tpipe --help')" >&2; exit 2; }
exec "$libexec/$prog" "$@"
