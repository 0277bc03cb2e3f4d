# mailcert apply: the host side of `mailcert fix` — lock, switch, restore — in POSIX sh + coreutils.
# The switch does not depend on the SSH session: `switch` stores the payload and starts a detached worker
# (setsid nohup, ignoring HUP/INT/TERM) that backs up, writes, validates, reloads, and on ANY failure
# restores every file byte-identical and reloads again; it always ends with a status file.
# Usage: sh -c "$THIS_SCRIPT" mailcert-apply ACTION STATE_DIR [RUN-ID [HOST [ARG]]]
#   hold STATE RUN              take the host lock for RUN and keep it while stdin stays open (the SSH
#                               channel); prints "locked", "resumed" or "taken-over OTHER"; another live run's
#                               lock: exit 4 (busy), "busy OTHER PID SINCE" on stderr
#   switch STATE RUN HOST       payload on stdin (after a "mailcert-payload" line); start the worker; wait; print the status
#   restore STATE RUN HOST WHY  put back what RUN changed (later rollback, or after a bad re-probe); no
#                               record of RUN for HOST here: exit 3
#   wait STATE RUN HOST         wait for RUN's worker; print the status; the switch never started: exit 3
#   leftovers STATE             runs whose end no control side saw: "RUN@HOST STATE B64-REASON" per line
#   reported STATE RUN HOST     mark RUN as seen by a control side
# Records live in STATE/runs/RUN@HOST (payload, manifest, files/ backups, modes, status, worker.log). A switch
# removes this host's records beyond the newest KEEP_RUNS that need nobody any more (see prune_runs).
# Payload lines (every value base64, so no value can break a line or reach a shell unquoted):
#   script B64 (this program)  file B64PATH B64CONTENT MODE|- OWNER|- GROUP|-  (a new file, whole)
#   edit B64PATH B64RECIPE SHA256: an existing file, changed line by line (see merge_edit); the config text
#   mailcert read had secrets hidden, so the new file is built from the REAL lines here, never sent whole.
#   link B64LINK B64PATH: the configuration names the edited PATH through the symbolic link LINK (the
#   planner resolved it); refused, nothing written, when LINK no longer leads to PATH
#   run B64CMD [B64LABEL]   check B64CMD [B64LABEL]   reload B64CMD [B64LABEL]
#   guard B64PATH: the next run/api line changes PATH as root (chmod, chown): refused like a file write
#   when a link is in PATH or a folder of it is writable by anyone but root (see safe_target)
#   api B64CMD B64UNDO: a command whose effect is outside the files (cPanel's API); run in order with the
#   `run` lines, never re-run after a restore: once it succeeded, its B64UNDO runs then (last first).
#   Commands see MAILCERT_RUN_DIR (the run's root-only record) for what their undo needs.
# Status file RUN-DIR/status: line 1 running|applied|rolled-back|failed, line 2 the reason.
# Exit status (the control side tells outcomes apart by it, never by the text; mailcert/fix/worker/__init__.py
# names them):
#   0 done: stdout says how (the status lines, the lock word, the runs listed)
#   2 refused or failed (die): one "mailcert-apply: WHY" line on stderr, nothing changed by that step
#   3 no record (EXIT_NO_RECORD): restore or wait of a RUN this host has no record of for HOST (never ran or
#     started here, or pruned); stdout still says why in the status lines' form
#   4 busy (EXIT_BUSY): hold found another live run's lock; "busy OTHER PID SINCE" on stderr
EXIT_FAILED=2
EXIT_NO_RECORD=3
EXIT_BUSY=4
set -u
umask 077
LC_ALL=C
export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
ACTION=${1:?action}
STATE=${2:?state dir}
RUN=${3:-}
# The inventory's name for this host: run records are per run AND host, so several inventory hosts that
# share one state folder (the same machine under two names, a lab) never mix their backups.
HOSTKEY=${4:-}
LOCK=$STATE/lock
WAIT_LIMIT=${MAILCERT_WAIT_LIMIT:-600}
die() {
    printf 'mailcert-apply: %s\n' "$*" >&2
    exit "$EXIT_FAILED"
}
case $RUN$HOSTKEY in
*/* | .* | *@*) die "bad run id or host name" ;;
esac
RUNDIR=$STATE/runs/$RUN@$HOSTKEY

alive() { # alive PID: a mailcert-apply process with that pid exists
    [ -n "${1:-}" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q mailcert-apply
}
lock_pid() { cat "$LOCK/$1" 2>/dev/null || true; }
# Holders and workers register as LOCK/holder.PID and LOCK/worker.PID: several inventory hosts of one run
# may share a state folder (one machine under two names), and the lock stays until the last one is done.
live_members() { # the pids of live holders and workers, one a line
    for member in "$LOCK"/holder.* "$LOCK"/worker.*; do
        [ -e "$member" ] || continue
        pid=${member##*.}
        if alive "$pid"; then printf '%s\n' "$pid"; fi
    done
}
lock_alive() { [ -n "$(live_members)" ]; }
b64d() { if [ "$1" != - ]; then printf '%s' "$1" | base64 -d; fi; }
status_of() { sed -n 1p "$1/status" 2>/dev/null || true; }

set_status() { # set_status STATE REASON — atomic
    printf '%s\n%s\n' "$1" "$2" >"$RUNDIR/status.tmp" && mv -f "$RUNDIR/status.tmp" "$RUNDIR/status"
}

hold() {
    { mkdir -p "$STATE" && chmod 700 "$STATE"; } || die "cannot create $STATE"
    # Backups, payloads (the program the worker runs) and the test-only pause files live here: root's alone.
    [ "$(stat -c %u "$STATE")" = 0 ] && [ ! -L "$STATE" ] ||
        die "the state folder $STATE is not root's own folder (owner $(stat -c %U "$STATE")): make it root's, or set mailcert_state_dir to one"
    said=locked
    if ! mkdir "$LOCK" 2>/dev/null; then
        other=$(lock_pid run)
        if [ "$other" = "$RUN" ]; then
            said=resumed
        elif lock_alive; then
            printf 'busy %s %s %s\n' "${other:-?}" "$(live_members | head -n 1)" "$(lock_pid since)" >&2
            exit "$EXIT_BUSY"
        else
            rm -rf "$LOCK"
            mkdir "$LOCK" || die "cannot take $LOCK"
            said="taken-over ${other:-?}"
        fi
    fi
    # Written through cat: on a full disk its error names the cause (dash's printf only says "I/O error").
    if ! lock_err=$({ printf '%s\n' "$RUN" | cat >"$LOCK/run" && : >"$LOCK/holder.$$" &&
        { [ -s "$LOCK/since" ] || date -u +%Y-%m-%dT%H:%M:%SZ >"$LOCK/since"; }; } 2>&1); then
        if [ "$said" = resumed ]; then rm -f "$LOCK/holder.$$"; else rm -rf "$LOCK"; fi
        die "cannot take the host lock $LOCK: $(why_of "$lock_err")"
    fi
    printf '%s\n' "$said"
    release() {
        rm -f "$LOCK/holder.$$"
        if [ "$(lock_pid run)" = "$RUN" ] && ! lock_alive; then
            rm -rf "$LOCK"
        fi
        exit 0
    }
    trap release HUP INT TERM
    cat >/dev/null
    release
}

# Run records hold backups of configuration and, for cPanel, copies of the service certificates' keys: they
# do not pile up forever. Of this host's records older than the newest KEEP_RUNS, those that ended
# (applied or rolled back), whose end a control side saw (reported) and whose worker is done are removed.
# A failed one (its backups are what a restore by hand needs) and one nobody saw end stay.
KEEP_RUNS=20
prune_runs() {
    pr_n=0
    for pr_dir in "$STATE"/runs/*@"$HOSTKEY"/; do [ -d "$pr_dir" ] && pr_n=$((pr_n + 1)); done
    for pr_dir in "$STATE"/runs/*@"$HOSTKEY"/; do # oldest first: run ids sort by time
        [ "$pr_n" -gt "$KEEP_RUNS" ] || break
        [ -d "$pr_dir" ] || continue
        pr_n=$((pr_n - 1))
        { [ -e "$pr_dir/reported" ] && [ -e "$pr_dir/worker.done" ]; } || continue
        case $(status_of "$pr_dir") in applied | rolled-back) rm -rf "$pr_dir" ;; esac
    done
}

own_lock() {
    [ "$(lock_pid run)" = "$RUN" ] || die "the host lock $LOCK is not held by run $RUN"
}

start_worker() { # start_worker MODE [WHY] — a new session: the SSH session ending does not reach it
    rm -f "$RUNDIR/worker.done" "$RUNDIR/worker.pid"
    if command -v setsid >/dev/null 2>&1; then detach=setsid; else detach=; fi
    $detach nohup sh "$RUNDIR/mailcert-apply.sh" work "$STATE" "$RUN" "$HOSTKEY" "$@" \
        </dev/null >>"$RUNDIR/worker.log" 2>&1 &
}

wait_done() {
    waited=0
    while [ ! -e "$RUNDIR/worker.done" ]; do
        if [ -s "$RUNDIR/worker.pid" ] && ! alive "$(cat "$RUNDIR/worker.pid")" && [ ! -e "$RUNDIR/worker.done" ]; then
            printf 'interrupted\nthe host-side worker died mid-switch: compare the files with %s/files\n' "$RUNDIR"
            return 0
        fi
        if [ "$waited" -ge $((WAIT_LIMIT * 5)) ]; then
            printf 'running\nthe host-side switch did not finish within %s s (see %s/worker.log)\n' \
                "$WAIT_LIMIT" "$RUNDIR"
            return 0
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    if [ "$(status_of "$RUNDIR")" = running ]; then # the worker ended but could not record how (disk full)
        printf 'failed\nthe host-side switch ended without recording its result (is %s full?): compare the files with %s/files\n' \
            "$STATE" "$RUNDIR"
        return 0
    fi
    cat "$RUNDIR/status"
}

# ---- worker (detached) ----------------------------------------------------------------------------
backup() { # backup N PATH; BACKUP_WHY: why not (a backup or manifest line that could not be written)
    BACKUP_WHY=
    if [ -e "$2" ]; then
        [ -f "$2" ] || { BACKUP_WHY="not a regular file"; return 1; }
        line=$(printf '%s present %s %s' "$1" "$(printf '%s' "$2" | base64 -w0)" "$(stat -c '%u %g %a' "$2")")
        backup_err=$({ cp -p "$2" "$RUNDIR/files/$1" && printf '%s\n' "$line" | cat >>"$RUNDIR/manifest"; } 2>&1)
    else
        backup_err=$(printf '%s absent %s\n' "$1" "$(printf '%s' "$2" | base64 -w0)" | cat 2>&1 >>"$RUNDIR/manifest")
    fi || {
        BACKUP_WHY=$(why_of "$backup_err")
        rm -f "$RUNDIR/files/$1" # a partial copy would hold the space the status file needs
        return 1
    }
}

put() { # put SOURCE PATH UID GID MODE — atomic replace through a temp file in PATH's folder; PUT_WHY: why not
    PUT_WHY=
    if ! put_tmp=$(mktemp "$(dirname "$2")/.mailcert-XXXXXX" 2>&1); then
        PUT_WHY=$(why_of "$put_tmp")
        return 1
    fi
    if put_err=$({ cp -p "$1" "$put_tmp" && chown "$3:$4" "$put_tmp" && chmod "$5" "$put_tmp" &&
        mv -f "$put_tmp" "$2"; } 2>&1); then
        return 0
    fi
    PUT_WHY=$(why_of "$put_err")
    rm -f "$put_tmp"
    return 1
}
why_of() { # the reason in a tool's last error line ("cp: error writing 'X': No space left on device")
    why=$(printf '%s\n' "$1" | grep -v '^[[:space:]]*$' | tail -n 1)
    printf '%s' "${why##*: }" | cut -c1-200
}
unchanged() { # unchanged BACKUP PATH UID GID MODE: PATH still holds the backup's bytes, owner and mode
    [ -f "$2" ] && [ ! -L "$2" ] && cmp -s "$1" "$2" && [ "$(stat -c '%u %g %a' "$2")" = "$3 $4 $5" ]
}

# A root write must not be redirectable by anyone else: the path is written as planned (no link in it is
# followed: the planner resolves links it knows of), and every folder on the way is root's alone.
safe_folder() { # safe_folder DIR NEXT: no one but root (and root's group) can replace NEXT in DIR
    sf_uid=$(stat -c %u "$1") && sf_gid=$(stat -c %g "$1") && sf_mode=$(stat -c %a "$1") || {
        SAFE_WHY="cannot read the owner of $1"
        return 1
    }
    # a sticky folder (/tmp) lets no one else rename or remove an entry root owns
    if [ $((0$sf_mode & 512)) -ne 0 ] && [ -e "$2" ] && [ "$(stat -c %u "$2")" = 0 ]; then return 0; fi
    if [ "$sf_uid" != 0 ] || [ $((0$sf_mode & 2)) -ne 0 ] || { [ $((0$sf_mode & 16)) -ne 0 ] && [ "$sf_gid" != 0 ]; }; then
        SAFE_WHY="the folder $1 can be written by a user other than root (owner $(stat -c %U "$1"), group $(stat -c %G "$1"), mode $sf_mode): a non-root user could redirect this root write — make the folder root's (chown root $1; chmod go-w $1) or change the file by hand"
        return 1
    fi
}
safe_target() { # safe_target PATH: no symbolic link in PATH, every folder of it root's; SAFE_WHY: why not
    SAFE_WHY=
    st_rest=${1#/}
    st_dir=/
    st_at=
    while [ -n "$st_rest" ]; do
        st_part=${st_rest%%/*}
        st_at=$st_at/$st_part
        if [ -d "$st_dir" ]; then safe_folder "$st_dir" "$st_at" || return 1; fi
        if [ -L "$st_at" ]; then
            SAFE_WHY="$st_at is a symbolic link (to $(readlink "$st_at")) that mailcert did not plan to write through — write the file it points to by hand, or point the configuration at the real file"
            return 1
        fi
        st_dir=$st_at
        case $st_rest in */*) st_rest=${st_rest#*/} ;; *) st_rest= ;; esac
    done
}

