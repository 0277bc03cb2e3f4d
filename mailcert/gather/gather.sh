# mailcert gather: print every fact mailcert needs about this mail host as ONE framed document on stdout.
# Read-only. POSIX sh + coreutils + openssl (Debian, RHEL-likes, cPanel's Alma).
# Private keys never leave this host: a key block is piped into `openssl pkey -pubout` here and only the
# public key is printed; certificate files are sent as their CERTIFICATE blocks only.
# Usage: sh -c "$THIS_SCRIPT" mailcert-gather [ROOT [STATE]]   (ROOT: where the host's / is; default /;
#   STATE: mailcert fix's state folder on the host, read for unfinished runs only)
#
# Format: "%MAILCERT-GATHER 1", then records: "%R KIND k=v ..." (values without spaces), "%P NAME" (a path or
# name, raw, never holding a newline), base64 body lines, "%E"; last line "%END".
# Kinds: meta, path, text, pem, nopem, toolarge, unreadable, cmd, cmderr, proc, proc-net, unfinished.
set -u
exec </dev/null
umask 077
LC_ALL=C
export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}
export PATH
ROOT=${1:-/}
STATE=${2:-}
case $ROOT in
/) R= ;;
*/) R=${ROOT%/} ;;
*) R=$ROOT ;;
esac
MAX=1048576

have() { command -v "$1" >/dev/null 2>&1; }

# Scratch space for lists, command output, text on its way to `redact` and the document being written (never
# key material: key blocks go from awk to openssl through a pipe); a fresh private folder, removed at exit.
T=$(mktemp -d 2>/dev/null) || {
    T=/tmp/mailcert-gather.$$
    mkdir -m 700 "$T" || {
        echo "mailcert gather: cannot make a private temporary folder" >&2
        exit 1
    }
}
trap 'rm -rf "$T"' EXIT HUP INT TERM

# The document is written in two steps, so that no record costs a process: the shell writes a plan to
# $T/plan (headers as they will be printed; each body as a reference: "%B ..." lines, "%J N" for the records
# of content job N), and at the end one awk (FRAME_AWK) prints it with every body base64-encoded.
exec 3>&1 >"$T/plan"
: >"$T/seen"
: >"$T/textfiles"
: >"$T/textlist"
: >"$T/jobs"
: >"$T/frag"
NL='
'
TEXTFILES=$NL # the files sent as text, each line framed by newlines (for `case`, without a process)
PENDING=$NL   # the files of content jobs not run yet, framed alike
BODIES=0
hdr() { # hdr KIND NAME [k=v ...]
    hd_kind=$1
    hd_name=$2
    shift 2
    printf '%%R %s' "$hd_kind"
    for hd_kv in "$@"; do printf ' %s' "$hd_kv"; done
    printf '\n%%P %s\n' "$hd_name"
}
rec0() { # rec0 KIND NAME [k=v ...]: a record without body
    hdr "$@"
    printf '%%E\n'
}
recref() { # recref KIND NAME BODYREF [k=v ...]: a record whose body FRAME_AWK reads (see there)
    rr_kind=$1
    rr_name=$2
    rr_body=$3
    shift 3
    hdr "$rr_kind" "$rr_name" "$@"
    printf '%%B %s\n%%E\n' "$rr_body"
}
next_body() { # sets BODY to a fresh file name for a body written as its bytes and one more newline
    BODIES=$((BODIES + 1))
    BODY=$T/b.$BODIES
}
meta() {
    case $2 in
    *"$NL"*)
        next_body
        printf '%s\n' "$2" >"$BODY"
        recref meta "$1" "f $BODY"
        ;;
    *) recref meta "$1" "v $2" ;;
    esac
}

printf '%%MAILCERT-GATHER 1\n'
meta clock "$(date +%s)"
meta root "$ROOT"
# uname -n and id -u as Linux's /proc has them (the node name of this UTS namespace; the effective uid, the
# second number of Uid:), read by the shell itself; the commands where /proc is not there.
NODE=
if [ -r /proc/sys/kernel/hostname ]; then
    IFS= read -r NODE </proc/sys/kernel/hostname
else
    NODE=$(uname -n 2>/dev/null)
fi
meta node "$NODE"
EUID_=
if [ -r /proc/self/status ]; then
    while read -r id_key _ id_effective _; do
        [ "$id_key" = Uid: ] && EUID_=$id_effective
    done </proc/self/status
else
    EUID_=$(id -u 2>/dev/null)
fi
meta uid "$EUID_"
meta openssl "$(openssl version 2>/dev/null)"

# >>> mailcert-redact: the one redaction rule. apply.sh gets this block verbatim (see mailcert/fix/worker) and
# runs it over the real file before an edit: what it compares with the text sent here cannot drift.
# Secrets in config text are blanked here, keeping lines and keys (the rules, in this order; mirrored for
# messages by mailcert/redaction.py, tests/unit/test_redaction_rules.py keeps the two equal):
#  - a `hide tls_...` Exim line is kept whole (the audit needs it);
#  - a line whose key (`key =`, `key:`, `export key=`) holds pass, secret, token, pw, hmac, credential,
#    api_key/api-key/apikey or dns_...key (certbot DNS plugins: dns_linode_key), an Exim `hide` option,
#    Dovecot `connect =`, an Exim `*_servers` list, `server_condition` or `client_send` (authenticators): the
#    value; any of these keys written without `=` (`ssl_key_password x`): the rest, unless it holds a `{` (a
#    section such as `passdb {`);
#  - inside any value: from a word holding one of these key words and `=` (`bind_pw=`, `password=`) to the
#    end of the line;
#  - the password of a URL (`scheme://user:PASSWORD@host`) and a crypt hash (`$6$salt$hash`, `$y$...`).
# Then by the file's name (`redact PATH`; PATH empty for command output):
#  - a Postfix file (name ending in .cf, not master.cf): after a line some rule changed, the lines that
#    continue it (starting with white space; blank and `#` lines between them do not end it) become their
#    indentation and the placeholder;
#  - a SASL credential map (name holding sasl_passw or sasl-passw, or starting passwd.client; not .cf): every
#    line that is not blank keeps only up to its first `:` (after a `[host]:port`, so `[host]:587 user:`), or
#    its indentation and `#`, then the placeholder;
#  - any other file: after a changed line ending in `\`, the lines that continue it (Exim, Dovecot) become
#    their indentation and the placeholder, with a ` \` where the line went on (a `#` line between them is kept
#    to the rules and does not end it; a blank line does); the changed line keeps a ` \` at its end.
# `redact PATH` reads the text on stdin. Many files go through one `redact` when a line `%` follows each: that
# line ends any continued value in every kind of file (its own output line is dropped by the reader).
redact_mode() { # redact_mode PATH: sets rd_mode, the file kind above (P Postfix, C credential map, B other)
    rd_name=${1-}
    rd_name=${rd_name##*/}
    case $rd_name in
    master.cf) rd_mode=B ;;
    *.cf) rd_mode=P ;;
    *[Ss][Aa][Ss][Ll][_-][Pp][Aa][Ss][Ss][Ww]* | [Pp][Aa][Ss][Ss][Ww][Dd].[Cc][Ll][Ii][Ee][Nn][Tt]*) rd_mode=C ;;
    *) rd_mode=B ;;
    esac
}
redact() {
    redact_mode "${1-}"
    set -- -e :done
    rd_key='^\([[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}[A-Za-z0-9_.-]*'
    rd_val='[A-Za-z0-9_.-]*[[:space:]]*[=:]\).*$/\1 (hidden-by-mailcert)/'
    rd_in='[A-Za-z0-9_.-]*[[:space:]]*=\).*$/\1 (hidden-by-mailcert)/'
    rd_word='[A-Za-z0-9_.-]*\)[[:space:]]\{1,\}[^{[:space:]=:][^{]*$/\1 (hidden-by-mailcert)/'
    rd_dns='[Dd][Nn][Ss][_-][A-Za-z0-9_.-]*[Kk][Ee][Yy]'
    # The hold space carries the state from line to line: empty, B (a hidden value goes on after a `\`) or P
    # (a hidden Postfix value goes on in indented lines); while a line is read it holds T (top) or K (a `#`
    # line inside a continued value), a newline and the line as it came.
    case $rd_mode in
    P)
        rd_enter='/^P\n/{
