# prelude.sh is sourced before every scenario. It defines run, which runs
# $KEYCTL (the real keyctl, or keyctl-go under test) once and records what a
# user would see: the command line, stdout, stderr and exit code. See
# ../README.md for the record format. $T is a scratch directory.

# quote prints one argument as the record shows it: bare when it is plain,
# else single-quoted, so records stay readable and unambiguous.
quote() {
	case $1 in
	'' | *[!A-Za-z0-9@%:_./=,+-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

# emit prefixes each line of file $2 with $1; output that does not end in a
# newline gets a marker line, since pipe and rdescribe differ only there.
emit() {
	[ -s "$2" ] || return 0
	sed "s/^/$1 /" "$2"
	[ "$(tail -c1 "$2" | wc -l)" -eq 1 ] || printf '\n\\ no newline at end\n'
}

# record runs one command with stdin from $T/in and records it; the first
# argument is how stdin is _shown ("" for none). Stdout is left in $OUT.
record() {
	_shown=$1
	shift
	printf '$ keyctl'
	for _arg in "$@"; do printf ' %s' "$(quote "$_arg")"; done
	[ -n "$_shown" ] && printf ' < %s' "$_shown"
	printf '\n'
	"$KEYCTL" "$@" >"$T/out" 2>"$T/err" <"$T/in"
	_rc=$?
	emit '>' "$T/out"
	emit '2>' "$T/err"
	printf '? %d\n' "$_rc"
	OUT=$(cat "$T/out")
}

# run ARGS...: keyctl ARGS with empty stdin.
run() {
	: >"$T/in"
	record "" "$@"
}

# runin DATA ARGS...: keyctl ARGS with DATA (no newline added) on stdin;
# long data is _shown by its length.
runin() {
	printf '%s' "$1" >"$T/in"
	if [ ${#1} -gt 40 ]; then _shown="<${#1} bytes>"; else _shown=$(quote "$1"); fi
	shift
	record "$_shown" "$@"
}
