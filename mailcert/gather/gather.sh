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
CLOCK=$(date +%s)

have() { command -v "$1" >/dev/null 2>&1; }
if have base64; then
    b64() { base64; }
else
    b64() { openssl base64; }
fi
hdr() { # hdr KIND NAME [k=v ...]
    hd_kind=$1
    hd_name=$2
    shift 2
    printf '%%R %s' "$hd_kind"
    for hd_kv in "$@"; do printf ' %s' "$hd_kv"; done
    printf '\n%%P %s\n' "$hd_name"
}
rec() { # rec KIND NAME [k=v ...] < body
    hdr "$@"
    b64
    printf '%%E\n'
}
rec0() { # rec0 KIND NAME [k=v ...]: a record without body
    hdr "$@"
    printf '%%E\n'
}
meta() { printf '%s' "$2" | rec meta "$1"; }

# Scratch space for lists and command output (never key material); a fresh private folder, removed at exit.
T=$(mktemp -d 2>/dev/null) || {
    T=/tmp/mailcert-gather.$$
    mkdir -m 700 "$T" || {
        echo "mailcert gather: cannot make a private temporary folder" >&2
        exit 1
    }
}
trap 'rm -rf "$T"' EXIT HUP INT TERM
: >"$T/seen"
: >"$T/textfiles"
: >"$T/text"
NL='
'
TEXTFILES=$NL # the files sent as text, each line framed by newlines (for `case`, without a process)

printf '%%MAILCERT-GATHER 1\n'
meta clock "$CLOCK"
meta root "$ROOT"
meta node "$(uname -n 2>/dev/null)"
meta uid "$(id -u 2>/dev/null)"
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
# `redact PATH [SEDCMD]`: SEDCMD (a `w FILE` from next_copy) also runs on every output line.
redact() {
    rd_name=${1-}
    rd_name=${rd_name##*/}
    case $rd_name in
    master.cf) rd_mode=B ;;
    *.cf) rd_mode=P ;;
    *[Ss][Aa][Ss][Ll][_-][Pp][Aa][Ss][Ss][Ww]* | [Pp][Aa][Ss][Ss][Ww][Dd].[Cc][Ll][Ii][Ee][Nn][Tt]*) rd_mode=C ;;
    *) rd_mode=B ;;
    esac
    set -- -e :done ${2:+-e} ${2:+"$2"}
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
# The file's lines with every PEM block (BEGIN to END, or to the end when unterminated) blanked.
strip_blocks() {
    awk '
    {
        if (inblk) {
            if (index($0, "-----END ") > 0) inblk = 0
            print ""
            next
        }
        if (match($0, /-----BEGIN [A-Z0-9][A-Z0-9 ]*-----/)) {
            inblk = (index(substr($0, RSTART + RLENGTH), "-----END ") == 0)
            print ""
            next
        }
        print
    }' "$1"
}
# <<< mailcert-redact
# The configuration text sent is also kept in $T/text, to look for file names in it. Each file's sed writes
# its own copy with `w` (one process fewer per file than `| tee -a`); collect_text appends them to $T/text.
# next_copy runs outside the pipeline, so the count is not lost in a subshell.
COPIES=0
next_copy() {
    COPIES=$((COPIES + 1))
    COPY_W="w $T/copy.$COPIES"
}
collect_text() {
    [ "$COPIES" -gt 0 ] || return 0
    cat "$T"/copy.* >>"$T/text" 2>/dev/null
    rm -f "$T"/copy.*
}

# Certificate blocks as they are; a private key block becomes "%KEY LABEL ENCRYPTED" followed by its public
# key (derived here) or "%KEYERR"; any other block "%OTHER LABEL"; an unterminated block "%BROKEN LABEL".
pem_stream() {
    awk '
    function keyblock(label, body,    encd, cmd, tag) {
        encd = (label == "ENCRYPTED PRIVATE KEY" || index(body, "Proc-Type: 4,ENCRYPTED") > 0) ? 1 : 0
        tag = label
        gsub(/ /, "_", tag)
        print "%KEY " tag " " encd
        if (encd) return
        fflush()
        cmd = "if openssl pkey -passin pass: -pubout 2>/dev/null; then :; else echo %KEYERR; fi"
        printf "%s", body | cmd
        close(cmd)
    }
    {
        line = $0
        sub(/\r$/, "", line)
        if (inblk && index(line, "-----END " label "-----") > 0) {
            body = body line "\n"
            inblk = 0
            if (label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE") {
                printf "%s", body
            } else if (label ~ /PRIVATE KEY$/) {
                keyblock(label, body)
            } else {
                print "%OTHER " label
            }
            body = ""
            next
        }
        if (match(line, /-----BEGIN [A-Z0-9][A-Z0-9 ]*-----/)) {
            if (inblk) print "%BROKEN " label
            label = substr(line, RSTART + 11, RLENGTH - 16)
            inblk = 1
            body = "-----BEGIN " label "-----\n"
            next
        }
        if (inblk) body = body line "\n"
    }
    END { if (inblk) print "%BROKEN " label }
    ' "$1"
}