# @mailcert-redact@
redacted() { # redacted FILE [PATH]: the text gather.sh sends for PATH (default FILE) whose bytes FILE holds:
    # secrets hidden by the rules for PATH's kind of file, PEM block lines blanked
    rdd_path=${2:-$1}
    if grep -q -e '-----BEGIN ' -- "$1" 2>/dev/null; then
        strip_blocks "$1" | redact "$rdd_path"
    else
        redact "$rdd_path" <"$1"
    fi
}

# merge_edit N PATH B64RECIPE SHA256: build files/new.N from the backup files/N of PATH (its real bytes) and
# the recipe: line 1 "f 1|0" (the new file ends with a newline or not), then per line of the new file
# "k J" (real line J as it is, CR and all) or "n TEXT". Refused (MERGE_WHY) when the file, redacted as
# gather.sh does, is not what mailcert read (sha256), or when a line the recipe drops was one the
# redaction changed (a hidden value). Nothing is written to PATH here.
merge_edit() {
    MERGE_WHY=
    b64d "$3" >"$RUNDIR/files/recipe.$1" || { MERGE_WHY="bad payload"; return 1; }
    redacted "$RUNDIR/files/$1" "$2" >"$RUNDIR/files/red.$1" || { MERGE_WHY="cannot read it"; return 1; }
    if [ "$(sha256sum <"$RUNDIR/files/red.$1" | cut -d' ' -f1)" != "$4" ]; then
        MERGE_WHY="it changed since mailcert read it (or is not UTF-8 text): nothing was written; run mailcert fix again"
        return 1
    fi
    merge_err=$(awk -v recipe="$RUNDIR/files/recipe.$1" -v red="$RUNDIR/files/red.$1" '
        FILENAME == recipe { step[++steps] = $0; next }
        FILENAME == red { hid[FNR] = $0; next }
        { real[FNR] = $0; reals = FNR }
        END {
            for (i = 2; i <= steps; i++) {
                line = substr(step[i], 3)
                if (substr(step[i], 1, 2) == "k ") {
                    j = line + 0
                    if (j < 1 || j > reals) { print "the recipe names line " j ", which the file does not have" | "cat 1>&2"; exit 1 }
                    kept[j] = 1
                    line = real[j]
                }
                printf "%s%s", sep, line
                sep = "\n"
            }
            if (step[1] == "f 1" && steps > 1) printf "\n"
            for (j = 1; j <= reals; j++)
                if (!(j in kept) && hid[j] != real[j]) { print "the edit drops line " j ", which holds a hidden value" | "cat 1>&2"; exit 1 }
        }' "$RUNDIR/files/recipe.$1" "$RUNDIR/files/red.$1" "$RUNDIR/files/$1" 2>&1 >"$RUNDIR/files/new.$1") || {
        MERGE_WHY=$(why_of "$merge_err")
        return 1
    }
}

