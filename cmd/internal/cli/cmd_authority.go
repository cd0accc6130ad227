//go:build linux

package cli

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// Commands for keys under construction. As in the kernel, only a process
// that has assumed the authority for a key may instantiate, negate or
// reject it: a request_key helper, which keyctl-go runs with the
// authority in $KEYCTL_GO_AUTHORITY (see callout.go). Run by hand, they
// fail as keyctl does: "Operation not permitted".

// cmdNegate is `negate <key> <timeout> <keyring>`.
func cmdNegate(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 3, 3); err != nil {
		return err
	}
	key, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	timeout, err := number(args[1], 10, "timeout")
	if err != nil {
		return err
	}
	ring, err := a.keyID(ctx, args[2])
	if err != nil {
		return err
	}
	return a.reject(ctx, key, timeout, unix.ENOKEY, ring)
}

// cmdReject is `reject <key> <timeout> <error> <keyring>`; keyctl names the
// failure keyctl_negate, as reject is negate with an error.
func cmdReject(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 4, 4); err != nil {
		return err
	}
	key, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	timeout, err := number(args[1], 10, "timeout")
	if err != nil {
		return err
	}
	errno, err := rejectErrno(args[2])
	if err != nil {
		return err
	}
	ring, err := a.keyID(ctx, args[3])
	if err != nil {
		return err
	}
	return a.reject(ctx, key, timeout, errno, ring)
}

// reject is keyctl_reject, which keyctl reports as keyctl_negate.
func (a *app) reject(ctx context.Context, key keyring.Serial, timeout uint32, errno unix.Errno, ring keyring.Serial) error {
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	if err := p.Reject(ctx, key, time.Duration(timeout)*time.Second, errno, ring); err != nil {
		return opError("keyctl_negate", err)
	}
	return nil
}

// rejectErrno is reject's <error>: one of the names keyctl knows, or a
// number.
func rejectErrno(arg string) (unix.Errno, error) {
	switch arg {
	case "rejected":
		return unix.EKEYREJECTED, nil
	case "revoked":
		return unix.EKEYREVOKED, nil
	case "expired":
		return unix.EKEYEXPIRED, nil
	}
	n, err := number(arg, 10, "error")
	return unix.Errno(n), err
}

// cmdInstantiate is `instantiate [-x] <key> <data> <keyring>`.
func cmdInstantiate(ctx context.Context, a *app, args []string) error {
	hex, args := leadingFlag(args, "-x")
	if err := nargs(args, 3, 3); err != nil {
		return err
	}
	key, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	ring, err := a.keyID(ctx, args[2])
	if err != nil {
		return err
	}
	data, err := payload([]byte(args[1]), hex)
	if err != nil {
		return err
	}
	return a.instantiate(ctx, key, data, ring)
}

// instantiate is keyctl_instantiate.
func (a *app) instantiate(ctx context.Context, key keyring.Serial, data []byte, ring keyring.Serial) error {
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	if err := p.Instantiate(ctx, key, data, ring); err != nil {
		return opError("keyctl_instantiate", err)
	}
	return nil
}

// cmdPinstantiate is `pinstantiate [-x] <key> <keyring>`, the data on stdin.
func cmdPinstantiate(ctx context.Context, a *app, args []string) error {
	hex, args := leadingFlag(args, "-x")
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	key, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	ring, err := a.keyID(ctx, args[1])
	if err != nil {
		return err
	}
	data, err := a.readStdin(hex)
	if err != nil {
		return err
	}
	return a.instantiate(ctx, key, data, ring)
}

// cmdRequest2 is `request2 <type> <desc> <info> [<dest_keyring>]`: request a
// key with callout information, which runs the helper request-key.conf
// names if the key must be constructed (callout.go).
func cmdRequest2(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 3, 4); err != nil {
		return err
	}
	return a.requestWithCallout(ctx, args[0], args[1], []byte(args[2]), args, 3)
}

// cmdPrequest2 is `prequest2 <type> <desc> [<dest_keyring>]`, the callout
// information on stdin.
func cmdPrequest2(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 2, 3); err != nil {
		return err
	}
	info, err := a.readStdin(false)
	if err != nil {
		return err
	}
	return a.requestWithCallout(ctx, args[0], args[1], info, args, 2)
}

// request runs request_key for type and desc, linking into the keyring
// named by args[destAt] if there is one, and prints the serial found.
func (a *app) request(ctx context.Context, typ, desc string, args []string, destAt int) error {
	dest, err := a.optionalDest(ctx, args, destAt)
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	id, err := p.RequestKey(ctx, typ, desc, dest)
	if err != nil {
		return opError("request_key", err)
	}
	fmt.Fprintf(a.stdout, "%d\n", id)
	return nil
}

// cmdSecurity is `security <key>`: the key's security label, which is empty
// without a security module, as the kernel answers when none is loaded.
// The key must exist and grant View.
func cmdSecurity(ctx context.Context, a *app, args []string) error {
	id, p, err := a.oneKey(ctx, args)
	if err != nil {
		return err
	}
	if _, err := p.Describe(ctx, id); err != nil {
		return opError("keyctl_getsecurity", err)
	}
	fmt.Fprintln(a.stdout)
	return nil
}