# How a file without PEM blocks looks, without sending its bytes; sets NP_WHY. (Few processes: this runs for
# every configuration file.) A file whose first byte is 0x30 (DER's SEQUENCE, "0") is der, before binary.
# With a second word `sent`, an empty file is called text: the caller sends both alike (and no empty file
# is der or binary), so that pass over the file is saved.
nopem_reason() {
    if [ "${2:-}" != sent ] && [ "$(tr -d ' \t\r\n' <"$1" | wc -c)" -eq 0 ]; then
        NP_WHY=empty
    elif [ "$(tr -d '\11\12\15\40-\176\200-\377' <"$1" | wc -c)" -ne 0 ]; then
        if [ "$(head -c 1 -- "$1")" = 0 ]; then NP_WHY=der; else NP_WHY=binary; fi
    else
        # text (no NUL, no control byte): the shell's own read of the first line sees the first byte
        np_first=
        IFS= read -r np_first <"$1" || :
        case $np_first in 0*) NP_WHY=der ;; *) NP_WHY=text ;; esac
    fi
}

# stat's fields for a path: the names last, joined by a / (which no user or group name holds)
ST_FORMAT='%a %u %g %Y %s %y %U/%G'

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
        [ "$st_link" = 1 ] && printf '%%L %s\n' "$st_res"
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
    [ "$st_res" = "$st_p" ] || printf '%%L %s\n' "$st_res"
}

# One stat for a whole list of paths instead of one per path: stat_batch LIST runs it (LIST: host paths, one
# a line, in the order they will be visited), then stat_take HOSTPATH before each statrec sets ST_LINE to
# stat's fields for that path, or to nothing where stat printed no line (it failed). Lines come in argument
# order and end with the name, so one look at the next unread line tells which.
ST_BATCH=0
ST_LINE=
stat_batch() {
    sb_list=$1
    set --
    while IFS= read -r sb_p; do set -- "$@" "$R$sb_p"; done <"$sb_list"
    : >"$T/stats"
    [ $# -eq 0 ] || stat -L -c "$ST_FORMAT %n" -- "$@" >"$T/stats" 2>/dev/null
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
# PEM treatment whatever WANT says, so key bytes are never sent.
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
    if grep -q -e '-----BEGIN ' -- "$vi_f" 2>/dev/null; then
        pem_stream "$vi_f" | rec pem "$vi_p"
        # A configuration file with a PEM block in it: its text too, every block's lines blanked.
        if [ "$vi_want" = config ]; then
            next_copy
            strip_blocks "$vi_f" | redact "$vi_p" "$COPY_W" | rec text "$vi_p"
        fi
        return
    fi
    case $vi_want in
    config | cron | version) nopem_reason "$vi_f" sent ;;
    *) nopem_reason "$vi_f" ;;
    esac
    vi_why=$NP_WHY
    case $vi_why:$vi_want in
    binary:* | der:* | *:meta | *:pem) rec0 nopem "$vi_p" "why=$vi_why" ;;
    *:ref) if [ -x "$vi_f" ]; then send_text "$vi_p" config; else rec0 nopem "$vi_p" "why=$vi_why"; fi ;;
    *) send_text "$vi_p" "$vi_want" ;;
    esac
}

send_text() { # send_text HOSTPATH WANT
    next_copy
    case $2 in
    cron) sed -e '/certbot/b out' -e '/letsencrypt/b out' -e 's/.*//' -e :out -e "$COPY_W" <"$R$1" ;;
    version) sed -e '/^__version__/b out' -e 's/.*//' -e :out -e "$COPY_W" <"$R$1" ;;
    *) redact "$1" "$COPY_W" <"$R$1" ;;
    esac | rec text "$1"
    printf '%s\n' "$1" >>"$T/textfiles"
    TEXTFILES="$TEXTFILES$1$NL"
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

