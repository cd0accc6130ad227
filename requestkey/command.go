//go:build linux

package requestkey

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyctl-go/keyctl-go/internal/clib"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// maxArgs is the most arguments request-key passes a program, argv[0]
// included.
const maxArgs = 254

// Command is a configuration line's command, parsed: the program, whether
// it takes the callout information on stdin and gives the payload on
// stdout (the "|" form), and its arguments, macros not yet expanded.
type Command struct {
	Pipe    bool
	Program string // a full path
	Args    []Arg  // argv[1:]
}

// Arg is one argument: literal text, a one-letter macro (%k, %S, ...), or
// a key's contents (%{type:description}).
type Arg struct {
	Literal string
	Macro   byte   // 0 for a literal or a key
	KeyType string // %{type:description}
	KeyDesc string
}

// ParseCommand parses a line's command as request-key does: the first
// word is the program ("|" before it for the pipe form), which must be a
// full path, as request-key takes argv[0] from after its last '/'; the
// others are its arguments, each literal unless it starts with '%': "%%x"
// is the literal "%x", "%k" and the other one-letter macros stand for
// parts of the request (another letter is an error), "%{type:description}"
// for the contents of that key among the requester's, and any other
// "%..." is literal, as request-key leaves it.
func ParseCommand(s string) (Command, error) {
	var c Command
	if strings.HasPrefix(s, "|") {
		c.Pipe, s = true, s[1:]
	}
	words := strings.FieldsFunc(s, clib.IsSpaceRune)
	if len(words) == 0 {
		return Command{}, errors.New("no arguments")
	}
	c.Program = words[0]
	if !strings.Contains(c.Program, "/") {
		return Command{}, fmt.Errorf("program %q is not a full path", c.Program)
	}
	if len(words) > maxArgs {
		return Command{}, errors.New("too many arguments")
	}
	for _, w := range words[1:] {
		a, err := parseArg(w)
		if err != nil {
			return Command{}, err
		}
		c.Args = append(c.Args, a)
	}
	return c, nil
}

// macros are the one-letter macros request-key knows.
const macros = "oktdcugTPS"

func parseArg(w string) (Arg, error) {
	if w[0] != '%' {
		return Arg{Literal: w}, nil
	}
	name := w[1:]
	switch {
	case name == "":
		return Arg{}, errors.New("missing macro name")
	case name[0] == '%':
		return Arg{Literal: name}, nil
	case len(name) == 1:
		if strings.IndexByte(macros, name[0]) < 0 {
			return Arg{}, fmt.Errorf("unsupported macro %q", w)
		}
		return Arg{Macro: name[0]}, nil
	case name[0] == '{':
		typ, rest, ok := strings.Cut(name[1:], ":")
		if !ok {
			return Arg{}, errors.New("keysub macro lacks ':'")
		}
		desc, trailing, ok := strings.Cut(rest, "}")
		switch {
		case !ok:
			return Arg{}, errors.New("unterminated keysub macro")
		case trailing != "":
			return Arg{}, errors.New("keysub macro has trailing rubbish")
		case typ == "":
			return Arg{}, errors.New("keysub type empty")
		case desc == "":
			return Arg{}, errors.New("keysub description empty")
		}
		return Arg{KeyType: typ, KeyDesc: desc}, nil
	}
	return Arg{Literal: w}, nil // request-key passes "%xy" on as it is
}

// argv expands the command's arguments for construction c, as request-key
// would run them: argv[0] is the program's name after its last '/'.
// readKey reads a key found among the requester's keyrings, for
// %{type:description}; its contents must be printable.
func (cmd Command) argv(ctx context.Context, op string, c *keyring.Construction, readKey func(ctx context.Context, typ, desc string) ([]byte, error)) ([]string, error) {
	argv := []string{cmd.Program[strings.LastIndexByte(cmd.Program, '/')+1:]}
	for _, a := range cmd.Args {
		switch {
		case a.Macro != 0:
			argv = append(argv, expand(a.Macro, op, c))
		case a.KeyType != "":
			data, err := readKey(ctx, a.KeyType, a.KeyDesc)
			if err != nil {
				return nil, fmt.Errorf("keysub key %s:%s: %w", a.KeyType, a.KeyDesc, err)
			}
			for _, b := range data {
				if !clib.IsPrint(b) {
					return nil, fmt.Errorf("keysub key %s:%s: data not printable (%#02x)", a.KeyType, a.KeyDesc, b)
				}
			}
			argv = append(argv, string(data))
		default:
			argv = append(argv, a.Literal)
		}
	}
	return argv, nil
}

func expand(m byte, op string, c *keyring.Construction) string {
	serial := func(s keyring.Serial) string { return strconv.Itoa(int(s)) }
	switch m {
	case 'o':
		return op
	case 'k':
		return serial(c.Key)
	case 't':
		return c.Type
	case 'd':
		return c.Description
	case 'c':
		return string(c.Callout)
	case 'u':
		return strconv.FormatUint(uint64(c.UID), 10)
	case 'g':
		return strconv.FormatUint(uint64(c.GID), 10)
	case 'T':
		return serial(c.Thread)
	case 'P':
		return serial(c.Process)
	case 'S':
		return serial(c.Session)
	}
	panic("requestkey: unknown macro " + string(m)) // parseArg lets through only macros
}