same_warnings() { grep -i 'warning' "$1" 2>/dev/null | sed 's/[0-9][0-9]*/N/g'; }

run_cmd() { # run_cmd B64CMD OUTFILE
    b64d "$1" >"$RUNDIR/cmd.sh" && MAILCERT_RUN_DIR=$RUNDIR sh "$RUNDIR/cmd.sh" >"$2" 2>&1 </dev/null
}

shown() { # shown B64CMD [B64LABEL]: the label when the payload gives one, else the command itself
    if [ -n "${2:-}" ]; then b64d "$2"; else b64d "$1" | tr '\n' ' ' | cut -c1-200; fi
}
tail_of() { grep -v '^[[:space:]]*$' "$1" | tail -n 3 | tr '\n' ' ' | cut -c1-400; }

# The worker's journal: RUN-DIR/phase names the step it is about to take (backing-up, writing.N, commands,
# validating, reloading, done; restoring in a restore). A worker killed mid-switch (SIGKILL, power loss)
# leaves status "running" and this word: the next `fix` or `fix --rollback` of the host (action `recover`)
# restores the run, or records it applied when the phase says every step was done.
journal() {
    printf '%s\n' "$1" >"$RUNDIR/phase.tmp" 2>/dev/null && mv -f "$RUNDIR/phase.tmp" "$RUNDIR/phase"
    # For the fault tests only: they create STATE/pause.PHASE (STATE is root's alone, mode 700, so nothing
    # a host user or a host value controls can) to hold the worker here until they kill it.
    if [ -e "$STATE/pause.$1" ]; then
        : >"$RUNDIR/paused"
        while [ -e "$STATE/pause.$1" ]; do sleep 0.1; done
    fi
}

