//go:build linux

// Command hello is the README's library example: it finds the keys as the
// keyctl-go command does (a daemon that serves them, else the user's own
// store), watches the user keyring, adds a key to it, reads the key back
// and hears the change:
//
//	go run ./examples/hello
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

func main() {
	if err := hello(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

// hello is quoted in the README; main_test.go checks that the quote is
// this function, word for word.
func hello(ctx context.Context, out io.Writer) error {
	c, err := keyctl.Open(ctx, keyctl.Options{}) // a daemon if one serves you, else your store
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Watch(ctx, keyring.UserKeyring, 1); err != nil { // hear every change to @u
		return err
	}
	id, err := c.Add(ctx, "user", "greeting", []byte("hello"), keyring.UserKeyring)
	if err != nil {
		return err
	}
	data, err := c.Read(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "read %q\n", data)
	for rec, err := range c.Records(ctx) { // each change to @u, once it is on disk
		if err != nil {
			return err
		}
		if n, ok := rec.(watchqueue.KeyNotification); ok {
			fmt.Fprintf(out, "heard: %d %v %d\n", n.KeyID, n.Subtype, n.Aux) // @u link <id>
			return nil
		}
	}
	return nil
}