/^P\n[[:space:]]*$/{
s/^P\n//
x
s/.*/P/
x
b done
}
/^P\n[[:space:]]/{
s/^P\n\([[:space:]]*\).*$/\1(hidden-by-mailcert)/
x
s/.*/P/
x
b done
}
/^P\n#/{
s/^P\n//
x
s/^/K\
/
x
b rules
}
}'
        rd_leave='x
/^K\n/{
s/.*/P/
x
b done
}
/^T\n[[:space:]#]/{
s/.*//
x
b done
}
s/.*/P/
x
b done'
        ;;
    C)
        rd_enter=
        rd_leave='x
s/.*//
x
t cred
:cred
/^[[:space:]]*$/b done
s/^\([[:space:]]*\(#[[:space:]]*\)\{0,1\}\(\[[^]]*\]\(:[0-9]\{1,\}\)\{0,1\}\)\{0,1\}[^:]*:\).*$/\1 (hidden-by-mailcert)/
t done
s/^\([[:space:]]*\(#[[:space:]]*\)\{0,1\}\).*$/\1(hidden-by-mailcert)/
b done'
        ;;
    *)
        rd_enter='/^B\n/{
/^B\n[[:space:]]*$/{
s/^B\n//
x
s/.*//
x
b done
}
/^B\n[[:space:]]*#/{
s/^B\n//
x
s/^/K\
/
x
b rules
}
/\\[[:space:]]*$/{
s/^B\n\([[:space:]]*\).*$/\1(hidden-by-mailcert) \\/
x
s/.*/B/
x
b done
}
s/^B\n\([[:space:]]*\).*$/\1(hidden-by-mailcert)/
x
s/.*//
x
b done
}'
        rd_leave='x
/^K\n/{
s/.*/B/
x
b done
}
/\\[[:space:]]*$/!{
s/.*//
x
b done
}
s/.*/B/
x
/\\[[:space:]]*$/!s/$/ \\/
b done'
        ;;
    esac
    # unchanged lines end no chain of their own: as `rd_leave` without the backslash case
    case $rd_mode in
    C) rd_same='b changed' ;;
    P) rd_same='x
/^K\n/{
s/.*/P/
x
b done
}
s/.*//
x
b done' ;;
    *) rd_same='x
/^K\n/{
s/.*/B/
x
b done
}
s/.*//
x
b done' ;;
    esac
    # shellcheck disable=SC2016 # a literal $ in crypt hashes ($6$...), not an expansion
    sed -e x -e G -e "$rd_enter" \
        -e 's/^[BP]\{0,1\}\n//' -e x -e 's/^/T\
/' -e x -e :rules -e 't rules2' -e :rules2 \
        -e '/^[[:space:]]*hide[[:space:]]\{1,\}tls_/b same' \
        -e "s/${rd_key}[Pp][Aa][Ss][Ss]$rd_val" \
        -e "s/${rd_key}[Ss][Ee][Cc][Rr][Ee][Tt]$rd_val" \
        -e "s/${rd_key}[Tt][Oo][Kk][Ee][Nn]$rd_val" \
        -e "s/${rd_key}[Pp][Ww]$rd_val" \
        -e "s/${rd_key}[Hh][Mm][Aa][Cc]$rd_val" \
        -e "s/${rd_key}[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll]$rd_val" \
        -e "s/${rd_key}[Aa][Pp][Ii][_-]\{0,1\}[Kk][Ee][Yy]$rd_val" \
        -e "s/${rd_key}$rd_dns$rd_val" \
        -e "s/${rd_key}[Pp][Aa][Ss][Ss]$rd_word" \
        -e "s/${rd_key}[Ss][Ee][Cc][Rr][Ee][Tt]$rd_word" \
        -e "s/${rd_key}[Tt][Oo][Kk][Ee][Nn]$rd_word" \
        -e "s/${rd_key}[Pp][Ww]$rd_word" \
        -e "s/${rd_key}[Hh][Mm][Aa][Cc]$rd_word" \
        -e "s/${rd_key}[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll]$rd_word" \
        -e "s/${rd_key}[Aa][Pp][Ii][_-]\{0,1\}[Kk][Ee][Yy]$rd_word" \
        -e "s/${rd_key}$rd_dns$rd_word" \
        -e 's/^\([[:space:]]*connect[[:space:]]*=\).*$/\1 (hidden-by-mailcert)/' \
        -e 's/^\([[:space:]]*hide[[:space:]][^=]*=\).*$/\1 (hidden-by-mailcert)/' \
        -e 's/^\([[:space:]]*[A-Za-z0-9_]*_servers[[:space:]]*=\).*$/\1 (hidden-by-mailcert)/' \
        -e 's/^\([[:space:]]*server_condition[[:space:]]*=\).*$/\1 (hidden-by-mailcert)/' \
        -e 's/^\([[:space:]]*client_send[[:space:]]*=\).*$/\1 (hidden-by-mailcert)/' \
        -e "s/\([Pp][Aa][Ss][Ss]$rd_in" \
        -e "s/\([Ss][Ee][Cc][Rr][Ee][Tt]$rd_in" \
        -e "s/\([Tt][Oo][Kk][Ee][Nn]$rd_in" \
        -e "s/\([Pp][Ww]$rd_in" \
        -e "s/\([Hh][Mm][Aa][Cc]$rd_in" \
        -e "s/\([Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll]$rd_in" \
        -e "s/\([Aa][Pp][Ii][_-]\{0,1\}[Kk][Ee][Yy]$rd_in" \
        -e "s/\($rd_dns$rd_in" \
        -e 's#\(://[^:/@[:space:]]*:\)[^@[:space:]]*@#\1(hidden-by-mailcert)@#g' \
        -e 's/\$[0-9][a-z]\{0,1\}\$[./A-Za-z0-9]\{2,\}[^[:space:]:]*/(hidden-by-mailcert)/g' \
        -e 's/\$g\{0,1\}y\$[^[:space:]:]*/(hidden-by-mailcert)/g' \
        -e 't changed' -e :same -e "$rd_same" -e :changed -e "$rd_leave" "$@"
}
# The file's lines with every PEM block (BEGIN to END, or to the end when unterminated) blanked: the awk
# function strip(LINE) (state in `inblk`, 0 at the start of a file) is shared with gather.sh's file reader.
STRIP_AWK='
    function strip(line) {
        if (inblk) {
            if (index(line, "-----END ") > 0) inblk = 0
            return ""
        }
        if (match(line, /-----BEGIN [A-Z0-9][A-Z0-9 ]*-----/)) {
            inblk = (index(substr(line, RSTART + RLENGTH), "-----END ") == 0)
            return ""
        }
        return line
    }'