apply_payload() {
    journal backing-up
    : >"$RUNDIR/manifest"
    mkdir -p "$RUNDIR/files" "$RUNDIR/out"
    n=0
    # Baseline of the validations: a warning that was there before the change is not the change's fault.
    grep '^check ' "$RUNDIR/payload" | while read -r _ cmd _; do
        n=$((n + 1))
        run_cmd "$cmd" "$RUNDIR/out/before.$n" || true
    done
    while read -r kind a b _; do
        [ "$kind" = link ] || continue
        link=$(b64d "$a")
        path=$(b64d "$b")
        now=$(readlink -f -- "$link" 2>/dev/null) || now=
        [ "$now" = "$path" ] || {
            FAIL="refusing to edit $path through $link: $link now leads to ${now:-nothing}, not to the file mailcert planned to edit — run mailcert fix again"
            return 1
        }
    done <"$RUNDIR/payload"
    n=0
    while read -r kind a _; do
        case $kind in file | edit) ;; *) continue ;; esac
        n=$((n + 1))
        path=$(b64d "$a")
        safe_target "$path" || { FAIL="refusing to write $path: $SAFE_WHY"; return 1; }
        backup "$n" "$path" || { FAIL="cannot back up $path${BACKUP_WHY:+: $BACKUP_WHY}"; return 1; }
    done <"$RUNDIR/payload"
    sync
    # Every edit is built and checked against the file as it is now before any file is written.
    n=0
    while read -r kind a b sum; do
        case $kind in file | edit) ;; *) continue ;; esac
        n=$((n + 1))
        [ "$kind" = edit ] || continue
        path=$(b64d "$a")
        [ -f "$RUNDIR/files/$n" ] || { FAIL="refusing to edit $path: it no longer exists"; return 1; }
        merge_edit "$n" "$path" "$b" "$sum" || { FAIL="refusing to edit $path: $MERGE_WHY"; return 1; }
    done <"$RUNDIR/payload"
    n=0
    while read -r kind a b mode owner group; do
        case $kind in file | edit) ;; *) continue ;; esac
        n=$((n + 1))
        path=$(b64d "$a")
        if [ "$kind" = file ]; then
            b64d "$b" >"$RUNDIR/files/new.$n" || { FAIL="bad payload for $path"; return 1; }
        fi
        line=$(sed -n "${n}p" "$RUNDIR/manifest")
        # shellcheck disable=SC2086 # the manifest line is split into its words on purpose
        set -- $line
        if [ "$2" = present ]; then
            uid=$4 gid=$5 fmode=$6
        else
            uid=${owner#-} gid=${group#-} fmode=${mode#-}
            uid=${uid:-root} gid=${gid:-root} fmode=${fmode:-644}
        fi
        [ -d "$(dirname "$path")" ] || { FAIL="folder of $path does not exist"; return 1; }
        journal "writing.$n"
        WROTE=1
        put "$RUNDIR/files/new.$n" "$path" "$uid" "$gid" "$fmode" || {
            FAIL="cannot write $path${PUT_WHY:+: $PUT_WHY}"
            return 1
        }
    done <"$RUNDIR/payload"
    journal commands
    while read -r kind a b _; do
        if [ "$kind" = guard ]; then # the next command changes this path as root (chmod, chown)
            path=$(b64d "$a")
            safe_target "$path" || { FAIL="refusing to change $path: $SAFE_WHY"; return 1; }
            keep_owner_mode "$a" "$path" || { FAIL="cannot record the owner and mode of $path"; return 1; }
            continue
        fi
        case $kind in run | api) ;; *) continue ;; esac
        [ "$kind" = run ] || WROTE=1 # an API call changes the host as a written file does
        run_cmd "$a" "$RUNDIR/out/run" || {
            rc=$?
            label=
            [ "$kind" = api ] || label=$b
            FAIL="command failed: $(shown "$a" "$label") (exit $rc): $(tail_of "$RUNDIR/out/run")"
            return 1
        }
        [ "$kind" = run ] || printf '%s\n' "$b" >>"$RUNDIR/api.done"
    done <"$RUNDIR/payload"
    journal validating
    n=0
    while read -r kind a label _; do
        [ "$kind" = check ] || continue
        n=$((n + 1))
        if ! run_cmd "$a" "$RUNDIR/out/after.$n"; then
            FAIL="validation failed: $(shown "$a" "$label"): $(tail_of "$RUNDIR/out/after.$n")"
            return 1
        fi
        # Line numbers shift with an edit: a warning is new only when it differs in more than its numbers.
        same_warnings "$RUNDIR/out/after.$n" >"$RUNDIR/out/warn.$n"
        if same_warnings "$RUNDIR/out/before.$n" | grep -vxF -f - "$RUNDIR/out/warn.$n" >"$RUNDIR/out/new.$n"; then
            FAIL="validation warns: $(shown "$a" "$label"): $(tail_of "$RUNDIR/out/new.$n")"
            return 1
        fi
    done <"$RUNDIR/payload"
    journal reloading
    reload_all || return 1
    journal "done"
    return 0
}

