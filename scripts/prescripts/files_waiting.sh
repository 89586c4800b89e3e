#!/usr/bin/env bash
# Pre-script: wake the agent when a folder holds files waiting to be handled.
#
# Configuration (environment variables, or the defaults just below in a copy of this file):
#   WATCH_DIR        required; the folder to look in (not recursive).
#   PATTERN          optional; a shell glob for the file names, default "*". Hidden files (names starting with a
#                    dot) are only matched by a pattern that starts with a dot.
#   MIN_AGE_SECONDS  optional; count only files last modified at least this many seconds ago, default 0
#                    (useful to skip files still being written).
#
# Wakes when at least one regular file matches; data is {"dir", "count", "files", "truncated"} where "files" lists
# at most 50 names in sorted order and "count" is the full number. A missing folder or bad setting exits with
# code 2 (a script_error) and says why on stderr.
set -euo pipefail

# Configuration: the environment, or fill in the defaults here in a copy of this file.
WATCH_DIR=${WATCH_DIR:-}
PATTERN=${PATTERN:-*}
MIN_AGE_SECONDS=${MIN_AGE_SECONDS:-0}

MAX_LISTED=50

fail() {
    echo "files_waiting: $1" >&2
    exit 2
}

# Print $1 as a JSON string.
json_string() {
    local s=$1 i hex ch escaped
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    s=${s//$'\t'/\\t}
    if [[ $s == *[[:cntrl:]]* ]]; then
        for ((i = 1; i < 32; i++)); do
            printf -v hex '%02x' "$i"
            printf -v ch "\\x$hex"
            printf -v escaped '\\u%04x' "$i"
            s=${s//"$ch"/$escaped}
        done
    fi
    printf '"%s"' "$s"
}

mtime() {
    stat -c %Y -- "$1" 2>/dev/null || stat -f %m -- "$1"
}

[[ -n $WATCH_DIR ]] || fail "set WATCH_DIR to the folder to watch"
[[ -d $WATCH_DIR ]] || fail "no such folder: $WATCH_DIR"
[[ -r $WATCH_DIR && -x $WATCH_DIR ]] || fail "cannot read folder: $WATCH_DIR"
[[ $MIN_AGE_SECONDS =~ ^[0-9]+$ ]] || fail "MIN_AGE_SECONDS must be a whole number of seconds, got '$MIN_AGE_SECONDS'"
MIN_AGE_SECONDS=$((10#$MIN_AGE_SECONDS)) # "08" is eight, not a bad octal number
[[ $PATTERN != */* ]] || fail "PATTERN matches names inside WATCH_DIR and cannot contain '/'"

shopt -s nullglob
now=$(date +%s)
count=0
listed=""
IFS= # the pattern is a single glob: no word splitting of its expansion
for path in "$WATCH_DIR"/$PATTERN; do
    [[ -f $path ]] || continue
    if ((MIN_AGE_SECONDS > 0)); then
        modified=$(mtime "$path") || continue # vanished meanwhile
        ((now - modified >= MIN_AGE_SECONDS)) || continue
    fi
    count=$((count + 1))
    if ((count <= MAX_LISTED)); then
        listed+="${listed:+, }$(json_string "${path##*/}")"
    fi
done
unset IFS

truncated=false
((count > MAX_LISTED)) && truncated=true
data="{\"dir\": $(json_string "$WATCH_DIR"), \"count\": $count, \"files\": [$listed], \"truncated\": $truncated}"
if ((count > 0)); then
    echo "{\"wakeAgent\": true, \"data\": $data}"
else
    echo "{\"wakeAgent\": false, \"data\": $data}"
fi