walk() { # walk HOSTDIR [find options]
    wk_d=$1
    shift
    [ -e "$R$wk_d" ] || {
        statrec "$wk_d"
        return
    }
    find -H "$R$wk_d" "$@" \( -type d -o -type f -o -type l \) -print 2>/dev/null | head -n 5001 >"$T/walk"
    wk_complete=1
    if [ "$(wc -l <"$T/walk")" -gt 5000 ]; then wk_complete=0; fi
    head -n 5000 "$T/walk" | while IFS= read -r wk_f; do printf '%s\n' "${wk_f#"$R"}"; done >"$T/walk1"
    visit_list "$T/walk1" ""
    # every file below this folder has been listed (complete=1): any other path under it does not exist
    rec0 walked "$wk_d" "complete=$wk_complete"
}

# Files named by `!include`/`!include_try` (Dovecot) and `.include`/`.include_if_exists` (Exim) in the
# configuration sent so far, relative to the including file, globs expanded here: sent as configuration.
# Relative `<file` values (Dovecot) are looked at too. Repeated for includes of includes.
include_pass() {
    cp "$T/textfiles" "$T/inc.scan"
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
        }' "$T/inc.scan" >"$T/inc.targets"
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
        while IFS= read -r ip_p; do
            case $TEXTFILES in *"$NL$ip_p$NL"*) continue ;; esac
            # Only inside the service's own folders, at most 200 files each (mailcert/services/include_scope.py
            # has the same limits; the parsers report what is left out): an include of /etc/shadow sends nothing.
            case $ip_p in
            */../* | */..) continue ;;
            /etc/dovecot/* | /usr/local/etc/dovecot/* | /usr/share/dovecot/*)
                IP_DOVECOT=$((IP_DOVECOT + 1))
                [ "$IP_DOVECOT" -le 200 ] || continue
                ;;
            /etc/exim4/* | /etc/exim/* | /etc/exim.* | /usr/local/etc/exim/* | /usr/exim/*)
                IP_EXIM=$((IP_EXIM + 1))
                [ "$IP_EXIM" -le 200 ] || continue
                ;;
            *) continue ;;
            esac
            visit "$ip_p" config
            [ "$ST_TYPE" = f ] && printf '%s\n' "$ip_p" >>"$T/inc.scan"
        done <"$T/inc.paths"
        [ -s "$T/inc.scan" ] || break
    done
}

for d in /etc/postfix /etc/dovecot /etc/exim4 /etc/exim /var/cpanel/ssl /etc/letsencrypt/live /etc/letsencrypt/archive \
    /etc/letsencrypt/renewal /etc/letsencrypt/renewal-hooks /etc/cron.d /etc/cron.hourly /etc/cron.daily \
    /etc/cron.weekly /etc/cron.monthly; do
    walk "$d"
done
printf '%s\n' /etc/exim.conf /etc/default/exim4 /var/lib/exim4/config.autogenerated /etc/mailname /etc/hostname \
    /etc/services /etc/letsencrypt/cli.ini /etc/os-release /usr/local/cpanel/version /etc/userdomains >"$T/list"
visit_list "$T/list" config
printf '%s\n' /etc/crontab /var/spool/cron/crontabs/root /var/spool/cron/root >"$T/list"
visit_list "$T/list" cron
printf '%s\n' /run/systemd/system /etc/systemd/system/timers.target.wants /usr/bin /usr/local/bin /snap/bin \
    /usr/bin/certbot /usr/local/bin/certbot /snap/bin/certbot /usr/local/bin/certbot-auto \
    /usr/bin/apt-get /usr/bin/dnf /usr/bin/yum >"$T/list" # the package manager, for fix --install-certbot
visit_list "$T/list" stat
for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
    statrec "$d"
    [ -d "$R$d" ] || continue
    find -H "$R$d" -maxdepth 2 \( -name '*certbot*' -o -name '*letsencrypt*' \) \( -type f -o -type l \) \
        -print 2>/dev/null | head -n 100 >"$T/walk"
    while IFS= read -r wk_f; do visit "${wk_f#"$R"}" config; done <"$T/walk"
done
for f in "$R"/usr/lib/python3/dist-packages/certbot/__init__.py \
    "$R"/snap/certbot/current/lib/python3*/site-packages/certbot/__init__.py \
    "$R"/usr/lib/python3*/site-packages/certbot/__init__.py \
    "$R"/usr/local/lib/python3*/dist-packages/certbot/__init__.py; do
    [ -f "$f" ] && visit "${f#"$R"}" version
