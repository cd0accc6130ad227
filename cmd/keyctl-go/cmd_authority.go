package main

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// Commands for keys under construction. The kernel lets only a process that
// has assumed a request_key authority instantiate, negate or reject a key;
// keyctl-go has no upcalls, so no authority can be assumed, and they fail
// after checking their arguments, as the kernel answers keyctl run by hand:
// "Operation not permitted".

// notPermitted is what the kernel answers without an assumed authority.
func notPermitted(name string) error {
	return opError(name, unix.EPERM)
}

// cmdNegate is `negate <key> <timeout> <keyring>`.
func cmdNegate(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 3, 3); err != nil {
		return err
	}
	if _, err := a.keyID(ctx, args[0]); err != nil {
		return err
	}
	if _, err := number(args[1], 10, "timeout"); err != nil {
		return err
	}
	if _, err := a.keyID(ctx, args[2]); err != nil {
		return err
	}
	return notPermitted("keyctl_negate")
}

// cmdReject is `reject <key> <timeout> <error> <keyring>`; keyctl names the
// failure keyctl_negate, as reject is negate with an error.
func cmdReject(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 4, 4); err != nil {
		return err
	}
	if _, err := a.keyID(ctx, args[0]); err != nil {
		return err
	}
	if _, err := number(args[1], 10, "timeout"); err != nil {
		return err
	}
	if _, err := rejectErrno(args[2]); err != nil {
		return err
	}
	if _, err := a.keyID(ctx, args[3]); err != nil {
		return err
	}
	return notPermitted("keyctl_negate")
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
	if _, err := a.keyID(ctx, args[0]); err != nil {
		return err
	}
	if _, err := payload([]byte(args[1]), hex); err != nil {
		return err
	}
	if _, err := a.keyID(ctx, args[2]); err != nil {
		return err
	}
	return notPermitted("keyctl_instantiate")
}

// cmdPinstantiate is `pinstantiate [-x] <key> <keyring>`, the data on stdin.
func cmdPinstantiate(ctx context.Context, a *app, args []string) error {
	hex, args := leadingFlag(args, "-x")
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	if _, err := a.keyID(ctx, args[0]); err != nil {
		return err
	}
	if _, err := a.keyID(ctx, args[1]); err != nil {
		return err
	}
	if _, err := a.readStdin(hex); err != nil {
		return err
	}
	return notPermitted("keyctl_instantiate")
}

// cmdRequest2 is `request2 <type> <desc> <info> [<dest_keyring>]`: request a
// key with callout information. There is no callout to run here, so it
// finds an existing key as request does, and answers ENOKEY for a missing
// one, as the kernel does when the callout fails.
func cmdRequest2(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 3, 4); err != nil {
		return err
	}
	return a.request(ctx, args[0], args[1], args, 3)
}

// cmdPrequest2 is `prequest2 <type> <desc> [<dest_keyring>]`, the callout
// information on stdin.
func cmdPrequest2(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 2, 3); err != nil {
		return err
	}
	if _, err := a.readStdin(false); err != nil {
		return err
	}
	return a.request(ctx, args[0], args[1], args, 2)
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
