# lib.sh — the harness every tests/cli/*.sh sources: a work folder removed on exit, ok/bad
# counting, and guards that turn a check which could silently vanish (an empty value, a NaN, a
# loop over nothing, a command that failed before printing) into a failure.
# usage, at the top of a test:  . "$(dirname "$0")/lib.sh"; t_begin NAME
# and at its end:               t_end
# Every guard returns 1 after counting a failure, so `require_number "x" "$x" || continue` works.

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# t_begin NAME: W is a fresh folder under /tmp, removed when the script exits.
t_begin() {
    W=$(mktemp -d "/tmp/bone-$1.XXXXXX")
    trap 'rm -rf "$W"' EXIT
}

# t_end: the summary line and the exit status. A test that checked nothing fails.
t_end() {
    echo "$pass passed, $fail failed"
    if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then echo "FAIL no check ran"; exit 1; fi
    [ "$fail" -eq 0 ]
}

# t_fatal: stop here (a setup step failed and nothing after it can be checked).
t_fatal() {
    echo "stopping: the checks after this one need what it should have made"
    t_end
    exit 1
}

# run_ok WHAT COMMAND...: the command must exit 0; its stdout goes to $W/out, stderr to $W/err.
run_ok() {
    local what=$1
    shift
    "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    [ "$rc" -eq 0 ] && return 0
    bad "$what: exit $rc: $(head -c 300 "$W/err")"
    return 1
}

# expect_rc RC WHAT COMMAND...: the command exits with RC (stdout in $W/out, stderr in $W/err).
expect_rc() {
    local want=$1 what=$2
    shift 2
    "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$what (exit $rc)"; return 0; fi
    bad "$what: exit $rc, wanted $want; stderr: $(head -c 300 "$W/err")"
    return 1
}

# contains FILE NEEDLE WHAT: the file holds the fixed string.
contains() {
    if grep -qF -- "$2" "$1"; then ok "$3"; return 0; fi
    bad "$3: \"$2\" not in: $(head -c 300 "$1")"
    return 1
}

# case_ NAME EXIT NEEDLE COMMAND...: runs the command in $W with no input, under
# `timeout CASE_TIMEOUT` (60 s unless set: a hang is a failure, not a stuck test); passes when
# it exits EXIT and its stderr holds NEEDLE (any stderr when NEEDLE is empty). Messages show
# the work folder as W.
case_() {
    local name=$1 want=$2 needle=$3
    shift 3
    (cd "$W" && timeout -k 5 "${CASE_TIMEOUT:-60}" "$@") >"$W/out" 2>"$W/err" </dev/null
    local rc=$?
    local msg
    msg=$(sed "s#$W/#W/#g; s#$W#W#g" "$W/err" | head -c 600 | tr '\n' ' ' | sed 's/ *$//')
    if [ "$rc" -eq "$want" ] && { [ -z "$needle" ] || grep -qF -- "$needle" "$W/err"; }; then
        ok "$name: $msg"
    else
        bad "$name: exit $rc (want $want), wanted \"$needle\" in: $msg $(head -c 300 "$W/out")"
    fi
}

# require_nonempty WHAT VALUE
require_nonempty() {
    [ -n "$2" ] && return 0
    bad "$1: empty (the command that should print it failed or printed something else)"
    return 1
}

# require_number WHAT VALUE: a finite decimal number (no nan, inf or empty string).
require_number() {
    if printf '%s' "$2" | grep -Eqx -- '[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?'; then return 0; fi
    bad "$1: \"$2\" is not a finite number"
    return 1
}

# require_at_least WHAT COUNT MIN: e.g. a loop must have run over at least MIN items.
require_at_least() {
    [ "$2" -ge "$3" ] 2>/dev/null && return 0
    bad "$1: $2, expected at least $3"
    return 1
}

# wait_for PID TIMEOUT_S TEST...: polls (no forks per turn when TEST is a shell builtin such as
# `[` or `compgen`) until TEST succeeds; returns 1 when PID ends or the time runs out first.
wait_for() {
    local pid=$1 limit=$2 t0=$SECONDS
    shift 2
    while ! "$@"; do
        kill -0 "$pid" 2>/dev/null || { "$@"; return; }
        [ $((SECONDS - t0)) -ge "$limit" ] && return 1
        sleep 0.005
    done
    return 0
}
