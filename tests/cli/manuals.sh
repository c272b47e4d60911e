# manuals: every program (tools/NAME.c, and the tpipe front from tools/tpipe.sh) has its
# manual tools/NAME.1, and the page's OPTIONS items are exactly the options --help lists,
# with the same short form and argument name; each page has the required sections, names
# itself as installed (tpipe-NAME, by make install), has an example that runs the program,
# and renders without a groff warning within 80 columns. No page is left without its
# program, and tpipe(1) refers to every program's page. TOOLS (default: the source tree's
# tools/) points elsewhere to try the test on altered copies.
. "$TESTS/cli/lib.sh"
TOOLS=${TOOLS:-$ROOT/tools}
errors=0
bad() {
    echo "FAIL: $*" >&2
    errors=$((errors + 1))
}

# help_opts < HELP: one line per option of a --help text, from its "Options:" block (up
# to the next blank line): "LONG<TAB>SIGNATURE<TAB>REST<TAB>INDENT". SIGNATURE is the
# option column, e.g. "-s, --seed N". Where the column overflows into the description (one
# space between them, not two), SIGNATURE is "?" and REST holds the line from the option
# on: the page's signature must then be a prefix of REST that reaches the description
# column, given in a last line "#col<TAB>N" (the column where the descriptions start).
help_opts() {
    awk '
    /^Options:/ { inside = 1; next }
    inside && /^[ \t]*$/ { inside = 0 }
    inside && /^[ \t]+-/ {
        match($0, /^[ \t]+/)
        indent = RLENGTH
        line = substr($0, indent + 1)
        if (!match(line, /--[A-Za-z0-9][A-Za-z0-9-]*/)) { print "?\t?\t" line "\t" indent; next }
        long = substr(line, RSTART, RLENGTH)
        if (match(line, /[ \t][ \t]+/)) {
            print long "\t" substr(line, 1, RSTART - 1) "\t\t" indent
            if (indent + RSTART - 1 + RLENGTH > col) col = indent + RSTART - 1 + RLENGTH
        } else print long "\t?\t" line "\t" indent
    }
    END { print "#col\t" col }'
}

# page_opts PAGE: one line per .TP item of the OPTIONS section, "LONG<TAB>SIGNATURE", with
# roff escapes removed (\fB, \fI, \fR, \fP, \-, \&, quotes of .B/.BI/.BR forms); an item
# that is not an option gives "?<TAB>ITEM" so that it is reported.
page_opts() {
    awk '
    function plain(s,    out, n, i, a, alt) {
        if (s ~ /^\.(B|I|BI|IB|BR|RB|IR|RI|SM)[ \t]/) {
            alt = (s !~ /^\.(B|I|SM)[ \t]/)
            sub(/^\.[A-Z]+[ \t]+/, "", s)
            n = 0
            while (length(s)) {
                if (substr(s, 1, 1) == "\"") { match(s, /^"[^"]*"?/); a[++n] = substr(s, 2, RLENGTH - 2); if (substr(s, RLENGTH, 1) != "\"") a[n] = substr(s, 2); s = substr(s, RLENGTH + 1) }
                else { match(s, /^[^ \t]+/); a[++n] = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1) }
                sub(/^[ \t]+/, "", s)
            }
            out = ""
            for (i = 1; i <= n; i++) out = out (i > 1 && !alt ? " " : "") a[i]
            s = out
        }
        gsub(/\\f(\[[^]]*\]|\(..|.)/, "", s)
        gsub(/\\-/, "-", s); gsub(/\\&/, "", s); gsub(/\\[ ~]/, " ", s); gsub(/\\e/, "\\", s)
        gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
        return s
    }
    /^\.SH/ { inside = ($0 ~ /^\.SH[ \t]+"?OPTIONS"?[ \t]*$/); next }
    inside && /^\.TP/ { item = 1; next }
    inside && item && /^\.(PD|IP|sp)/ { next }
    inside && item {
        item = 0
        s = plain($0)
        if (s !~ /^-/ || !match(s, /--[A-Za-z0-9][A-Za-z0-9-]*/)) { print "?\t" s; next }
        print substr(s, RSTART, RLENGTH) "\t" s
    }' "$1"
}

# The programs: every tools/NAME.c, and tpipe.
progs=$(cd "$TOOLS" && for f in *.c; do echo "${f%.c}"; done)
[ -f "$TOOLS/tpipe.sh" ] && progs="$progs tpipe"
nprog=0
for name in $progs; do
    nprog=$((nprog + 1))
    page=$TOOLS/$name.1
    [ -f "$page" ] || { bad "$name has no manual: tools/$name.1 is missing"; continue; }
    [ -x "$BIN/$name" ] || { bad "$name is not built in $BIN"; continue; }
    "$BIN/$name" --help >"$T/help" 2>&1 || { bad "$name --help exited $?"; continue; }
    help_opts <"$T/help" | sort >"$T/h"
    col=$(sed -n 's/^#col\t//p' "$T/h")
    sed -i '/^#col\t/d' "$T/h"
    page_opts "$page" | sort >"$T/p"

    # No false pass: both sides must yield options, at least --help and --version, and the
    # help text must hold no option line that the extraction missed.
    nh=$(wc -l <"$T/h")
    np=$(wc -l <"$T/p")
    raw=$(sed -n '/^Options:/,/^[ \t]*$/p' "$T/help" | grep -cE '^[ \t]+-')
    [ "$nh" -ge 2 ] && [ "$nh" = "$raw" ] || bad "$name --help: read $nh options of $raw option lines"
    for o in --help --version; do
        cut -f1 "$T/h" | grep -qx -- "$o" || bad "$name --help: no $o line found"
    done
    [ "$np" -ge 2 ] || bad "$name.1: only $np option items found in its OPTIONS section"
    other=$(awk -F'\t' '$1 == "?" { print "    " $2 }' "$T/p")
    [ -z "$other" ] || bad "$name.1: OPTIONS items that are no option (write them as \\fB\\-\\-name\\fR):
