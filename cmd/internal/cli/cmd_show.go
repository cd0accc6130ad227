//go:build linux

package cli

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/keyctl-go/keyctl-go/internal/clib"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// oneKey resolves the single key argument of a command and opens the store.
func (a *app) oneKey(ctx context.Context, args []string) (keyring.Serial, keyring.Caller, error) {
	if err := nargs(args, 1, 1); err != nil {
		return 0, nil, err
	}
	return a.keyAndProcess(ctx, args[0])
}

func (a *app) keyAndProcess(ctx context.Context, arg string) (keyring.Serial, keyring.Caller, error) {
	id, err := a.keyID(ctx, arg)
	if err != nil {
		return 0, nil, err
	}
	p, err := a.process(ctx)
	return id, p, err
}

func cmdDescribe(ctx context.Context, a *app, args []string) error {
	id, p, err := a.oneKey(ctx, args)
	if err != nil {
		return err
	}
	d, err := p.Describe(ctx, id)
	if err != nil {
		return opError("keyctl_describe_alloc", err)
	}
	// The id is printed as given, so "@s" shows as -3.
	fmt.Fprintf(a.stdout, "%9d: %s %5d %5d %s: %s\n", id, d.Perm.Describe(), d.UID, d.GID, d.Type, d.Description)
	return nil
}

func cmdRdescribe(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 1, 2); err != nil {
		return err
	}
	// keyctl takes the separator's first character; an empty one is a
	// usage error.
	sep := ""
	if len(args) == 2 {
		if args[1] == "" {
			return errUsage
		}
		sep = args[1][:1]
	}
	id, p, err := a.keyAndProcess(ctx, args[0])
	if err != nil {
		return err
	}
	d, err := p.Describe(ctx, id)
	if err != nil {
		return opError("keyctl_describe", err)
	}
	s := d.String()
	if sep != "" {
		s = strings.ReplaceAll(s, ";", sep)
	}
	fmt.Fprintln(a.stdout, s)
	return nil
}

// readKey is the payload as keyctl_read_alloc returns it.
func (a *app) readKey(ctx context.Context, args []string) ([]byte, error) {
	id, p, err := a.oneKey(ctx, args)
	if err != nil {
		return nil, err
	}
	data, err := p.Read(ctx, id)
	if err != nil {
		return nil, opError("keyctl_read_alloc", err)
	}
	return data, nil
}

func cmdPrint(ctx context.Context, a *app, args []string) error {
	data, err := a.readKey(ctx, args)
	if err != nil {
		return err
	}
	printable := true
	for _, c := range data {
		if !clib.IsPrint(c) {
			printable = false
			break
		}
	}
	if printable {
		fmt.Fprintf(a.stdout, "%s\n", data)
	} else {
		fmt.Fprintf(a.stdout, ":hex:%s\n", hex.EncodeToString(data))
	}
	return nil
}

func cmdPipe(ctx context.Context, a *app, args []string) error {
	data, err := a.readKey(ctx, args)
	if err != nil {
		return err
	}
	a.stdout.Write(data)
	return nil
}

func cmdRead(ctx context.Context, a *app, args []string) error {
	data, err := a.readKey(ctx, args)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		fmt.Fprintln(a.stdout, "No data in key")
		return nil
	}
	fmt.Fprintf(a.stdout, "%d bytes of data in key:\n", len(data))
	// keyctl's dump: a space every 4 bytes, a new line every 32.
	for i, c := range data {
		if i > 0 {
			if i%32 == 0 {
				a.stdout.WriteByte('\n')
			} else if i%4 == 0 {
				a.stdout.WriteByte(' ')
			}
		}
		fmt.Fprintf(a.stdout, "%02x", c)
	}
	a.stdout.WriteByte('\n')
	return nil
}

// ringKeys reads a keyring's contents as keyctl does: the raw payload taken
// as 32-bit serials, so a key that is not a keyring lists whatever whole
// serials its payload holds (usually none) rather than failing.
func (a *app) ringKeys(ctx context.Context, args []string) ([]keyring.Serial, keyring.Caller, error) {
	id, p, err := a.oneKey(ctx, args)
	if err != nil {
		return nil, nil, err
	}
	data, err := p.Read(ctx, id)
	if err != nil {
		return nil, nil, opError("keyctl_read_alloc", err)
	}
	return decodeSerials(data), p, nil
}