strip_blocks() {
    awk "$STRIP_AWK"' { print strip($0) }' "$1"
}
# <<< mailcert-redact
# Content jobs. visit prints "%J N" where the records of file N go and queues the job in $T/jobs
# ("N KIND MODE SIZE PATH"); flush runs the queued jobs in ONE awk (CONTENT_AWK), which reads each file once
# and writes the jobs' records to $T/frag, where FRAME_AWK takes them at their "%J N". Text to redact goes to
# one stream per kind of file ($T/s.MODE.ROUND, MODE from redact_mode; E: command errors, which are not
# searched for file names), each file followed by a line `%`; redact_round runs one `redact` per stream.
# The text sent so far (redacted) is kept in the files listed in $T/textlist, to look for file names in it.
JOBS=0
FLUSHES=0
ROUND=1
job() { # job KIND MODE SIZE PATH: prints the job's place in the plan
    JOBS=$((JOBS + 1))
    printf '%s %s %s %s %s\n' "$JOBS" "$1" "$2" "$3" "$4" >>"$T/jobs"
    printf '%%J %s\n' "$JOBS"
}
flush() {
    [ -s "$T/jobs" ] || return 0
    FLUSHES=$((FLUSHES + 1))
    : >"$T/sent"
    MC_ROOT=$R MC_T=$T MC_ROUND=$ROUND MC_FLUSH=$FLUSHES awk "$STRIP_AWK$CONTENT_AWK" "$T/jobs"
    : >"$T/jobs"
    PENDING=$NL
    while IFS= read -r fl_p; do TEXTFILES=$TEXTFILES$fl_p$NL; done <"$T/sent"
}
redact_round() {
    flush
    for rr_mode in P B C E; do
        rr_s=$T/s.$rr_mode.$ROUND
        [ -s "$rr_s" ] || continue
        case $rr_mode in P) rr_name=main.cf ;; C) rr_name=sasl_passwd ;; *) rr_name= ;; esac
        redact "$rr_name" <"$rr_s" >"$rr_s.out"
        [ "$rr_mode" = E ] || printf '%s\n' "$rr_s.out" >>"$T/textlist"
    done
    ROUND=$((ROUND + 1))
}

# Per file (kinds as visit's WANT; refx: an executable ref, sent as config; cmd, cmderr: a command's output
# file, with one more newline at its end): "pem" with the file's certificate blocks as they are, a private
# key block as "%KEY LABEL ENCRYPTED" and its public key (derived here; "%KEYERR" if openssl cannot), any
# other block "%OTHER LABEL", an unterminated one "%BROKEN LABEL"; plus for config the text with the blocks'
# lines blanked. A file without PEM block: "nopem" (why: empty, der (first byte 0x30, "0"), binary (a NUL or
# control byte) or text) unless sent as text: cron (only the lines that mention certbot, others blanked),
# version (only the __version__ line), else redacted. An empty config file is sent as text, not called empty.
# shellcheck disable=SC2016 # an awk program
CONTENT_AWK='
    function stream(mode) { return T "/s." mode "." ROUND }
    function header(kind, name, kv) { printf "%%R %s%s\n%%P %s\n", kind, kv, name >> FRAG }
    function redacted(mode, count, nonl) {
        print "%" >> stream(mode)
        print "%B r " count " " nonl " " stream(mode) ".out" >> FRAG
    }
    function keyblock(label, body,    encd, tag, line) {
        encd = (label == "ENCRYPTED PRIVATE KEY" || index(body, "Proc-Type: 4,ENCRYPTED") > 0) ? 1 : 0
        tag = label
        gsub(/ /, "_", tag)
        print "%KEY " tag " " encd > BODY
        if (encd) return
        if (!(body in PUBLIC)) { # the same key in two files (live/ and archive/) is derived once
            printf "%s", body | PUBCMD
            close(PUBCMD)
            PUBLIC[body] = ""
            while ((getline line < PUB) > 0) PUBLIC[body] = PUBLIC[body] line "\n"
            close(PUB)
        }
        printf "%s", PUBLIC[body] > BODY
    }
    function pem(n,    i, line, inblk, label, body) {
        for (i = 1; i <= n; i++) {
            line = L[i]
            sub(/\r$/, "", line)
            if (inblk && index(line, "-----END " label "-----") > 0) {
                body = body line "\n"
                inblk = 0
                if (label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE") {
                    printf "%s", body > BODY
                } else if (label ~ /PRIVATE KEY$/) {
                    keyblock(label, body)
                } else {
                    print "%OTHER " label > BODY
                }
                body = ""
                continue
            }
            if (match(line, /-----BEGIN [A-Z0-9][A-Z0-9 ]*-----/)) {
                if (inblk) print "%BROKEN " label > BODY
                label = substr(line, RSTART + 11, RLENGTH - 16)
                inblk = 1
                body = "-----BEGIN " label "-----\n"
                continue
            }
            if (inblk) body = body line "\n"
        }
        if (inblk) print "%BROKEN " label > BODY
    }
    function sent(path) {
        print path >> (T "/textfiles")
        print path >> (T "/sent")
    }
    function filtered(kind, n, nonl,    i, line) { # cron, version: as sed would print them
        if (!COPY_LISTED) print COPY >> (T "/textlist")
        COPY_LISTED = 1
        for (i = 1; i <= n; i++) {
            line = L[i]
            if (kind == "cron" && !index(line, "certbot") && !index(line, "letsencrypt")) line = ""
            if (kind == "version" && line !~ /^__version__/) line = ""
            printf "%s%s", line, (i < n || !nonl) ? "\n" : "" > BODY
            print line >> COPY
        }
        print "" > BODY
    }
    BEGIN {
        R = ENVIRON["MC_ROOT"]
        T = ENVIRON["MC_T"]
        ROUND = ENVIRON["MC_ROUND"]
        FRAG = T "/frag"
        PUB = T "/pub"
        COPY = T "/copy." ENVIRON["MC_FLUSH"]
        PUBCMD = "{ if openssl pkey -passin pass: -pubout 2>/dev/null; then :; else echo %KEYERR; fi; } >\"$MC_T/pub\""
    }
    {
        job = $1
        kind = $2
        mode = $3
        size = $4
        path = $0
        for (i = 1; i <= 4; i++) path = substr(path, index(path, " ") + 1)
        file = (kind ~ /^cmd/) ? path : R path
        n = 0
        total = 0
        while ((getline line < file) > 0) {
            L[++n] = line
            total += length(line) + 1
        }
        close(file)
        BODY = T "/j." job
        if (kind ~ /^cmd/) { # the output and one more newline
            nonl = !(n > 0 && L[n] == "")
            if (!nonl) n--
            bytes = 0
            for (i = 1; i <= n; i++) {
                line = L[i]
                nl = (i < n || !nonl)
                if (kind == "cmderr" && bytes + length(line) + nl > 4096) { # as `head -c 4096`
                    if (4096 - bytes > 0) {
                        print substr(line, 1, 4096 - bytes) >> stream(mode)
                        nonl = 1
                    } else {
                        i--
                        nonl = 0
                    }
                    n = i
                    break
                }
                bytes += length(line) + nl
                print line >> stream(mode)
            }
            redacted(mode, n, nonl)
            print "%J-END" >> FRAG
            next
        }
        nonl = (n > 0 && total == size + 1)
        haspem = 0
        for (i = 1; i <= n && !haspem; i++) haspem = index(L[i], "-----BEGIN ") > 0
        if (haspem) {
            pem(n)
            print "" > BODY
            close(BODY)
            header("pem", path, "")
            print "%B f " BODY "\n%E" >> FRAG
            if (kind == "config") {
                inblk = 0
                for (i = 1; i <= n; i++) print strip(L[i]) >> stream(mode)
                header("text", path, "")
                redacted(mode, n, 0)
                print "%E" >> FRAG
            }
            print "%J-END" >> FRAG
            next
        }
        blank = 1
        control = 0
        for (i = 1; i <= n; i++) {
            if (blank && L[i] !~ /^[ \t\r]*$/) blank = 0
            if (L[i] ~ /[\000-\010\013\014\016-\037\177]/) {
                control = 1
                break
            }
        }
        if (blank && kind != "config" && kind != "cron" && kind != "version") why = "empty"
        else if (n > 0 && substr(L[1], 1, 1) == "0") why = "der"
        else if (control) why = "binary"
        else why = "text"
        if (why == "binary" || why == "der" || kind == "meta" || kind == "pem" || kind == "ref") {
            header("nopem", path, " why=" why)
            print "%E\n%J-END" >> FRAG
            next
        }
        header("text", path, "")
        if (kind == "cron" || kind == "version") {
            filtered(kind, n, nonl)
            close(BODY)
            print "%B f " BODY >> FRAG
        } else {
            for (i = 1; i <= n; i++) print L[i] >> stream(mode)
            redacted(mode, n, nonl)
        }
        print "%E\n%J-END" >> FRAG
        sent(path)
    }'