done
# certbot's log: only its "Failed to renew" lines (the reason renewals fail), never the rest.
LOG=/var/log/letsencrypt/letsencrypt.log
statrec "$LOG"
if [ "$ST_TYPE" = f ]; then
    grep -e ':ERROR:.*Failed to renew certificate' -- "$R$LOG" 2>/dev/null | tail -n 200 | rec text "$LOG"
fi

include_pass

# Effective configuration from the daemons' own tools, where installed.
TO=
have timeout && TO="timeout 30"
cmdrec() { # cmdrec NAME COMMAND ARGS...
    cr_name=$1
    shift
    if ! have "$1"; then
        rec0 cmd "$cr_name" rc=127
        return
    fi
    $TO "$@" >"$T/out" 2>"$T/err"
    cr_rc=$?
    # Through the same rule as every file: `postconf -n` prints smtp_sasl_password_maps = static:user:PW
    # as the file holds it (it was sent raw, so the secret reached the control machine inside the record).
    redact "" <"$T/out" >"$T/out.r"
    rec cmd "$cr_name" "rc=$cr_rc" <"$T/out.r"
    [ -s "$T/err" ] && head -c 4096 "$T/err" | redact "" | rec cmderr "$cr_name"
    cat "$T/out.r" >>"$T/text"
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

collect_text
# Names of files given to Postfix SNI maps (type:/path): their text is configuration too.
grep -h 'sni_maps' "$T/text" 2>/dev/null | tr -cs 'A-Za-z0-9._@+/:-' '\n' | sed -n 's/^[a-z0-9]*:\(\/.*\)$/\1/p' \
    >"$T/sni"
# (seen already as plain files of /etc/postfix: visited again, now as configuration)
grep '^/' "$T/sni" | sort -u >"$T/todo"
while IFS= read -r p; do
    visit "$p" config
    for x in db lmdb cdb; do statrec "$p.$x"; done
done <"$T/todo"

# Every absolute path named in configuration or daemon output: certificates, keys, CA files.
collect_text
sort -u "$T/seen" >"$T/seen.sorted"
{
    tr -cs 'A-Za-z0-9._@+/-' '\n' <"$T/text"
    # quoted values may hold spaces: "/etc/ssl/my cert.pem"
    sed -n -e 's/.*"<\{0,1\}\(\/[^"]*\)".*/\1/p' -e "s/.*'<\\{0,1\\}\\(\\/[^']*\\)'.*/\\1/p" "$T/text"
} | grep '^/[A-Za-z0-9]' | sed 's#/*$##' | grep -v -e '^$' -e '^/proc' -e '^/sys' -e '^/dev' | sort -u |
    comm -23 - "$T/seen.sorted" | head -n 2000 >"$T/todo"
visit_list "$T/todo" ref

# Services: systemd units when systemd runs this host, and the daemons' processes in this host's namespaces.
if [ -z "$R" ] && have systemctl && [ -d /run/systemd/system ]; then
    cmdrec systemctl systemctl show --no-pager -p Id,LoadState,ActiveState,SubState,ActiveEnterTimestamp,MainPID \
        -- postfix.service dovecot.service exim4.service exim.service certbot.timer certbot-renew.timer \
        snap.certbot.renew.timer
fi
MYMNT=$(readlink /proc/self/ns/mnt 2>/dev/null)
MYNET=$(readlink /proc/self/ns/net 2>/dev/null)
awk 'FNR == 1 { print FILENAME " " $0 }' /proc/[0-9]*/comm 2>/dev/null >"$T/comm"
while read -r pr_file pr_comm; do
    case $pr_comm in master | dovecot | exim4 | exim) ;; *) continue ;; esac
    pr_dir=${pr_file%/comm}
    [ "$(readlink "$pr_dir/ns/mnt" 2>/dev/null)" = "$MYMNT" ] || continue
    [ "$(readlink "$pr_dir/ns/net" 2>/dev/null)" = "$MYNET" ] || continue
    {
        cat "$pr_dir/stat" 2>/dev/null
        echo
        tr '\000' ' ' <"$pr_dir/cmdline" 2>/dev/null
        echo
    } | rec proc "$pr_comm" "pid=${pr_dir#/proc/}"
done <"$T/comm"
meta btime "$(sed -n 's/^btime //p' /proc/stat 2>/dev/null)"
meta clk_tck "$(getconf CLK_TCK 2>/dev/null)"
for n in tcp tcp6; do
    if [ -r "/proc/net/$n" ]; then rec proc-net "$n" </proc/net/$n; fi
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