func decodeSerials(data []byte) []keyring.Serial {
	ids := make([]keyring.Serial, 0, len(data)/4)
	for i := 0; i+4 <= len(data); i += 4 {
		ids = append(ids, keyring.Serial(int32(binary.LittleEndian.Uint32(data[i:]))))
	}
	return ids
}

func cmdList(ctx context.Context, a *app, args []string) error {
	ids, p, err := a.ringKeys(ctx, args)
	if err != nil {
		return err
	}
	switch len(ids) {
	case 0:
		fmt.Fprintln(a.stdout, "keyring is empty")
		return nil
	case 1:
		fmt.Fprintln(a.stdout, "1 key in keyring:")
	default:
		fmt.Fprintf(a.stdout, "%d keys in keyring:\n", len(ids))
	}
	cred := a.cred()
	for _, id := range ids {
		d, err := p.Describe(ctx, id)
		if err != nil {
			fmt.Fprintf(a.stdout, "%9d: key inaccessible (%s)\n", id, strerror(err))
			continue
		}
		fmt.Fprintf(a.stdout, "%9d: %s %5d %5d %s: %s\n", id, effective(cred, d), d.UID, d.GID, d.Type, d.Description)
	}
	return nil
}

func cmdRlist(ctx context.Context, a *app, args []string) error {
	ids, _, err := a.ringKeys(ctx, args)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if i > 0 {
			a.stdout.WriteByte(' ')
		}
		fmt.Fprintf(a.stdout, "%d", id)
	}
	a.stdout.WriteByte('\n')
	return nil
}

// effective is the permissions column of list and show, keyutils' estimate
// from the described owner, group and mask.
func effective(c perms.Cred, d keyring.Description) string {
	return perms.EffectiveString(c, perms.Subject{UID: d.UID, GID: d.GID, Mask: d.Perm})
}

func cmdShow(ctx context.Context, a *app, args []string) error {
	hexIDs, args := leadingFlag(args, "-x")
	if err := nargs(args, 0, 1); err != nil {
		return err
	}
	arg, header := "@s", "Session Keyring"
	if len(args) == 1 {
		arg, header = args[0], "Keyring"
	}
	id, p, err := a.keyAndProcess(ctx, arg)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, header)
	// The tree starts at the serial the argument names, so special ids
	// are resolved first, as they would be to print the top line.
	if id < 0 {
		if id, err = p.KeyringID(ctx, id); err != nil {
			return opError("Unable to dump key", err)
		}
	}
	d, err := p.Describe(ctx, id)
	if err != nil {
		return opError("Unable to dump key", err)
	}
	t := tree{a: a, p: p, hexIDs: hexIDs, cred: a.cred()}
	return t.dump(ctx, id, d, "", true, false)
}

// tree prints keyctl show's hierarchy.
type tree struct {
	a      *app
	p      keyring.Caller
	hexIDs bool
	cred   perms.Cred
}

// dump prints one key described by d and, if it is a keyring, its
// contents. indent is what precedes the key's own "\_ ". The top's children
// get " "; below that each level adds "|   " to its children's indent
// while the key has later siblings (more says so), else four spaces.
func (t *tree) dump(ctx context.Context, id keyring.Serial, d keyring.Description, indent string, top, more bool) error {
	w := t.a.stdout
	if t.hexIDs {
		fmt.Fprintf(w, "0x%08x", uint32(id))
	} else {
		fmt.Fprintf(w, "%10d", id)
	}
	branch := ""
	if !top {
		branch = indent + "\\_ "
	}
	fmt.Fprintf(w, " %s  %5d %5d  %s%s: %s\n", effective(t.cred, d), d.UID, d.GID, branch, d.Type, d.Description)
	if d.Type != "keyring" {
		return nil
	}
	data, err := t.p.Read(ctx, id)
	if err != nil {
		return opError("keyctl_read_alloc", err)
	}
	childIndent := " "
	switch {
	case top:
	case more:
		childIndent = indent + "|   "
	default:
		childIndent = indent + "    "
	}
	ids := decodeSerials(data)
	for i, child := range ids {
		cd, err := t.p.Describe(ctx, child)
		if err != nil {
			// keyctl prints these without the tree's padding.
			fmt.Fprintf(w, "%d: key inaccessible (%s)\n", child, strerror(err))
			continue
		}
		if err := t.dump(ctx, child, cd, childIndent, false, i < len(ids)-1); err != nil {
			return err
		}
	}
	return nil
}