# The document: the plan as it is (a "%V FILE" line: FILE's lines as they are), each body ("%B KIND ...";
# a content job's records from $T/frag) in base64
# lines of 76 characters as `base64` writes them. Bodies: v VALUE (the rest of the line); f FILE (the file
# without its last newline); t FILE (a text file as it is); r COUNT NONL STREAM (the next COUNT lines of a
# redacted stream, the last without newline when NONL is 1, then the `%` line's own); proc PID (the process's
# stat, a newline, its command line with NULs as spaces, a newline).
# shellcheck disable=SC2016 # an awk program
FRAME_AWK='
    function put(s,    n, i, j, r, v) {
        s = carry s
        n = length(s)
        for (i = 1; i + 56 <= n; i += 57) {
            r = ""
            for (j = i; j < i + 57; j += 3) {
                v = ORD[substr(s, j, 1)] * 65536 + ORD[substr(s, j + 1, 1)] * 256 + ORD[substr(s, j + 2, 1)]
                r = r H[int(v / 4096)] H[v % 4096]
            }
            print r
        }
        carry = substr(s, i)
    }
    function end_body(    n, j, r, v) {
        n = length(carry)
        r = ""
        for (j = 1; j + 2 <= n; j += 3) {
            v = ORD[substr(carry, j, 1)] * 65536 + ORD[substr(carry, j + 1, 1)] * 256 + ORD[substr(carry, j + 2, 1)]
            r = r H[int(v / 4096)] H[v % 4096]
        }
        if (n - j == 0) r = r H[int(ORD[substr(carry, j, 1)] * 16)] "=="
        else if (n - j == 1) {
            v = ORD[substr(carry, j, 1)] * 256 + ORD[substr(carry, j + 1, 1)]
            r = r H[int(v / 16)] C[(v % 16) * 4] "="
        }
        if (r != "") print r
        carry = ""
    }
    function spaces(s,    i, r) {
        r = ""
        while ((i = index(s, NUL)) > 0) {
            r = r substr(s, 1, i - 1) " "
            s = substr(s, i + 1)
        }
        return r s
    }
    function body(spec,    kind, f, line, first, count, nonl, k) {
        kind = substr(spec, 1, index(spec, " ") - 1)
        f = substr(spec, index(spec, " ") + 1)
        if (kind == "v") {
            put(f)
        } else if (kind == "f" || kind == "t") {
            first = 1
            while ((getline line < f) > 0) {
                put(kind == "t" ? line "\n" : first ? line : "\n" line)
                first = 0
            }
            close(f)
        } else if (kind == "r") {
            count = substr(f, 1, index(f, " ") - 1) + 0
            f = substr(f, index(f, " ") + 1)
            nonl = substr(f, 1, index(f, " ") - 1) + 0
            f = substr(f, index(f, " ") + 1)
            for (k = 1; k <= count; k++) {
                if ((getline line < f) <= 0) line = ""
                put(k < count || nonl == 0 ? line "\n" : line)
            }
            getline line < f
        } else if (kind == "proc") {
            while ((getline line < ("/proc/" f "/stat")) > 0) put(line "\n")
            close("/proc/" f "/stat")
            put("\n")
            first = 1
            while ((getline line < ("/proc/" f "/cmdline")) > 0) {
                put((first ? "" : "\n") spaces(line))
                first = 0
            }
            close("/proc/" f "/cmdline")
            put("\n")
        }
        end_body()
    }
    function out(line) {
        if (substr(line, 1, 3) == "%B ") body(substr(line, 4))
        else print line
    }
    BEGIN {
        for (i = 0; i < 256; i++) ORD[sprintf("%c", i)] = i
        NUL = sprintf("%c", 0)
        A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        for (i = 0; i < 64; i++) C[i] = substr(A, i + 1, 1)
        for (i = 0; i < 4096; i++) H[i] = C[int(i / 64)] C[i % 64]
        FRAG = ENVIRON["MC_T"] "/frag"
    }
    /^%J / {
        while ((getline line < FRAG) > 0 && line != "%J-END") out(line)
        next
    }
    /^%V / {
        f = substr($0, 4)
        while ((getline line < f) > 0) print line
        close(f)
        next
    }
    { out($0) }'

# stat's fields for a path: the names last, joined by a / (which no user or group name holds)
ST_FORMAT='%a %u %g %Y %s %y %U/%G'

# "%L TARGET": where a link led. A target holding a newline (a folder named so) goes through a file that
# FRAME_AWK copies as it is ("%V FILE"), so that no line of it is ever read as a plan line ("%B f /etc/shadow").
link_line() {
    case $1 in
    *"$NL"*)
        next_body
        printf '%%L %s\n' "$1" >"$BODY"
        printf '%%V %s\n' "$BODY"
        ;;
    *) printf '%%L %s\n' "$1" ;;
    esac
}