reload_all() {
    while read -r kind a label _; do
        [ "$kind" = reload ] || continue
        run_cmd "$a" "$RUNDIR/out/reload" || {
            rc=$?
            FAIL="reload failed: $(shown "$a" "$label") (exit $rc): $(tail_of "$RUNDIR/out/reload")"
            return 1
        }
    done <"$RUNDIR/payload"
}

# Owner and mode of every path a chmod/chown changes (the `guard` lines), as they were before the first
# change: RUN-DIR/modes, "B64PATH UID GID MODE" a line, written before the command runs.
keep_owner_mode() { # keep_owner_mode B64PATH PATH
    [ -e "$2" ] || return 0
    ! grep -q "^$1 " "$RUNDIR/modes" 2>/dev/null || return 0
    printf '%s %s\n' "$1" "$(stat -c '%u %g %a' "$2")" | cat >>"$RUNDIR/modes"
}
restore_owner_mode() { # put back what keep_owner_mode recorded (not through a link swapped in since)
    [ -s "$RUNDIR/modes" ] || return 0
    while read -r b uid gid fmode; do
        path=$(b64d "$b")
        [ -e "$path" ] || continue
        safe_target "$path" || { FAIL="${FAIL:+$FAIL; }not restoring the mode of $path: $SAFE_WHY"; continue; }
        chown "$uid:$gid" "$path" && chmod "$fmode" "$path" ||
            FAIL="${FAIL:+$FAIL; }could not restore the owner and mode of $path"
    done <"$RUNDIR/modes"
}

