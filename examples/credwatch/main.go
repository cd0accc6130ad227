//go:build linux

// Command credwatch keeps a credential in the user keyring and watches
// it, through package keyctl: the same program, unchanged, acts through
// the system daemon or the user's own if one runs, and on the user's
// store directly if none does (keyctl-go --help says in which order it
// looks). It rotates the credential a few times, revokes it, and prints
// what its watches heard, in order:
//
//	go run ./examples/credwatch
//
// Through a daemon, changes other programs make to the user keyring meanwhile
// are heard too.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Tags of the two watches: the user keyring's, and the credential's.
const (
	ringTag = 1
	credTag = 2
)

// credName is the credential's description in the user keyring.
const credName = "credwatch:api-token"

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, keyctl.Options{}, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "credwatch:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o keyctl.Options, out, log io.Writer) error {
	c, err := keyctl.Open(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintln(log, "credwatch: through", c.Route())

	if err := c.Watch(ctx, keyring.UserKeyring, ringTag); err != nil {
		return err
	}
	ring, err := c.KeyringID(ctx, keyring.UserKeyring)
	if err != nil {
		return err
	}
	cred, err := c.Add(ctx, "user", credName, []byte("token-1"), keyring.UserKeyring)
	if err != nil {
		return err
	}
	if err := c.Watch(ctx, cred, credTag); err != nil {
		return err
	}
	for i := 2; i <= 3; i++ { // rotate: add again updates the key in place
		if _, err := c.Add(ctx, "user", credName, []byte(fmt.Sprint("token-", i)), keyring.UserKeyring); err != nil {
			return err
		}
	}
	if err := c.Revoke(ctx, cred); err != nil {
		return err
	}
	// Removing the keyring's watch: its removal record says that
	// everything before it has been heard. (The credential's watch stays
	// until Close: a revoked key cannot be looked up to remove it.)
	if err := c.Watch(ctx, keyring.UserKeyring, -1); err != nil {
		return err
	}

	names := map[uint32]string{uint32(ring): "@u", uint32(cred): "credential"}
	name := func(id uint32) string {
		if n, ok := names[id]; ok {
			return n
		}
		return fmt.Sprint(id) // a key another program added
	}
	for rec, err := range c.Records(ctx) {
		if err != nil {
			return err
		}
		switch r := rec.(type) {
		case watchqueue.KeyNotification:
			switch r.Subtype {
			case watchqueue.KeyLinked, watchqueue.KeyUnlinked:
				fmt.Fprintf(out, "%s %s %s\n", name(r.KeyID), r.Subtype, name(r.Aux))
			default:
				fmt.Fprintf(out, "%s %s\n", name(r.KeyID), r.Subtype)
			}
		case watchqueue.Removal:
			fmt.Fprintf(out, "watch %d removed\n", r.Tag)
			if r.Tag == ringTag {
				return nil
			}
		case watchqueue.Loss:
			fmt.Fprintln(out, "-- LOSS --")
		}
	}
	return errors.New("the watches ended before their removal")
}