# path record: the file or folder as the service sees it (symlinks followed) and where links led.
# Sets ST_TYPE (f, d, o, missing, outside) and ST_SIZE for the caller.
statrec() {
    st_p=$1
    st_f=$R$st_p
    st_link=0
    st_res=$st_p
    ST_SIZE=0
    if [ -L "$st_f" ] || [ -n "$R" ]; then
        [ -L "$st_f" ] && st_link=1
        st_res=$(readlink -f -- "$st_f" 2>/dev/null)
        if [ -n "$R" ] && [ -n "$st_res" ]; then
            case $st_res in
            /dev/null) ;;
            "$R") st_res=/ ;;
            "$R"/*) st_res=${st_res#"$R"} ;;
            *)
                ST_TYPE=outside
                rec0 path "$st_p" t=outside "l=$st_link"
                return
                ;;
            esac
        fi
    fi
    if [ ! -e "$st_f" ]; then
        ST_TYPE=missing
        rec0 path "$st_p" t=missing "l=$st_link"
        [ "$st_link" = 1 ] && link_line "$st_res"
        return
    fi
    if [ -d "$st_f" ]; then ST_TYPE=d; elif [ -f "$st_f" ]; then ST_TYPE=f; else ST_TYPE=o; fi
    if [ "$ST_BATCH" = 1 ]; then
        # shellcheck disable=SC2086
        set -- $ST_LINE
    else
        # shellcheck disable=SC2046
        set -- $(stat -L -c "$ST_FORMAT" -- "$st_f" 2>/dev/null)
    fi
    if [ $# -lt 9 ]; then
        rec0 path "$st_p" "t=$ST_TYPE" "l=$st_link" e=stat
    else
        ST_SIZE=$5
        # %y ("2026-01-02 03:04:05.123456789 +0000") carries the sub-second part that %Y drops; a user or group
        # name with a space (AD's "domain users") stays whole, its spaces sent as %20 (fields end at a space)
        st_m=$1 st_u=$2 st_g=$3 st_mt=$4 st_mf=$7
        shift 8
        st_names=
        for st_w in "$@"; do st_names=${st_names:+$st_names%20}$st_w; done
        rec0 path "$st_p" "t=$ST_TYPE" "l=$st_link" "m=$st_m" "u=$st_u" "g=$st_g" "mt=$st_mt" "s=$ST_SIZE" \
            "on=${st_names%%/*}" "gn=${st_names#*/}" "mf=$st_mf"
    fi
    [ "$st_res" = "$st_p" ] || link_line "$st_res"
}

# One stat for a whole list of paths instead of one per path: stat_batch LIST runs it (LIST: host paths, one
# a line, in the order they will be visited), then stat_take HOSTPATH before each statrec sets ST_LINE to
# stat's fields for that path, or to nothing where stat printed no line (it failed). Lines come in argument
# order and end with the name, so one look at the next unread line tells which.
ST_BATCH=0
ST_LINE=
stat_batch() {
    sb_list=$1
    : >"$T/stats"
    set --
    while IFS= read -r sb_p; do
        set -- "$@" "$R$sb_p"
        # a stat per 1000 paths: a long list (15 folders of up to 5000 files) stays far below ARG_MAX
        [ $# -lt 1000 ] || {
            stat -L -c "$ST_FORMAT %n" -- "$@" >>"$T/stats" 2>/dev/null
            set --
        }
    done <"$sb_list"
    [ $# -eq 0 ] || stat -L -c "$ST_FORMAT %n" -- "$@" >>"$T/stats" 2>/dev/null
    exec 4<"$T/stats"
    ST_NEXT=
    IFS= read -r ST_NEXT <&4 || :
    ST_BATCH=1
}
nwords() { NW=$#; }
stat_take() {
    ST_LINE=${ST_NEXT%" $R$1"}
    NW=0
    # shellcheck disable=SC2086
    [ "$ST_LINE" = "$ST_NEXT" ] || nwords $ST_LINE
    # the format's 9 fields (more where a user or group name holds a space, as AD groups do), then this name
    if [ "$NW" -ge 9 ]; then
        ST_NEXT=
        IFS= read -r ST_NEXT <&4 || :
    else
        ST_LINE=
    fi
}
stat_done() {
    ST_BATCH=0
    exec 4<&-
}

# visit_list LIST WANT: visit every host path listed in LIST (stat for all at once); WANT `stat`: statrec only.
# An empty WANT asks want_for, path by path.
visit_list() {
    stat_batch "$1"
    while IFS= read -r vl_p; do
        stat_take "$vl_p"
        case $2 in
        stat) statrec "$vl_p" ;;
        '')
            want_for "$vl_p"
            visit "$vl_p" "$WANT"
            ;;
        *) visit "$vl_p" "$2" ;;
        esac
    done <"$1"
    stat_done
}

# visit HOSTPATH WANT: path record, then content per WANT: config (redacted text), cron (only the lines that
# mention certbot, others blanked), version (only the __version__ line), ref (a referenced file: text only when
# it is an executable script, e.g. a hook's helper), pem or meta (no text). Any file holding a PEM block gets
# PEM treatment whatever WANT says, so key bytes are never sent (CONTENT_AWK).
visit() {
    vi_p=$1
    vi_want=$2
    printf '%s\n' "$vi_p" >>"$T/seen"
    statrec "$vi_p"
    [ "$ST_TYPE" = f ] || return
    vi_f=$R$vi_p
    if [ "$ST_SIZE" -gt "$MAX" ]; then
        rec0 toolarge "$vi_p"
        return
    fi
    if [ ! -r "$vi_f" ]; then
        rec0 unreadable "$vi_p"
        return
    fi
    [ "$vi_want" = ref ] && [ -x "$vi_f" ] && vi_want=refx
    redact_mode "$vi_p"
    job "$vi_want" "$rd_mode" "$ST_SIZE" "$vi_p"
    PENDING=$PENDING$vi_p$NL
}