restore_files() {
    [ -s "$RUNDIR/manifest" ] || return 0
    bad=
    while read -r n how b uid gid fmode; do
        path=$(b64d "$b")
        # a link or a folder swapped in since the switch: no root write through it, not even a restore
        safe_target "$path" || { bad="$bad $path ($SAFE_WHY)"; continue; }
        if [ "$how" = present ]; then
            # A file the switch never replaced (the write failed: disk full) needs no write to restore it.
            unchanged "$RUNDIR/files/$n" "$path" "$uid" "$gid" "$fmode" && continue
            put "$RUNDIR/files/$n" "$path" "$uid" "$gid" "$fmode" || bad="$bad $path${PUT_WHY:+ ($PUT_WHY)}"
        else
            rm -f "$path" || bad="$bad $path"
        fi
    done <"$RUNDIR/manifest"
    [ -z "$bad" ] || { RFAIL="could not restore:$bad"; return 1; }
}

rerun_commands() { # after a restore: `postmap -F` etc. again, so tables built from the files match them
    # A chmod/chown (after a `guard` line) is not run again: restore_owner_mode puts back what it changed.
    guarded=
    while read -r kind a label _; do
        if [ "$kind" = guard ]; then
            guarded=1
            continue
        fi
        [ "$kind" = run ] || continue
        [ -z "$guarded" ] || { guarded=; continue; }
        run_cmd "$a" "$RUNDIR/out/rerun" || FAIL="${FAIL:+$FAIL; }rebuilding with $(shown "$a" "$label") failed"
    done <"$RUNDIR/payload"
}

