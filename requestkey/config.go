//go:build linux

package requestkey

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keyctl-go/keyctl-go/internal/clib"
)

// MaxLine is the longest line request-key reads from a configuration file,
// in bytes, its newline included.
const MaxLine = 4096

// DefaultConfDir is where request-key's configuration lives: the file
// request-key.conf and the directory request-key.d.
const DefaultConfDir = "/etc"

// Config is request-key's configuration: the lines of every file, in the
// order they are read (request-key.d/*.conf, then request-key.conf).
type Config struct {
	Lines []Line
}

// Line is one line of a configuration file that is neither blank nor a
// comment: up to four patterns (operation, key type, description, callout
// information), then the command. A line that ends early keeps the
// fields it has; it is a syntax error only for a request that matches
// the fields before the missing one, as request-key reports it.
type Line struct {
	File string // the file, for messages
	Num  int    // its line number, from 1
	// Patterns are the operation, type, description and callout
	// patterns present, each followed by white space on the line.
	Patterns []string
	// Command is the rest of the line after the fourth pattern: the
	// program and its arguments, "|" first for the pipe form. "" if the
	// line has none.
	Command string
}

func (l Line) where() string { return fmt.Sprintf("%s:%d", l.File, l.Num) }

// Load reads the configuration in dir ("" for DefaultConfDir): every
// regular file in dir/request-key.d whose name ends in ".conf" and does
// not start with '.', in name order, then dir/request-key.conf. Files and
// directories that do not exist are skipped, as request-key skips them.
func Load(dir string) (*Config, error) {
	if dir == "" {
		dir = DefaultConfDir
	}
	var files []string
	entries, err := os.ReadDir(filepath.Join(dir, "request-key.d"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("requestkey: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".conf") || !e.Type().IsRegular() {
			continue
		}
		files = append(files, filepath.Join(dir, "request-key.d", name))
	}
	slices.Sort(files)
	files = append(files, filepath.Join(dir, "request-key.conf"))
	cfg := &Config{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("requestkey: %w", err)
		}
		lines, err := Parse(f, data)
		if err != nil {
			return nil, err
		}
		cfg.Lines = append(cfg.Lines, lines...)
	}
	return cfg, nil
}

// Parse splits one configuration file into its lines, as request-key
// reads it: a blank line, or one that starts with '#' or white space, is
// a comment; fields are separated by white space (C's isspace). A line
// longer than MaxLine is an error, as it is for request-key whatever the
// request.
func Parse(name string, data []byte) ([]Line, error) {
	var lines []Line
	text := string(data)
	for num := 1; text != ""; num++ {
		line, rest, hasNewline := strings.Cut(text, "\n")
		text = rest
		size := len(line)
		if hasNewline {
			size++
		}
		if size > MaxLine {
			return nil, fmt.Errorf("requestkey: %s:%d: line too long", name, num)
		}
		if line == "" || line[0] == '#' || clib.IsSpace(line[0]) {
			continue
		}
		l := Line{File: name, Num: num}
		rest = line
		for len(l.Patterns) < 4 {
			end := strings.IndexFunc(rest, clib.IsSpaceRune)
			if end < 0 {
				break // the field runs to the end of the line: no separator after it
			}
			l.Patterns = append(l.Patterns, rest[:end])
			rest = strings.TrimLeftFunc(rest[end:], clib.IsSpaceRune)
			if rest == "" {
				break
			}
		}
		if len(l.Patterns) == 4 {
			l.Command = rest
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// Query is what a configuration line is matched against.
type Query struct {
	Op, Type, Description, Callout string
}

// Match finds the line for r as request-key does: of the lines whose four
// patterns match, the one whose wildcards stand for the fewest bytes,
// compared column by column from the left; the first read wins a tie. A
// line that ends before a pattern or a command, reached by a request
// matching the patterns before, is a syntax error. With no match, ok is
// false.
func (c *Config) Match(r Query) (best Line, ok bool, err error) {
	data := [4]string{r.Op, r.Type, r.Description, r.Callout}
	var bestWild [4]int
	for _, l := range c.Lines {
		var wild [4]int
		matched := true
		for i := range data {
			if i >= len(l.Patterns) {
				return Line{}, false, fmt.Errorf("requestkey: %s: syntax error", l.where())
			}
			m, w := match(l.Patterns[i], data[i])
			if !m {
				matched = false
				break
			}
			wild[i] = w
		}
		if !matched {
			continue
		}
		if l.Command == "" {
			return Line{}, false, fmt.Errorf("requestkey: %s: syntax error", l.where())
		}
		if !ok || slices.Compare(wild[:], bestWild[:]) < 0 {
			best, bestWild, ok = l, wild, true
		}
	}
	return best, ok, nil
}

// match matches datum against pattern, in which the first '*' stands for
// any run of bytes (further ones are literal), and returns how many bytes
// the wildcard stood for.
//
// request-key 1.6.3 compares the end of the datum with the start of the
// pattern, not its part after the '*', for a pattern with text on both
// sides ("abc*def"); this is the match its manual describes.
func match(pattern, datum string) (bool, int) {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == datum, 0
	}
	prefix, suffix := pattern[:star], pattern[star+1:]
	if len(datum) < len(prefix)+len(suffix) || !strings.HasPrefix(datum, prefix) || !strings.HasSuffix(datum, suffix) {
		return false, 0
	}
	return true, len(datum) - len(prefix) - len(suffix)
}
