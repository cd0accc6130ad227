//go:build linux

package cli

//go:generate sh -c "go run ../../../cmd/keyctl-go completion bash > ../../../contrib/bash-completion/keyctl-go"

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// completionUsage is printed for a misused completion. It is keyctl-go's
// own command, so it has its own usage rather than keyctl's Format listing.
const completionUsage = `Format:
  keyctl-go completion bash

Prints a bash completion script for keyctl-go: source it (from ~/.bashrc,
say: source <(keyctl-go completion bash)), or install it as
/usr/share/bash-completion/completions/keyctl-go.`

// cmdCompletion is `completion bash`: the completion script, generated
// from the command table, so that a new command or option is completed as
// soon as it has its row.
func cmdCompletion(_ context.Context, a *app, args []string) error {
	if len(args) != 1 || args[0] != "bash" {
		return &exitError{code: 2, msg: completionUsage}
	}
	writeBashCompletion(a.stdout)
	return nil
}

// completionKeyTypes are the key types the store makes, completed where a
// usage line says <type>. (The keyring package does not list its types;
// TestCompletionKeyTypes checks that the store knows each of these.)
var completionKeyTypes = []string{"user", "logon", "big_key", "keyring"}

// Argument kinds: what completes an argument.
const (
	kindNone    = ""        // nothing: a description, a number, data
	kindKey     = "key"     // the special key ids, @s and friends
	kindType    = "type"    // a key type
	kindFile    = "file"    // a path
	kindCommand = "command" // a program to run
	kindWords   = "words:"  // one of these words, comma-separated
)

// placeholderKinds says what completes each <placeholder> of the usage
// lines; one that is not here completes nothing.
var placeholderKinds = map[string]string{
	"key": kindKey, "keyring": kindKey, "from_keyring": kindKey, "to_keyring": kindKey,
	"dest_keyring": kindKey, "private": kindKey, "prime": kindKey, "base": kindKey,
	"type":      kindType,
	"notifylog": kindFile, "gclog": kindFile, "datafile": kindFile, "sigfile": kindFile,
	"path": kindFile, "PATH": kindFile, "file": kindFile, "arg1": kindFile, "arg2": kindFile,
	"prog": kindCommand,
}

// argSpec is what completion knows of a command's arguments, read from
// its usage lines.
type argSpec struct {
	flags  []string // leading flags; "-f*" for one whose value is attached (-f<filters>)
	valued []string // "flag=kind" for each flag followed by a value
	args   []string // the kinds of the positional arguments, in order
	rest   string   // the kind of any arguments past those
}

// parseUsage adds what one usage line says to s. The grammar is keyctl's:
// [optional] parts, -flags (with an attached <value>, or a separate one
// within the flag's brackets), <placeholders>, <a|b|c> alternatives, a
// literal "-", and "..." for more of the same.
func (s *argSpec) parseUsage(usage string) {
	fields := strings.Fields(usage)
	pos, depth := 0, 0 // depth: how many [ are open after this word
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		depth += strings.Count(f, "[") - strings.Count(f, "]")
		w := strings.Trim(f, "[]*")
		switch {
		case w == "|" || w == "" || strings.Contains(w, "="): // alternatives' bar, [k=v]*
		case w == "...":
			if pos > 0 && !strings.HasPrefix(s.args[pos-1], kindWords) && s.rest == kindNone {
				s.rest = s.args[pos-1]
			}
		case strings.HasPrefix(w, "-") && w != "-":
			flag, attached, ok := strings.Cut(w, "<")
			if ok && attached != "" {
				flag += "*"
			}
			if !slices.Contains(s.flags, flag) {
				s.flags = append(s.flags, flag)
			}
			// [-n <name>]: the value is the next word, a placeholder, in
			// the flag's brackets ("-s <type> <desc>" is a flag, then
			// arguments).
			if depth > 0 && i+1 < len(fields) && isPlaceholder(strings.Trim(fields[i+1], "[]")) {
				i++
				depth -= strings.Count(fields[i], "]")
				v := flag + "=" + argKind(strings.Trim(fields[i], "[]"))
				if !slices.Contains(s.valued, v) {
					s.valued = append(s.valued, v)
				}
			}
		default:
			k := argKind(w)
			if pos == len(s.args) {
				s.args = append(s.args, k)
			} else {
				s.args[pos] = mergeKinds(s.args[pos], k)
			}
			pos++
		}
	}
}