undo_api() { # the undo of every API command that succeeded, last first
    [ -s "$RUNDIR/api.done" ] || return 0
    rm -f "$RUNDIR/out/undo.failed"
    sed -n '1!G;h;$p' "$RUNDIR/api.done" | while read -r u; do
        run_cmd "$u" "$RUNDIR/out/undo" || tail_of "$RUNDIR/out/undo" >>"$RUNDIR/out/undo.failed"
    done
    [ ! -s "$RUNDIR/out/undo.failed" ] ||
        FAIL="${FAIL:+$FAIL; }putting back what an API call changed failed: $(tail_of "$RUNDIR/out/undo.failed")"
}

undo() { # undo REASON: restore, rebuild, reload (when anything was written), record
    RFAIL=
    # Nothing written yet (a backup failed): nothing to restore, and a half-written manifest is not read.
    if [ -z "$WROTE" ] || restore_files; then
        FAIL=
        restore_owner_mode
        [ -z "$WROTE" ] || undo_api
        [ -z "$WROTE" ] || rerun_commands
        [ -z "$WROTE" ] || reload_all || true
        set_status rolled-back "$1${FAIL:+ (after restoring: $FAIL)}"
    else
        set_status failed "$1; $RFAIL — restore by hand from $RUNDIR/files"
    fi
}

work() {
    trap '' HUP INT TERM PIPE
    printf '%s\n' "$$" >"$RUNDIR/worker.pid"
    [ "$(lock_pid run)" = "$RUN" ] && : >"$LOCK/worker.$$"
    FAIL=
    WROTE=
    case ${1:-apply} in
    apply)
        set_status running "switching"
        if apply_payload; then
            set_status applied "files written, validated and reloaded"
        else
            undo "$FAIL"
        fi
        ;;
    restore)
        journal restoring
        WROTE=1
        undo "${2:-rolled back on request}"
        ;;
    esac
    rm -f "$LOCK/worker.$$"
    : >"$RUNDIR/worker.done"
}

