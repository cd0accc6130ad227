//go:build linux

package cli

import (
	"fmt"
	"strings"
)

// getopt is glibc's getopt(3) as keyctl's watch commands call it, with
// optstring spec ("f:", or "+df:n:" to stop at the first non-option, which
// watch_session needs since what follows is a program and its own
// arguments). It returns the options in order, each with its argument if
// it takes one, and the other arguments in order. Without '+', options
// after other arguments are found too, as glibc finds them by permuting
// argv. Options may be clustered ("-dfl") and an option's argument may be
// attached ("-fl") or the next word ("-f l"); "--" ends the options. An
// unknown option or a missing argument is reported on stderr as glibc
// does, "<cmd>: invalid option -- 'z'", then keyctl's "Unknown option",
// exit 2.
func getopt(a *app, cmd string, args []string, spec string) (opts []option, rest []string, err error) {
	inOrder := strings.HasPrefix(spec, "+")
	spec = strings.TrimPrefix(spec, "+")
	for len(args) > 0 {
		arg := args[0]
		if arg == "--" {
			return opts, append(rest, args[1:]...), nil
		}
		if len(arg) < 2 || arg[0] != '-' {
			if inOrder {
				break
			}
			rest = append(rest, arg)
			args = args[1:]
			continue
		}
		args = args[1:]
		for i := 1; i < len(arg); i++ {
			c := arg[i]
			at := strings.IndexByte(spec, c)
			if c == ':' || at < 0 {
				fmt.Fprintf(a.stderr, "%s: invalid option -- '%c'\n", cmd, c)
				return nil, nil, &exitError{code: 2, msg: "Unknown option"}
			}
			if at+1 >= len(spec) || spec[at+1] != ':' {
				opts = append(opts, option{name: c})
				continue
			}
			// The rest of this word is the argument, else the next word.
			if i+1 < len(arg) {
				opts = append(opts, option{name: c, arg: arg[i+1:]})
			} else if len(args) > 0 {
				opts = append(opts, option{name: c, arg: args[0]})
				args = args[1:]
			} else {
				fmt.Fprintf(a.stderr, "%s: option requires an argument -- '%c'\n", cmd, c)
				return nil, nil, &exitError{code: 2, msg: "Unknown option"}
			}
			break
		}
	}
	return opts, append(rest, args...), nil
}

// option is one option getopt found.
type option struct {
	name byte
	arg  string
}