# Which files of a walked folder are configuration (sent as text); the rest only as metadata/PEM.
want_for() { # sets WANT
    case $1 in
    /etc/postfix/*.cf) WANT=config ;;
    /etc/dovecot/*.conf | /etc/dovecot/*.ext) WANT=config ;;
    /etc/exim4/*passwd* | /etc/exim4/*.key) WANT=meta ;;
    /etc/exim4/*) WANT=config ;;
    /etc/exim/*passwd* | /etc/exim/*.key) WANT=meta ;;
    /etc/exim/*) WANT=config ;;
    /var/cpanel/ssl/*) WANT=pem ;;
    /etc/letsencrypt/live/* | /etc/letsencrypt/archive/*) WANT=pem ;;
    /etc/letsencrypt/*) WANT=config ;;
    /etc/cron*) WANT=cron ;;
    */systemd/*) WANT=config ;;
    *) WANT=meta ;;
    esac
}

# Files named by `!include`/`!include_try` (Dovecot) and `.include`/`.include_if_exists` (Exim) in the
# configuration sent so far, relative to the including file, globs expanded here: sent as configuration.
# Relative `<file` values (Dovecot) are looked at too. Repeated for includes of includes.
include_pass() {
    flush
    ip_scan=$T/textfiles
    IP_DOVECOT=0
    IP_EXIM=0
    for _ in 1 2 3 4; do # includes of includes, a few levels deep
        # One awk for all files of this pass: what sed -n would print for these three substitutions, in
        # turn on the same line (`s/^\s*!include(_try)?\s+//p`, `s/^\s*\.include(_if_exists)?\s+//p` and
        # `s/^[^#]*=\s*<\s*([^/\s"][^\s"]*).*$/\1/p`), trailing space and one pair of quotes taken off,
        # relative names joined to the including file's folder.
        awk -v R="$R" '
        # "." and ".." resolved in the text, as posixpath.normpath does (the folder limit below sees the result)
        function norm(p,    n, parts, out, i, k, r) {
            n = split(p, parts, "/")
            k = 0
            for (i = 1; i <= n; i++) {
                if (parts[i] == "" || parts[i] == ".") continue
                if (parts[i] == "..") { if (k > 0) k--; continue }
                out[++k] = parts[i]
            }
            r = ""
            for (i = 1; i <= k; i++) r = r "/" out[i]
            return r == "" ? "/" : r
        }
        function put(t, dir) {
            sub(/[[:space:]]+$/, "", t)
            if (t ~ /^".*"$/) t = substr(t, 2, length(t) - 2)
            if (t ~ /^\//) print norm(t)
            else if (t != "") print norm(dir "/" t)
        }
        function value(line,    last, i, rest) {
            last = index(line, "#") ? index(line, "#") - 1 : length(line) # "=" comes before any "#"
            for (i = last; i > 0; i--) {
                if (substr(line, i, 1) != "=") continue
                rest = substr(line, i + 1)
                if (match(rest, /^[[:space:]]*<[[:space:]]*[^\/[:space:]"]/) == 0) continue
                rest = substr(rest, RLENGTH)
                match(rest, /^[^[:space:]"]*/)
                return substr(rest, 1, RLENGTH)
            }
            return ""
        }
        {
            dir = $0
            sub(/\/[^\/]*$/, "", dir)
            path = R $0
            while ((getline line < path) > 0) {
                if (sub(/^[[:space:]]*!include(_try)?[[:space:]]+/, "", line)) put(line, dir)
                if (sub(/^[[:space:]]*\.include(_if_exists)?[[:space:]]+/, "", line)) put(line, dir)
                found = value(line)
                if (found != "") put(found, dir)
            }
            close(path)
        }' "$ip_scan" >"$T/inc.targets"
        ip_scan=$T/inc.scan
        : >"$T/inc.scan"
        : >"$T/inc.paths"
        ip_ifs=$IFS
        while IFS= read -r ip_t; do
            IFS='
'
            # shellcheck disable=SC2086
            for ip_g in $R$ip_t; do printf '%s\n' "${ip_g#"$R"}"; done >>"$T/inc.paths"
            IFS=$ip_ifs
        done <"$T/inc.targets"
        # Only inside the service's own folders, at most 200 files each (mailcert/services/include_scope.py
        # has the same limits; the parsers report what is left out): an include of /etc/shadow sends nothing.
        # The paths inside them are stat'ed at once; the TEXTFILES test needs the jobs of earlier files run.
        : >"$T/inc.stat"
        while IFS= read -r ip_p; do
            include_scope "$ip_p" && printf '%s\n' "$ip_p" >>"$T/inc.stat"
        done <"$T/inc.paths"
        stat_batch "$T/inc.stat"
        while IFS= read -r ip_p; do
            include_scope "$ip_p" || continue
            stat_take "$ip_p"
            case $PENDING in *"$NL$ip_p$NL"*) flush ;; esac
            case $TEXTFILES in *"$NL$ip_p$NL"*) continue ;; esac
            case $IP_SCOPE in
            dovecot)
                IP_DOVECOT=$((IP_DOVECOT + 1))
                [ "$IP_DOVECOT" -le 200 ] || continue
                ;;
            *)
                IP_EXIM=$((IP_EXIM + 1))
                [ "$IP_EXIM" -le 200 ] || continue
                ;;
            esac
            visit "$ip_p" config
            [ "$ST_TYPE" = f ] && printf '%s\n' "$ip_p" >>"$T/inc.scan"
        done <"$T/inc.paths"
        stat_done
        [ -s "$T/inc.scan" ] || break
    done
}
include_scope() { # include_scope PATH: sets IP_SCOPE (dovecot or exim); false outside both
    case $1 in
    */../* | */..) return 1 ;;
    /etc/dovecot/* | /usr/local/etc/dovecot/* | /usr/share/dovecot/*) IP_SCOPE=dovecot ;;
    /etc/exim4/* | /etc/exim/* | /etc/exim.* | /usr/local/etc/exim/* | /usr/exim/*) IP_SCOPE=exim ;;
    *) return 1 ;;
    esac
}

# What the host holds, visited in this order: the service folders walked, single files, the commands'
# paths, systemd's certbot units, certbot's version, certbot's log. Every path is known before the first
# visit (one find for the folders, one for the units, markers between the folders' lists), so one stat
# serves them all. $T/todo holds the steps: "v:WANT PATH" (visit; no WANT: want_for), "s PATH" (statrec),
# "w:COMPLETE DIR" (every file below DIR was listed when COMPLETE is 1: any other path under it does not
# exist), "l PATH" (the log).
WALKED='/etc/postfix /etc/dovecot /etc/exim4 /etc/exim /var/cpanel/ssl /etc/letsencrypt/live
    /etc/letsencrypt/archive /etc/letsencrypt/renewal /etc/letsencrypt/renewal-hooks /etc/cron.d
    /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly'
UNITS='/etc/systemd/system /lib/systemd/system /usr/lib/systemd/system'
MARK=$T/mark.certbot # a file each find prints after a folder's list (its name matches the units' -name)
: >"$MARK"
found() { # found TEST HOSTDIR...: sets FOUND to the HOSTDIRs that pass `[ TEST ]` on this host, framed by
    # newlines, and the arguments for find: each one's host path and the marker after it
    fd_test=$1
    shift
    FOUND=$NL
    for fd_d in "$@"; do test "$fd_test" "$R$fd_d" && FOUND=$FOUND$fd_d$NL; done
}
take_found() { # take_found MAX PREFIX: copy the next folder's list from fd 5 to $T/todo, at most MAX lines
    tf_n=0
    while IFS= read -r tf_f <&5; do
        [ "$tf_f" = "$MARK" ] && break
        tf_n=$((tf_n + 1))
        [ "$tf_n" -le "$1" ] && printf '%s %s\n' "$2" "${tf_f#"$R"}" >>"$T/todo"
    done
    TF_COMPLETE=1
    [ "$tf_n" -le "$1" ] || TF_COMPLETE=0
}
# shellcheck disable=SC2086 # the lists above split on white space
found -e $WALKED
set --
for d in $WALKED; do case $FOUND in *"$NL$d$NL"*) set -- "$@" "$R$d" "$MARK" ;; esac; done
: >"$T/walk"
[ $# -eq 0 ] || find -H "$@" \( -type d -o -type f -o -type l \) -print >"$T/walk" 2>/dev/null
WALK_FOUND=$FOUND
# shellcheck disable=SC2086
found -d $UNITS
set --
for d in $UNITS; do case $FOUND in *"$NL$d$NL"*) set -- "$@" "$R$d" "$MARK" ;; esac; done
: >"$T/units"
[ $# -eq 0 ] || find -H "$@" -maxdepth 2 \( -name '*certbot*' -o -name '*letsencrypt*' \) \
    \( -type f -o -type l \) -print >"$T/units" 2>/dev/null
: >"$T/todo"
exec 5<"$T/walk"
for d in $WALKED; do
    case $WALK_FOUND in
    *"$NL$d$NL"*)
        take_found 5000 v:
        printf 'w:%s %s\n' "$TF_COMPLETE" "$d" >>"$T/todo"
        ;;
    *) printf 's %s\n' "$d" >>"$T/todo" ;;
    esac
done
for p in /etc/exim.conf /etc/default/exim4 /var/lib/exim4/config.autogenerated /etc/mailname /etc/hostname \
    /etc/services /etc/letsencrypt/cli.ini /etc/os-release /usr/local/cpanel/version /etc/userdomains; do
    printf 'v:config %s\n' "$p" >>"$T/todo"
done
for p in /etc/crontab /var/spool/cron/crontabs/root /var/spool/cron/root; do
    printf 'v:cron %s\n' "$p" >>"$T/todo"
done
for p in /run/systemd/system /etc/systemd/system/timers.target.wants /usr/bin /usr/local/bin /snap/bin \
    /usr/bin/certbot /usr/local/bin/certbot /snap/bin/certbot /usr/local/bin/certbot-auto \
    /usr/bin/apt-get /usr/bin/dnf /usr/bin/yum; do # the package manager, for fix --install-certbot
    printf 's %s\n' "$p" >>"$T/todo"
done
exec 5<"$T/units"
for d in $UNITS; do
    printf 's %s\n' "$d" >>"$T/todo"
    case $FOUND in *"$NL$d$NL"*) take_found 100 v:config ;; esac
done
exec 5<&-
for f in "$R"/usr/lib/python3/dist-packages/certbot/__init__.py \
    "$R"/snap/certbot/current/lib/python3*/site-packages/certbot/__init__.py \
    "$R"/usr/lib/python3*/site-packages/certbot/__init__.py \
    "$R"/usr/local/lib/python3*/dist-packages/certbot/__init__.py; do
    [ -f "$f" ] && printf 'v:version %s\n' "${f#"$R"}" >>"$T/todo"
