//go:build linux

package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/keyctl-go/keyctl-go/internal/clib"
)

// addKey is add, padd and newring once their arguments are read.
func (a *app) addKey(ctx context.Context, typ, desc string, data []byte, ringArg string) error {
	ring, err := a.keyID(ctx, ringArg)
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	id, err := p.Add(ctx, typ, desc, data, ring)
	if err != nil {
		return opError("add_key", err)
	}
	fmt.Fprintf(a.stdout, "%d\n", id)
	return nil
}

func cmdAdd(ctx context.Context, a *app, args []string) error {
	hex, args := leadingFlag(args, "-x")
	if err := nargs(args, 4, 4); err != nil {
		return err
	}
	data, err := payload([]byte(args[2]), hex)
	if err != nil {
		return err
	}
	return a.addKey(ctx, args[0], args[1], data, args[3])
}

func cmdPadd(ctx context.Context, a *app, args []string) error {
	hex, args := leadingFlag(args, "-x")
	if err := nargs(args, 3, 3); err != nil {
		return err
	}
	data, err := a.readStdin(hex)
	if err != nil {
		return err
	}
	return a.addKey(ctx, args[0], args[1], data, args[2])
}

func cmdNewring(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	return a.addKey(ctx, "keyring", args[0], nil, args[1])
}

func (a *app) update(ctx context.Context, keyArg string, data []byte) error {
	id, err := a.keyID(ctx, keyArg)
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	if err := p.Update(ctx, id, data); err != nil {
		return opError("keyctl_update", err)
	}
	return nil
}

func cmdUpdate(ctx context.Context, a *app, args []string) error {
	hex, args := leadingFlag(args, "-x")
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	data, err := payload([]byte(args[1]), hex)
	if err != nil {
		return err
	}
	return a.update(ctx, args[0], data)
}

func cmdPupdate(ctx context.Context, a *app, args []string) error {
	hex, args := leadingFlag(args, "-x")
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	data, err := a.readStdin(hex)
	if err != nil {
		return err
	}
	return a.update(ctx, args[0], data)
}

// readStdin is the payload of padd and pupdate: all of stdin.
func (a *app) readStdin(hex bool) ([]byte, error) {
	data, err := io.ReadAll(a.stdin)
	if err != nil {
		return nil, &exitError{code: 1, msg: "stdin: " + strerror(err)}
	}
	return payload(data, hex)
}

// payload decodes -x data. keyctl skips white space between hex doublets
// and fails (exit 1) on a bad digit or an odd one out.
func payload(data []byte, hex bool) ([]byte, error) {
	if !hex {
		return data, nil
	}
	out := make([]byte, 0, len(data)/2)
	for i := 0; i < len(data); {
		if clib.IsSpace(data[i]) {
			i++
			continue
		}
		if i+1 >= len(data) {
			return nil, &exitError{code: 1, msg: "Short hex doublet"}
		}
		hi, lo := clib.DigitValue(data[i]), clib.DigitValue(data[i+1])
		if hi >= 16 || lo >= 16 { // isxdigit
			return nil, &exitError{code: 1, msg: "Bad hex doublet"}
		}
		out = append(out, byte(hi<<4|lo))
		i += 2
	}
	return out, nil
}