// isPlaceholder reports whether w stands for a value: <name>, or a word
// in capitals (PATH).
func isPlaceholder(w string) bool {
	return strings.HasPrefix(w, "<") || w != "" && strings.ToUpper(w) == w && strings.ToLower(w) != w
}

// argKind is the kind of a positional word of a usage line.
func argKind(w string) string {
	if w == "-" {
		return kindWords + "-"
	}
	name, ok := strings.CutPrefix(w, "<")
	if !ok {
		return placeholderKinds[w] // PATH, sep
	}
	name = strings.TrimSuffix(name, ">")
	switch {
	case strings.Contains(name, "|"):
		return kindWords + strings.ReplaceAll(name, "|", ",")
	case name == "cap":
		var names []string
		for _, c := range capabilities {
			names = append(names, c.name)
		}
		return kindWords + strings.Join(names, ",")
	case name == "bash":
		return kindWords + name
	}
	return placeholderKinds[name]
}

// mergeKinds is the kind of a position two usage lines give different
// kinds (session's "-" and <name>): the words of both, else the first
// that completes something.
func mergeKinds(a, b string) string {
	_, aw := strings.CutPrefix(a, kindWords)
	wb, bw := strings.CutPrefix(b, kindWords)
	switch {
	case aw && bw:
		return a + "," + wb
	case a != kindNone:
		return a
	}
	return b
}

// completionSpecs reads the global options from --help's usage line, and
// every command's argSpec from its usage lines: the table's commands, in
// its order, then those it does not hold (daemon, from its Format, and
// --help). names is that order.
func completionSpecs() (global argSpec, names []string, specs map[string]*argSpec) {
	specs = make(map[string]*argSpec)
	for _, c := range commands {
		s := specs[c.name]
		if s == nil {
			s = &argSpec{}
			specs[c.name] = s
			names = append(names, c.name)
		}
		s.parseUsage(c.usage)
	}
	daemon := &argSpec{}
	daemon.parseUsage(strings.TrimPrefix(daemonFormat, "Format: keyctl-go "+daemonCommand+" "))
	specs[daemonCommand] = daemon
	names = append(names, daemonCommand, "--help")
	// The global options are helpText's first line up to <command>.
	line, _, _ := strings.Cut(helpText, "\n")
	line = strings.TrimPrefix(line, "Usage: keyctl-go ")
	line, _, _ = strings.Cut(line, " <command>")
	global.parseUsage(line)
	return global, names, specs
}

// specialKeyIDs are the special key ids, from the Format listing's tail:
// the lines "  @t      thread keyring" and so on.
func specialKeyIDs() []string {
	var ids []string
	for _, l := range strings.Split(usageTail, "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "@") {
			ids = append(ids, f[0])
		}
	}
	return ids
}

