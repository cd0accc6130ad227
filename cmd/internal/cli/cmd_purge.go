//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// maxScanDepth is how deep keyctl's tree walk goes before it stops
// descending (libkeyutils' recursive_key_scan): keyring nesting, counting
// the session as 0.
const maxScanDepth = 800

// scanFunc is called for every key of the walked tree, children before
// their keyring, with the keyring it was found in (0 for the top), and
// its description in keyctl's raw form ("type;uid;gid;perm;desc"), or
// the error describing it gave. It returns how many keys it removed.
type scanFunc func(parent, key keyring.Serial, raw string, err error) int

// scanSession walks the session keyring's tree as libkeyutils'
// recursive_session_key_scan does: depth first, a keyring's keys before
// the keyring itself, descending only into keyrings it can describe and
// read. It returns the sum of what fn returned. Like keyctl, it does not
// look beyond @s: the user keyring is walked only where the session
// links it.
func scanSession(ctx context.Context, p keyring.Caller, fn scanFunc) int {
	session, err := p.KeyringID(ctx, keyring.SessionKeyring)
	if err != nil || session <= 0 {
		return 0
	}
	return scanKey(ctx, p, 0, session, 0, fn)
}

func scanKey(ctx context.Context, p keyring.Caller, parent, key keyring.Serial, depth int, fn scanFunc) int {
	if depth > maxScanDepth {
		return 0
	}
	d, err := p.Describe(ctx, key)
	if err != nil {
		return fn(parent, key, "", err)
	}
	n := 0
	if d.Type == "keyring" {
		if keys, err := p.Keys(ctx, key); err == nil {
			for _, k := range keys {
				n += scanKey(ctx, p, key, k, depth+1, fn)
			}
		}
	}
	return n + fn(parent, key, d.String(), nil)
}

// unlinked is 1 if the key came off the keyring, else 0, as keyctl counts.
func unlinked(ctx context.Context, p keyring.Caller, key, ring keyring.Serial) int {
	if p.Unlink(ctx, key, ring) != nil {
		return 0
	}
	return 1
}

// cmdPurge is `purge <type>`, `purge [-p] [-i] <type> <desc>` and
// `purge -s <type> <desc>`: unlink the matching keys from every keyring of
// the session's tree, and say how many went ("purged N keys"). With a
// description keyctl matches it literally against the text after the
// last ';' of the raw description (-p: as a prefix, -i: ignoring ASCII
// case) and prints each match, "<type> '<desc>'", before unlinking it;
// -s asks each keyring's search instead, unlinking what it finds until it
// finds nothing or what it finds is not directly in that keyring.
func cmdPurge(ctx context.Context, a *app, args []string) error {
	pa, err := parsePurge(args)
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	var fn scanFunc
	switch {
	case pa.search:
		fn = purgeBySearch(ctx, p, pa.typ, pa.desc)
	case !pa.byDesc:
		fn = purgeByType(ctx, p, pa.typ)
	default:
		fn = purgeByDesc(ctx, p, a.stdout, pa)
	}
	fmt.Fprintf(a.stdout, "purged %d keys\n", scanSession(ctx, p, fn))
	return nil
}

// purgeArgs is what purge's arguments ask for.
type purgeArgs struct {
	search, prefix, fold bool // -s, -p, -i
	typ, desc            string
	byDesc               bool // a description was given
}

// parsePurge reads purge's arguments, refusing (errUsage) what keyctl
// refuses: an unknown flag, -s without exactly a type and a description,
// -p or -i with -s or without a description, more than two arguments.
func parsePurge(args []string) (purgeArgs, error) {
	var pa purgeArgs
	// keyctl looks only at the second character of each leading "-word".
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0][1:min(2, len(args[0]))] {
		case "s":
			pa.search = true
		case "p":
			pa.prefix = true
		case "i":
			pa.fold = true
		default:
			return purgeArgs{}, errUsage
		}
		args = args[1:]
	}
	switch {
	case len(args) < 1 || len(args) > 2:
		return purgeArgs{}, errUsage
	case pa.search && (len(args) != 2 || pa.prefix || pa.fold):
		return purgeArgs{}, errUsage
	case len(args) == 1 && (pa.prefix || pa.fold):
		return purgeArgs{}, errUsage
	}
	pa.typ = args[0]
	if len(args) == 2 {
		pa.desc, pa.byDesc = args[1], true
	}
	return pa, nil
}

