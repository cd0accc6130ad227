//go:build linux

package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/keyctl-go/keyctl-go/internal/clib"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// number reads a numeric argument as keyctl does, with strtoul truncated to
// 32 bits: "-1" is 0xffffffff, and "" is 0. what names it in the message
// keyctl prints for junk ("Unparsable timeout: 'x'"), exit 2.
func number(arg string, base int, what string) (uint32, error) {
	n, rest, _ := clib.Strtoul(arg, base) // out of range reads as ULONG_MAX, as keyctl takes it
	if rest != "" {
		return 0, &exitError{code: 2, msg: fmt.Sprintf("Unparsable %s: '%s'", what, arg)}
	}
	return uint32(n), nil
}

// simple runs an operation on one key argument that prints nothing.
func simple(name string, op func(keyring.Caller, context.Context, keyring.Serial) error) func(context.Context, *app, []string) error {
	return func(ctx context.Context, a *app, args []string) error {
		id, p, err := a.oneKey(ctx, args)
		if err != nil {
			return err
		}
		if err := op(p, ctx, id); err != nil {
			return opError(name, err)
		}
		return nil
	}
}

var (
	cmdRevoke     = simple("keyctl_revoke", keyring.Caller.Revoke)
	cmdInvalidate = simple("keyctl_invalidate", keyring.Caller.Invalidate)
	cmdClear      = simple("keyctl_clear", keyring.Caller.Clear)
)

func cmdID(ctx context.Context, a *app, args []string) error {
	id, p, err := a.oneKey(ctx, args)
	if err != nil {
		return err
	}
	id, err = p.KeyringID(ctx, id)
	if err != nil {
		return opError("keyctl_get_keyring_ID", err)
	}
	fmt.Fprintf(a.stdout, "%d\n", id)
	return nil
}

// twoKeys resolves the two key arguments of link, unlink and friends.
func (a *app) twoKeys(ctx context.Context, x, y string) (keyring.Serial, keyring.Serial, keyring.Caller, error) {
	k1, err := a.keyID(ctx, x)
	if err != nil {
		return 0, 0, nil, err
	}
	k2, err := a.keyID(ctx, y)
	if err != nil {
		return 0, 0, nil, err
	}
	p, err := a.process(ctx)
	return k1, k2, p, err
}

func cmdLink(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	key, ring, p, err := a.twoKeys(ctx, args[0], args[1])
	if err != nil {
		return err
	}
	if err := p.Link(ctx, key, ring); err != nil {
		return opError("keyctl_link", err)
	}
	return nil
}

func cmdUnlink(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 1, 2); err != nil {
		return err
	}
	if len(args) == 2 {
		key, ring, p, err := a.twoKeys(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		if err := p.Unlink(ctx, key, ring); err != nil {
			return opError("keyctl_unlink", err)
		}
		return nil
	}
	key, p, err := a.keyAndProcess(ctx, args[0])
	if err != nil {
		return err
	}
	// Without a keyring, keyctl removes the key from every keyring it can
	// read in the session tree, and counts the links it removed.
	removed := 0
	seen := map[keyring.Serial]bool{}
	var walk func(ring keyring.Serial)
	walk = func(ring keyring.Serial) {
		if seen[ring] {
			return
		}
		seen[ring] = true
		ids, err := p.Keys(ctx, ring)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id == key {
				if p.Unlink(ctx, key, ring) == nil {
					removed++
				}
				continue
			}
			if d, err := p.Describe(ctx, id); err == nil && d.Type == "keyring" {
				walk(id)
			}
		}
	}
	if s, err := p.KeyringID(ctx, keyring.SessionKeyring); err == nil {
		walk(s)
	}
	fmt.Fprintf(a.stdout, "%d links removed\n", removed)
	return nil
}

func cmdTimeout(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	id, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	secs, err := number(args[1], 10, "timeout")
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	if err := p.SetTimeout(ctx, id, time.Duration(secs)*time.Second); err != nil {
		return opError("keyctl_set_timeout", err)
	}
	return nil
}

func cmdSetperm(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	id, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	// Not perms.ParseMask: keyctl truncates to 32 bits and takes "" as 0,
	// which ParseMask refuses on purpose.
	m, err := number(args[1], 0, "permissions")
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	if err := p.SetPerm(ctx, id, perms.Mask(m)); err != nil {
		return opError("keyctl_setperm", err)
	}
	return nil
}

// chown is chown and chgrp: which says which id the argument sets.
func chown(ctx context.Context, a *app, args []string, which string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	id, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	n, err := number(args[1], 0, which)
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	uid, gid := n, keyring.Unchanged
	if which == "gid" {
		uid, gid = keyring.Unchanged, n
	}
	if err := p.Chown(ctx, id, uid, gid); err != nil {
		return opError("keyctl_chown", err)
	}
	return nil
}

