#!/usr/bin/env bash
# test_help_examples.sh — every example that `bone help CMD` (and `bone --help`) prints runs as
# written in a fresh clone: each command's example block is run, line by line, in its own empty
# directory holding only what a clone has (models/default, data/, configs/; the block may
# create more, e.g. a run that a later line merges). A line that fails, or a help text without
# an example, fails the test.
# Excluded: convert (its example needs llama2.c's stories15M.bin + tokenizer.bin, which are
# downloads; tests/convert covers the command on generated checkpoints).
# usage: test_help_examples.sh BONE SOURCE_DIR
set -u
BONE=$(realpath "$1")
SRC=$(realpath "$2")
. "$SRC/tests/cli/lib.sh"
t_begin help
EXCLUDED=" convert "

# the example lines of a help text: after a line starting "example" (or "first steps"), up to a
# blank line; lines starting with two spaces; a trailing backslash continues the line
examples() {
    awk '/^(example|first steps)/ { on = 1; next } /^$/ { on = 0 } on && /^  / { print }' |
        sed -e 's/^  *//' | awk '{ if (sub(/\\$/, "")) { acc = acc $0; next } print acc $0; acc = "" }' |
        grep -E '^(bone|head) ' || true
}

run_block() { # NAME, the lines on stdin
    local name=$1 d="$W/$1" n=0
    mkdir -p "$d/models"
    ln -s "$SRC/models/default" "$d/models/default"
    ln -s "$SRC/data" "$d/data"
    ln -s "$SRC/configs" "$d/configs"
    while IFS= read -r line; do
        n=$((n + 1))
        # `bone` in the example is the binary under test
        if (cd "$d" && bone() { "$BONE" "$@"; } && eval "$line") >"$d/out.$n" 2>&1 </dev/null; then
            ok "$name: $line"
        else
            bad "$name: $line"
            tail -5 "$d/out.$n"
        fi
    done
    [ "$n" -gt 0 ] || bad "$name: no example in its help text"
}

run_block top < <("$BONE" --help | examples)
cmds=$("$BONE" --help | awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')
[ -n "$cmds" ] || bad "no commands listed by bone --help"
for c in $cmds; do
    case "$EXCLUDED" in *" $c "*) echo "skip $c (excluded: see the header)"; continue ;; esac
    run_block "$c" < <("$BONE" help "$c" | examples)
done
# no example names a path that a fresh clone lacks and the example does not create
if "$BONE" help eval | grep -q "BONE.md\|FORMATS.md" && ! "$BONE" help eval | grep -q "docs/FORMATS.md"; then
    bad "bone help eval cites a document outside docs/"
fi
t_end