// purgeBySearch is purge -s: in each keyring of the tree, search for the
// key and unlink what is found, until the search finds nothing or finds a
// key that is not directly in that keyring.
func purgeBySearch(ctx context.Context, p keyring.Caller, typ, desc string) scanFunc {
	return func(_, ring keyring.Serial, raw string, _ error) int {
		if !strings.HasPrefix(raw, "keyring;") {
			return 0
		}
		n := 0
		for {
			key, err := p.Search(ctx, ring, typ, desc, 0)
			if err != nil || p.Unlink(ctx, key, ring) != nil {
				return n
			}
			n++
		}
	}
}

// purgeByType is purge <type>: unlink every key of that type from the
// keyring it was found in.
func purgeByType(ctx context.Context, p keyring.Caller, typ string) scanFunc {
	return func(parent, key keyring.Serial, raw string, err error) int {
		if parent == 0 || err != nil {
			return 0
		}
		t, _, ok := strings.Cut(raw, ";")
		if !ok || t != typ {
			return 0
		}
		return unlinked(ctx, p, key, parent)
	}
}

// purgeByDesc is purge [-p] [-i] <type> <desc>: unlink every key of that
// type whose description matches, naming each on out first.
func purgeByDesc(ctx context.Context, p keyring.Caller, out io.Writer, pa purgeArgs) scanFunc {
	return func(parent, key keyring.Serial, raw string, err error) int {
		if parent == 0 || err != nil {
			return 0
		}
		t, rest, ok := strings.Cut(raw, ";")
		if !ok || t != pa.typ {
			return 0
		}
		i := strings.LastIndexByte(rest, ';')
		if i < 0 {
			return 0
		}
		desc := rest[i+1:]
		if !pa.matches(desc) {
			return 0
		}
		// printf's %s stops at a NUL.
		shown, _, _ := strings.Cut(desc, "\x00")
		fmt.Fprintf(out, "%s '%s'\n", t, shown)
		return unlinked(ctx, p, key, parent)
	}
}

// matches says whether desc is the description purge asks for: equal to
// it, or starting with it (-p), byte for byte or ignoring ASCII case (-i),
// as keyctl's strcmp, strncmp, strcasecmp and strncasecmp do.
func (pa purgeArgs) matches(desc string) bool {
	want := pa.desc
	if pa.prefix && len(desc) < len(want) || !pa.prefix && len(desc) != len(want) {
		return false
	}
	head := desc[:len(want)]
	if pa.fold {
		return asciiLower(head) == asciiLower(want)
	}
	return head == want
}

// asciiLower lowers ASCII letters only, as strncasecmp does in the C
// locale keyctl runs in.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// cmdReap is `reap [-v]`: unlink from the session's tree every key that
// cannot be described for a reason other than permission (revoked,
// expired, gone), and say how many ("N keys reaped"). With -v each is
// named as it goes: "Reap <id>", then a newline, or "... failed <error>".
func cmdReap(ctx context.Context, a *app, args []string) error {
	verbose, args := leadingFlag(args, "-v")
	if err := nargs(args, 0, 0); err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	n := scanSession(ctx, p, func(parent, key keyring.Serial, _ string, err error) int {
		if err == nil || errors.Is(err, unix.EACCES) {
			return 0
		}
		if verbose {
			fmt.Fprintf(a.stdout, "Reap %d", key)
		}
		if err := p.Unlink(ctx, key, parent); err != nil {
			if verbose {
				fmt.Fprintf(a.stdout, "... failed %s\n", strerror(err))
			}
			return 0
		}
		if verbose {
			fmt.Fprintln(a.stdout)
		}
		return 1
	})
	fmt.Fprintf(a.stdout, "%d keys reaped\n", n)
	return nil
}