func cmdChown(ctx context.Context, a *app, args []string) error { return chown(ctx, a, args, "uid") }
func cmdChgrp(ctx context.Context, a *app, args []string) error { return chown(ctx, a, args, "gid") }

func cmdMove(ctx context.Context, a *app, args []string) error {
	force, args := leadingFlag(args, "-f")
	if err := nargs(args, 3, 3); err != nil {
		return err
	}
	key, from, p, err := a.twoKeys(ctx, args[0], args[1])
	if err != nil {
		return err
	}
	to, err := a.keyID(ctx, args[2])
	if err != nil {
		return err
	}
	// keyctl moves exclusively unless told to displace with -f.
	var flags uint = keyring.MoveExclusive
	if force {
		flags = 0
	}
	if err := p.Move(ctx, key, from, to, flags); err != nil {
		return opError("keyctl_move", err)
	}
	return nil
}

func cmdRestrict(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 1, 3); err != nil {
		return err
	}
	ring, p, err := a.keyAndProcess(ctx, args[0])
	if err != nil {
		return err
	}
	var typ, restriction string
	if len(args) > 1 {
		typ = args[1]
	}
	if len(args) > 2 {
		restriction = args[2]
	}
	if err := p.Restrict(ctx, ring, typ, restriction); err != nil {
		return opError("keyctl_restrict_keyring", err)
	}
	return nil
}

// optionalDest resolves an optional destination keyring argument; 0 means
// none, as in the kernel.
func (a *app) optionalDest(ctx context.Context, args []string, i int) (keyring.Serial, error) {
	if len(args) <= i {
		return 0, nil
	}
	return a.keyID(ctx, args[i])
}

func cmdSearch(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 3, 4); err != nil {
		return err
	}
	ring, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	dest, err := a.optionalDest(ctx, args, 3)
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	id, err := p.Search(ctx, ring, args[1], args[2], dest)
	if err != nil {
		return opError("keyctl_search", err)
	}
	fmt.Fprintf(a.stdout, "%d\n", id)
	return nil
}

func cmdRequest(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 2, 3); err != nil {
		return err
	}
	return a.request(ctx, args[0], args[1], args, 2)
}

func cmdGetPersistent(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 1, 2); err != nil {
		return err
	}
	dest, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	uid := keyring.OwnUID
	if len(args) == 2 {
		if uid, err = number(args[1], 0, "uid"); err != nil {
			return err
		}
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	id, err := p.GetPersistent(ctx, uid, dest)
	if err != nil {
		return opError("keyctl_get_persistent", err)
	}
	fmt.Fprintf(a.stdout, "%d\n", id)
	return nil
}

// capabilities are the names supports prints, in keyctl's order, with the
// byte and bit of KEYCTL_CAPABILITIES' answer that each reads.
var capabilities = []struct {
	name string
	byte int
	bit  byte
}{
	{"capabilities", 0, keyring.Caps0Capabilities},
	{"persistent_keyrings", 0, keyring.Caps0Persistent},
	{"dh_compute", 0, 0x04},
	{"public_key", 0, 0x08},
	{"big_key_type", 0, keyring.Caps0BigKey},
	{"key_invalidate", 0, keyring.Caps0Invalidate},
	{"restrict_keyring", 0, keyring.Caps0RestrictKeyring},
	{"move_key", 0, keyring.Caps0Move},
	{"ns_keyring_name", 1, 0x01},
	{"ns_key_tag", 1, 0x02},
	{"notify", 1, keyring.Caps1Notifications},
}

// cmdSupports answers from the store's capabilities, not the kernel's: it
// is the store the other commands act on.
func cmdSupports(_ context.Context, a *app, args []string) error {
	if err := nargs(args, 0, 1); err != nil {
		return err
	}
	caps := keyring.Capabilities()
	has := func(i int) bool { c := capabilities[i]; return c.byte < len(caps) && caps[c.byte]&c.bit != 0 }
	if len(args) == 0 {
		for i, c := range capabilities {
			v := 0
			if has(i) {
				v = 1
			}
			fmt.Fprintf(a.stdout, "have_%s=%d\n", c.name, v)
		}
		return nil
	}
	if args[0] == "--raw" {
		fmt.Fprintf(a.stdout, "%x\n", caps)
		// keyctl 1.6.3 goes on to look "--raw" up as a capability name
		// and exits 3; scripts may depend on it, so we do too.
		return &exitError{code: 3}
	}
	for i, c := range capabilities {
		if c.name == args[0] {
			if has(i) {
				return nil
			}
			return &exitError{code: 1}
		}
	}
	return &exitError{code: 3}
}
