package main

import (
	"context"
	"errors"
	"fmt"
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
	var search, prefix, fold bool
	// keyctl looks only at the second character of each leading "-word".
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0][1:2] {
		case "s":
			search = true
		case "p":
			prefix = true
		case "i":
			fold = true
		default:
			return errUsage
		}
		args = args[1:]
	}
	if len(args) < 1 {
		return errUsage
	}
	typ := args[0]
	var (
		fn scanFunc
		p  keyring.Caller // set before fn is called
	)
	switch {
	case search:
		if len(args) != 2 || prefix || fold {
			return errUsage
		}
		desc := args[1]
		fn = func(_, ring keyring.Serial, raw string, _ error) int {
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
	case len(args) == 1:
		if prefix || fold {
			return errUsage
		}
		fn = func(parent, key keyring.Serial, raw string, err error) int {
			if parent == 0 || err != nil {
				return 0
			}
			t, _, ok := strings.Cut(raw, ";")
			if !ok || t != typ {
				return 0
			}
			return unlinked(ctx, p, key, parent)
		}
	case len(args) == 2:
		want := args[1]
		fn = func(parent, key keyring.Serial, raw string, err error) int {
			if parent == 0 || err != nil {
				return 0
			}
			t, rest, ok := strings.Cut(raw, ";")
			if !ok || t != typ {
				return 0
			}
			i := strings.LastIndexByte(rest, ';')
			if i < 0 {
				return 0
			}
			desc := rest[i+1:]
			if prefix && len(desc) < len(want) || !prefix && len(desc) != len(want) {
				return 0
			}
			head := desc[:len(want)]
			if fold && asciiLower(head) != asciiLower(want) || !fold && head != want {
				return 0
			}
			// printf's %s stops at a NUL.
			shown, _, _ := strings.Cut(desc, "\x00")
			fmt.Fprintf(a.stdout, "%s '%s'\n", t, shown)
			return unlinked(ctx, p, key, parent)
		}
	default:
		return errUsage
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "purged %d keys\n", scanSession(ctx, p, fn))
	return nil
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