case $ACTION in
hold) hold ;;
switch)
    own_lock
    [ ! -e "$RUNDIR" ] || die "run $RUN already switched on this host"
    prune_runs
    { mkdir -p "$RUNDIR" && chmod 700 "$RUNDIR"; } || die "cannot create $RUNDIR"
    # What comes before a "mailcert-payload" line is dropped: a sudo password that sudo did not ask for
    # (NOPASSWD) arrives first on stdin, and is never stored.
    if ! store_err=$(awk '$0 == "mailcert-payload" { n = 0; next } { line[++n] = $0 }
        END { for (i = 1; i <= n; i++) print line[i] }' | cat 2>&1 >"$RUNDIR/payload"); then
        rm -rf "$RUNDIR"
        die "cannot store the payload in $RUNDIR: $(why_of "$store_err")"
    fi
    sed -n 's/^script //p' "$RUNDIR/payload" | base64 -d >"$RUNDIR/mailcert-apply.sh" || die "no script in the payload"
    printf 'running\nstarting\n' >"$RUNDIR/status"
    start_worker apply
    wait_done
    ;;
restore)
    # No record of RUN for HOST here: EXIT_NO_RECORD; otherwise the status lines of how the run ends.
    own_lock
    if [ ! -e "$RUNDIR/status" ]; then
        printf 'not-found\nno record of run %s on this host: it changed nothing here, or it is older than the newest %s runs the host keeps\n' \
            "$RUN" "$KEEP_RUNS"
        exit "$EXIT_NO_RECORD"
    fi
    [ -e "$RUNDIR/worker.done" ] || wait_done >/dev/null
    case $(status_of "$RUNDIR") in
    rolled-back)
        cat "$RUNDIR/status"
        exit 0
        ;;
    esac
    if [ ! -s "$RUNDIR/manifest" ] && [ ! -s "$RUNDIR/api.done" ] && ! grep -q '^run ' "$RUNDIR/payload" 2>/dev/null; then
        # A run that wrote no file, called no API and rebuilt nothing (a reload only): nothing to put back.
        set_status rolled-back "nothing to restore: run $RUN wrote no file on this host (${5:-rolled back on request})"
        cat "$RUNDIR/status"
        exit 0
    fi
    start_worker restore "${5:-rolled back on request}"
    wait_done
    ;;
wait)
    if [ ! -e "$RUNDIR/status" ]; then
        printf 'absent\nthe switch never started on this host: nothing was changed\n'
        exit "$EXIT_NO_RECORD"
    fi
    wait_done
    ;;
work) work "${5:-apply}" "${6:-}" ;;
leftovers)
    for dir in "$STATE"/runs/*/; do
        { [ -d "$dir" ] && [ ! -e "$dir/reported" ] && [ -e "$dir/status" ]; } || continue
        said=$(status_of "$dir")
        if [ "$said" = running ] && ! alive "$(cat "$dir/worker.pid" 2>/dev/null)"; then said=interrupted; fi
        printf '%s %s %s\n' "$(basename "$dir")" "$said" "$(sed -n 2p "$dir/status" | base64 -w0)"
    done
    ;;
reported) [ -d "$RUNDIR" ] && : >"$RUNDIR/reported" ;;
recover)
    # recover STATE RUN HOST, under RUN's lock: every earlier run of HOST whose worker died before it ended
    # (no worker.done, no live worker; status running, or a restore under way) is restored here, in this
    # process: files byte-identical, tables rebuilt, API calls undone, services reloaded. One that had done
    # every step (phase done) is recorded applied. Prints "RUN@HOST STATE B64-REASON" per run handled.
    own_lock
    trap '' HUP INT TERM PIPE
    ME=$RUN
    for dir in "$STATE"/runs/*@"$HOSTKEY"/; do
        dir=${dir%/}
        { [ -d "$dir" ] && [ -e "$dir/status" ] && [ ! -e "$dir/worker.done" ]; } || continue
        phase=$(cat "$dir/phase" 2>/dev/null) || phase=
        [ "$(status_of "$dir")" = running ] || [ "$phase" = restoring ] || continue
        alive "$(cat "$dir/worker.pid" 2>/dev/null)" && continue
        RUNDIR=$dir
        RUN=${dir##*/}
        RUN=${RUN%@*}
        printf '%s\n' "$$" >"$RUNDIR/worker.pid"
        FAIL=
        case $phase in
        done) set_status applied "files written, validated and reloaded; the worker died before it recorded that (found by run $ME)" ;;
        backing-up)
            # nothing was written yet (a phase is recorded before the first write): compare, never reload
            WROTE=
            restore_files || true
            undo "the host-side worker died while backing-up: nothing had been written (found by run $ME)"
            ;;
        *) # no phase: died before its first step, or a run of a program without a journal: restore all
            WROTE=1
            undo "the host-side worker died while ${phase:-switching}: restored by run $ME"
            ;;
        esac
        : >"$RUNDIR/worker.done"
        printf '%s %s %s\n' "$RUN@$HOSTKEY" "$(status_of "$RUNDIR")" "$(sed -n 2p "$RUNDIR/status" | base64 -w0)"
    done
    ;;
*) die "unknown action $ACTION" ;;
esac