done
# certbot's log: only its "Failed to renew" lines (the reason renewals fail), never the rest.
LOG=/var/log/letsencrypt/letsencrypt.log
printf 'l %s\n' "$LOG" >>"$T/todo"
: >"$T/list"
while IFS= read -r step; do
    case $step in w:*) ;; *) printf '%s\n' "${step#* }" >>"$T/list" ;; esac
done <"$T/todo"
stat_batch "$T/list"
while IFS= read -r step; do
    p=${step#* }
    case ${step%% *} in
    w:*)
        op=${step%% *}
        rec0 walked "$p" "complete=${op#w:}"
        ;;
    s)
        stat_take "$p"
        statrec "$p"
        ;;
    l)
        stat_take "$p"
        statrec "$p"
        if [ "$ST_TYPE" = f ]; then
            next_body
            { grep -e ':ERROR:.*Failed to renew certificate' -- "$R$p" 2>/dev/null | tail -n 200; echo; } >"$BODY"
            recref text "$p" "f $BODY"
        fi
        ;;
    v:)
        stat_take "$p"
        want_for "$p"
        visit "$p" "$WANT"
        ;;
    v:*)
        stat_take "$p"
        op=${step%% *}
        visit "$p" "${op#v:}"
        ;;
    esac
done <"$T/todo"
stat_done

include_pass

# Effective configuration from the daemons' own tools, where installed.
TO=
have timeout && TO="timeout 30"
CMDS=0
cmdrec() { # cmdrec NAME COMMAND ARGS...
    cr_name=$1
    shift
    if ! have "$1"; then
        rec0 cmd "$cr_name" rc=127
        return
    fi
    CMDS=$((CMDS + 1))
    cr_out=$T/out.$CMDS
    $TO "$@" >"$cr_out" 2>"$T/err.$CMDS" 3>&-
    cr_rc=$?
    # Through the same rule as every file: `postconf -n` prints smtp_sasl_password_maps = static:user:PW
    # as the file holds it (it was sent raw, so the secret reached the control machine inside the record).
    echo >>"$cr_out"
    hdr cmd "$cr_name" "rc=$cr_rc"
    job cmd B - "$cr_out"
    printf '%%E\n'
    if [ -s "$T/err.$CMDS" ]; then
        echo >>"$T/err.$CMDS"
        hdr cmderr "$cr_name"
        job cmderr E - "$T/err.$CMDS"
        printf '%%E\n'
    fi
}
if [ -f "$R/etc/postfix/main.cf" ]; then
    set --
    [ -n "$R" ] && set -- -c "$R/etc/postfix"
    cmdrec postconf-n postconf "$@" -n
    cmdrec postconf-nx postconf "$@" -nx
    # postconf sleeps a second before a fatal exit: ask about master.cf only when there is one.
    if [ -f "$R/etc/postfix/master.cf" ]; then
        cmdrec postconf-M postconf "$@" -M
        cmdrec postconf-Px postconf "$@" -Px
    fi
    cmdrec postfix-version postconf "$@" -h mail_version
fi
if [ -f "$R/etc/dovecot/dovecot.conf" ]; then
    if [ -n "$R" ]; then
        cmdrec doveconf-n doveconf -c "$R/etc/dovecot/dovecot.conf" -n
    else
        cmdrec doveconf-n doveconf -n
    fi
    cmdrec dovecot-version dovecot --version
fi
EXIM=
for x in exim4 exim; do have "$x" && EXIM=$x && break; done
EXIMCONF=
for c in /var/lib/exim4/config.autogenerated /etc/exim4/exim4.conf /etc/exim.conf /etc/exim/exim.conf; do
    [ -f "$R$c" ] && EXIMCONF=$R$c && break
done
if [ -n "$EXIM" ] && [ -n "$EXIMCONF" ]; then
    set --
    [ -n "$R" ] && set -- -C "$EXIMCONF"
    cmdrec exim-bP "$EXIM" "$@" -bP primary_hostname daemon_smtp_ports local_interfaces tls_on_connect_ports \
        tls_advertise_hosts tls_certificate tls_privatekey tls_require_ciphers openssl_options tls_dhparam \
        tls_verify_certificates auth_advertise_hosts
    cmdrec exim-version "$EXIM" "$@" -bV
fi