$other"
    dup=$(cut -f1 "$T/p" | grep -v '^?$' | uniq -d)
    [ -z "$dup" ] && dup=$(cut -f1 "$T/h" | uniq -d)
    [ -z "$dup" ] || bad "$name: option listed twice: $dup"

    # Both directions, by long name, then the signature (short form and argument name).
    diffs=$(awk -F'\t' -v col="$col" '
        NR == FNR { if ($1 != "?") { hs[$1] = $2; hr[$1] = $3; hi[$1] = $4 } next }
        $1 != "?" { ps[$1] = $2 }
        END {
            for (o in hs) if (!(o in ps)) print "in --help but not in the page: " (hs[o] == "?" ? o : hs[o])
            for (o in ps) if (!(o in hs)) print "in the page but not in --help: " ps[o]
            for (o in ps) if (o in hs) {
                if (hs[o] == "?") {
                    if (index(hr[o] " ", ps[o] " ") != 1 || hi[o] + length(ps[o]) + 1 < col)
                        print "page has \"" ps[o] "\", --help \"" hr[o] "\""
                }
                else if (hs[o] != ps[o]) print "page has \"" ps[o] "\", --help \"" hs[o] "\""
            }
        }' "$T/h" "$T/p" | sort)
    [ -z "$diffs" ] || bad "$name.1 and '$name --help' disagree:
$(echo "$diffs" | sed 's/^/    /')"

    # Sections, title and NAME line as installed: tpipe-NAME(1), tpipe(1) for the front.
    inst=tpipe-$name
    [ "$name" = tpipe ] && inst=tpipe
    upper=$(echo "$inst" | tr a-z A-Z)
    sections=$(sed -n 's/^\.SH[ \t]*//p' "$page" | tr -d '"')
    for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
        echo "$sections" | grep -qx "$s" || bad "$name.1 has no $s section"
    done
    head -n 20 "$page" | grep -qE "^\.TH \"?$upper\"? 1 " || bad "$name.1: its .TH line does not name $upper 1"
    want="$(echo "$inst" | sed 's/-/\\-/g') \- "
    line=$(awk '/^\.SH/ { inside = ($0 ~ /^\.SH[ \t]+"?NAME"?[ \t]*$/); next } inside && NF { print; exit }' "$page")
    case $line in "$want"?*) ;; *) bad "$name.1: the NAME section says '$line', not '$want...'" ;; esac
    # the page's examples run this program
    awk '/^\.SH/ { inside = ($0 ~ /EXAMPLES/); next } inside' "$page" | grep -qw -- "$name" ||
        bad "$name.1: no example runs $name"
done
[ "$nprog" -ge 10 ] || bad "only $nprog programs found in $TOOLS"

# No page without its program.
for page in "$TOOLS"/*.1; do
    [ -e "$page" ] || continue
    name=$(basename "$page" .1)
    [ -f "$TOOLS/$name.c" ] || [ "$name" = tpipe ] || bad "tools/$name.1 has no program tools/$name.c"
done

# tpipe(1) refers to every program's page.
if [ -f "$TOOLS/tpipe.1" ]; then
    for name in $progs; do
        [ "$name" = tpipe ] && continue
        grep -qE "^\.BR tpipe\\\\-$name \(1\)" "$TOOLS/tpipe.1" || bad "tpipe.1 does not refer to tpipe-$name(1)"
    done
fi

# Every page renders without a warning (groff's -ww: all warnings) and within 80 columns,
# where groff exists.
if command -v groff >/dev/null; then
    for page in "$TOOLS"/*.1; do
        [ -e "$page" ] || continue
        # (tr drops UTF-8 continuation bytes, so that awk counts characters)
        wide=$(LC_ALL=C groff -man -ww -Tutf8 -P-cbou "$page" 2>"$T/warn" | tr -d '\200-\277' |
            awk 'length > 80 { print "    " $0 }')
        [ -s "$T/warn" ] && bad "$(basename "$page"): groff warns: $(cat "$T/warn")"
        [ -z "$wide" ] || bad "$(basename "$page"): lines wider than 80 columns:
$wide"
    done
else
    echo "note: groff not found; rendering not checked" >&2
fi

[ "$errors" = 0 ] || { echo "$errors problems" >&2; exit 1; }
exit 0