// writeBashCompletion writes the bash completion script.
func writeBashCompletion(w io.Writer) {
	global, names, specs := completionSpecs()
	var cmds, dashed []string
	for _, n := range names {
		if strings.HasPrefix(n, "-") {
			dashed = append(dashed, n)
		} else {
			cmds = append(cmds, n)
		}
	}
	fmt.Fprintf(w, bashPrologue, strings.Join(specialKeyIDs(), " "), strings.Join(completionKeyTypes, " "))

	b := &strings.Builder{}
	b.WriteString("_keyctl_go() {\n")
	b.WriteString("\tlocal cur=${COMP_WORDS[COMP_CWORD]} i=1\n\tCOMPREPLY=()\n")
	b.WriteString("\t# The global options, before the command.\n")
	b.WriteString("\twhile ((i < COMP_CWORD)); do\n\t\tcase ${COMP_WORDS[i]} in\n")
	for _, v := range global.valued {
		flag, kind, _ := strings.Cut(v, "=")
		fmt.Fprintf(b, "\t\t%s)\n\t\t\tif ((i + 1 == COMP_CWORD)); then\n\t\t\t\t_keyctl_go_complete %s\n\t\t\t\treturn\n\t\t\tfi\n\t\t\t((i += 2)) ;;\n", flag, shellWord(kind))
	}
	var bare []string
	for _, f := range global.flags {
		if !slices.ContainsFunc(global.valued, func(v string) bool { return strings.HasPrefix(v, f+"=") }) {
			bare = append(bare, f)
		}
	}
	if len(bare) > 0 {
		fmt.Fprintf(b, "\t\t%s) ((i++)) ;;\n", strings.Join(bare, "|"))
	}
	b.WriteString("\t\t*) break ;;\n\t\tesac\n\tdone\n")
	b.WriteString("\tif ((i == COMP_CWORD)); then\n\t\tif [[ $cur == -* ]]; then\n")
	fmt.Fprintf(b, "\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shellWord(strings.Join(append(slices.Clone(global.flags), dashed...), " ")))
	b.WriteString("\t\telse\n")
	fmt.Fprintf(b, "\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shellWord(strings.Join(cmds, " ")))
	b.WriteString("\t\tfi\n\t\treturn\n\tfi\n")
	b.WriteString("\t# The command's arguments: _keyctl_go_args FIRST FLAGS VALUED REST KIND...\n")
	b.WriteString("\tcase ${COMP_WORDS[i]} in\n")
	for _, n := range names {
		s := specs[n]
		if s == nil || len(s.flags) == 0 && len(s.args) == 0 && s.rest == kindNone {
			continue
		}
		fmt.Fprintf(b, "\t%s) _keyctl_go_args $((i + 1)) %s %s %s", n, shellWord(strings.Join(s.flags, " ")),
			shellWord(strings.Join(s.valued, " ")), shellWord(s.rest))
		for _, k := range s.args {
			b.WriteString(" " + shellWord(k))
		}
		b.WriteString(" ;;\n")
	}
	b.WriteString("\tesac\n}\n\ncomplete -F _keyctl_go keyctl-go\n")
	io.WriteString(w, b.String())
}

// shellWord quotes s for the shell, in single quotes; the words written
// here hold no single quote.
func shellWord(s string) string {
	if strings.Contains(s, "'") {
		panic("completion: a quote in " + s)
	}
	return "'" + s + "'"
}

// bashPrologue starts the script: the lists the generator fills in, and
// the functions that complete one argument and walk a command's.
const bashPrologue = `# bash completion for keyctl-go
#
# Generated by 'keyctl-go completion bash' from keyctl-go's command table
# (cmd/internal/cli/commands.go); regenerate with 'go generate ./cmd/internal/cli'.
# Install as /usr/share/bash-completion/completions/keyctl-go, or source it.

_keyctl_go_specials='%s'
_keyctl_go_types='%s'

# _keyctl_go_complete KIND: complete the current word as an argument of
# that kind.
_keyctl_go_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	case $1 in
	key) COMPREPLY=($(compgen -W "$_keyctl_go_specials" -- "$cur")) ;;
	type) COMPREPLY=($(compgen -W "$_keyctl_go_types" -- "$cur")) ;;
	file) COMPREPLY=($(compgen -f -- "$cur")) ;;
	command) COMPREPLY=($(compgen -c -- "$cur")) ;;
	words:*)
		local words=${1#words:}
		COMPREPLY=($(compgen -W "${words//,/ }" -- "$cur"))
		;;
	esac
}

# _keyctl_go_args FIRST FLAGS VALUED REST KIND...: complete the current
# word as an argument of the command whose arguments start at
# COMP_WORDS[FIRST]. FLAGS are the flags it takes before its positional
# arguments (a pattern, -f*, for one with its value attached); VALUED
# pairs flag=KIND for those followed by a value; KIND... are the kinds of
# the positional arguments, and REST the kind of any past them.
_keyctl_go_args() {
	local j=$1 rest=$4
	local -a flags valued
	read -ra flags <<<"$2"
	read -ra valued <<<"$3"
	shift 4
	local cur=${COMP_WORDS[COMP_CWORD]} n=0 w f v isflag
	for ((; j < COMP_CWORD; j++)); do
		w=${COMP_WORDS[j]}
		isflag=
		if ((n == 0)); then
			for f in "${flags[@]}"; do
				if [[ $w == $f ]]; then
					isflag=1
					break
				fi
			done
		fi
		if [[ -z $isflag ]]; then
			((n++))
			continue
		fi
		for v in "${valued[@]}"; do
			if [[ ${v%%=*} == "$w" ]]; then
				if ((j + 1 == COMP_CWORD)); then
					_keyctl_go_complete "${v#*=}"
					return
				fi
				((j++))
			fi
		done
	done
	if ((n == 0)) && [[ $cur == -* && ${#flags[@]} -gt 0 ]]; then
		COMPREPLY=($(compgen -W "${flags[*]//\*/}" -- "$cur"))
		return
	fi
	if ((n < $#)); then
		_keyctl_go_complete "${@:n+1:1}"
	else
		_keyctl_go_complete "$rest"
	fi
}

`