# File names in the text sent so far (TEXT_AWK, one pass over $T/textlist's files; sorted as `sort -u` in
# the C locale): MC_WANT=sni, the files given to Postfix SNI maps (type:/path), as
#   grep sni_maps | tr -cs 'A-Za-z0-9._@+/:-' '\n' | sed -n 's/^[a-z0-9]*:\(\/.*\)$/\1/p'
# MC_WANT=refs, every absolute path named (a word of [A-Za-z0-9._@+/-], or quoted, "/etc/ssl/my cert.pem",
# the last quoted one of a line), trailing slashes taken off, none under /proc, /sys or /dev, none already
# visited ($T/seen), the first 2000.
TEXT_AWK='
    function sort(a, lo, hi,    i, last, t, mid) {
        if (lo >= hi) return
        mid = int((lo + hi) / 2)
        t = a[lo]; a[lo] = a[mid]; a[mid] = t
        last = lo
        for (i = lo + 1; i <= hi; i++) if ((a[i] "") < (a[lo] "")) { t = a[++last]; a[last] = a[i]; a[i] = t }
        t = a[lo]; a[lo] = a[last]; a[last] = t
        sort(a, lo, last - 1)
        sort(a, last + 1, hi)
    }
    function add(p) {
        if (WANT == "refs") {
            if (p !~ /^\/[A-Za-z0-9]/) return
            sub(/\/+$/, "", p)
            if (p ~ /^\/(proc|sys|dev)/ || p in SEEN) return
        }
        if (!(p in GOT)) {
            GOT[p] = 1
            LIST[++N] = p
        }
    }
    function quoted(s, q,    i, at, rest, end) { # sed: s/.*Q<\{0,1\}\(\/[^Q]*\)Q.*/\1/p (the last one)
        at = 0
        while ((i = index(substr(s, at + 1), q)) > 0) {
            at += i
            rest = substr(s, at + 1)
            if (substr(rest, 1, 1) == "<") rest = substr(rest, 2)
            if (substr(rest, 1, 1) != "/") continue
            end = index(substr(rest, 2), q)
            if (end > 0) FOUNDQ = substr(rest, 1, end)
        }
        return FOUNDQ
    }
    function line(s,    n, i, w, t) {
        if (WANT == "sni") {
            if (!index(s, "sni_maps")) return
            gsub(/[^A-Za-z0-9._@+\/:-]+/, " ", s)
            n = split(s, w, " ")
            for (i = 1; i <= n; i++) if (match(w[i], /^[a-z0-9]*:\//)) add(substr(w[i], RLENGTH))
            return
        }
        t = s
        gsub(/[^A-Za-z0-9._@+\/-]+/, " ", t)
        n = split(t, w, " ")
        for (i = 1; i <= n; i++) add(w[i])
        FOUNDQ = ""
        if (quoted(s, "\"") != "") {
            add(FOUNDQ)
            s = FOUNDQ
        }
        FOUNDQ = ""
        if (quoted(s, "\047") != "") add(FOUNDQ)
    }
    BEGIN {
        T = ENVIRON["MC_T"]
        WANT = ENVIRON["MC_WANT"]
        if (WANT == "refs") while ((getline p < (T "/seen")) > 0) SEEN[p] = 1
        while ((getline f < (T "/textlist")) > 0) {
            while ((getline s < f) > 0) line(s)
            close(f)
        }
        sort(LIST, 1, N)
        if (WANT == "refs" && N > 2000) N = 2000
        for (i = 1; i <= N; i++) print LIST[i]
    }'
redact_round
# Names of files given to Postfix SNI maps (type:/path): their text is configuration too.
# (seen already as plain files of /etc/postfix: visited again, now as configuration)
MC_T=$T MC_WANT=sni awk "$TEXT_AWK" >"$T/sni"
: >"$T/list"
while IFS= read -r p; do printf '%s\n' "$p" "$p.db" "$p.lmdb" "$p.cdb" >>"$T/list"; done <"$T/sni"
stat_batch "$T/list"
while IFS= read -r p; do
    stat_take "$p"
    visit "$p" config
    for x in db lmdb cdb; do
        stat_take "$p.$x"
        statrec "$p.$x"
    done
done <"$T/sni"
stat_done

# Every absolute path named in configuration or daemon output: certificates, keys, CA files.
redact_round
MC_T=$T MC_WANT=refs awk "$TEXT_AWK" >"$T/refs"
visit_list "$T/refs" ref

# Services: systemd units when systemd runs this host, and the daemons' processes in this host's namespaces.
if [ -z "$R" ] && have systemctl && [ -d /run/systemd/system ]; then
    cmdrec systemctl systemctl show --no-pager -p Id,LoadState,ActiveState,SubState,ActiveEnterTimestamp,MainPID \
        -- postfix.service dovecot.service exim4.service exim.service certbot.timer certbot-renew.timer \
        snap.certbot.renew.timer
fi
awk 'FNR == 1 { print FILENAME " " $0 }' /proc/[0-9]*/comm 2>/dev/null >"$T/comm"
while read -r pr_file pr_comm; do
    case $pr_comm in master | dovecot | exim4 | exim) ;; *) continue ;; esac
    pr_dir=${pr_file%/comm}
    # the same namespaces: the same device and inode (readlink shows the inode: mnt:[INODE]); -ef is in
    # POSIX.1-2024's test and in dash's, bash's, busybox's and ksh's
    # shellcheck disable=SC3013
    [ "$pr_dir/ns/mnt" -ef /proc/self/ns/mnt ] || continue
    # shellcheck disable=SC3013
    [ "$pr_dir/ns/net" -ef /proc/self/ns/net ] || continue
    recref proc "$pr_comm" "proc ${pr_dir#/proc/}" "pid=${pr_dir#/proc/}"
done <"$T/comm"
BTIME=
if [ -r /proc/stat ]; then
    while read -r bt_key bt_value; do [ "$bt_key" = btime ] && BTIME=$bt_value; done </proc/stat
fi
meta btime "$BTIME"
meta clk_tck "$(getconf CLK_TCK 2>/dev/null)"
for n in tcp tcp6; do
    if [ -r "/proc/net/$n" ]; then recref proc-net "$n" "t /proc/net/$n"; fi
done
# `mailcert fix` runs whose host-side worker died before it recorded how the switch ended (status running,
# or a restore under way; no worker.done; no live worker): one "unfinished" record each, named RUN@HOST,
# with the step it died in. Nothing else of the state folder is read (its records hold backups and keys).
if [ -n "$STATE" ] && [ -d "$R$STATE/runs" ]; then
    for uf_dir in "$R$STATE"/runs/*@*/; do
        uf_dir=${uf_dir%/}
        { [ -d "$uf_dir" ] && [ -f "$uf_dir/status" ] && [ ! -e "$uf_dir/worker.done" ]; } || continue
        uf_phase=$(head -c 40 "$uf_dir/phase" 2>/dev/null | head -n 1 | tr -cd 'a-z0-9.-')
        [ "$(head -n 1 "$uf_dir/status")" = running ] || [ "$uf_phase" = restoring ] || continue
        uf_pid=$(head -c 20 "$uf_dir/worker.pid" 2>/dev/null | tr -cd '0-9')
        if [ -n "$uf_pid" ] && [ -r "/proc/$uf_pid/cmdline" ] &&
            tr '\0' ' ' <"/proc/$uf_pid/cmdline" | grep -q mailcert-apply; then
            continue # still working
        fi
        uf_name=${uf_dir##*/}
        case $uf_name in *"
"*) continue ;; esac
        rec0 unfinished "$uf_name" "phase=${uf_phase:-none}"
    done
fi
printf '%%END\n'
redact_round
exec >&3 3>&-
MC_T=$T awk "$FRAME_AWK" "$T/plan"
