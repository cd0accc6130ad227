//go:build linux

package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// A daemon serves one store; clients act on it as the processes they are.
func Example() {
	dir, _ := os.MkdirTemp("", "keyctl-go-example-")
	defer os.RemoveAll(dir)
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close() // after the server: Close does not close the store
	srv, err := daemon.Listen(filepath.Join(dir, "daemon.sock"), store, daemon.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve()
	defer srv.Close()

	ctx := context.Background()
	c, err := daemon.Dial(ctx, srv.Path())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	id, err := c.Add(ctx, "user", "greeting", []byte("hello"), keyring.UserKeyring)
	if err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := c.Read(ctx, id)
	d, _ := c.Describe(ctx, id)
	fmt.Printf("%s %s %q\n", d.Type, d.Description, payload)
	// Output: user greeting "hello"
}

// greet is a program's work, written against keyring.Caller: it does not
// know whether the store is its own or the daemon's.
func greet(ctx context.Context, c keyring.Caller) (string, error) {
	id, err := c.Add(ctx, "user", "greeting", []byte("hello"), keyring.UserKeyring)
	if err != nil {
		return "", err
	}
	ids, err := c.Keys(ctx, keyring.UserKeyring)
	if err != nil {
		return "", err
	}
	payload, err := c.Read(ctx, id)
	return fmt.Sprintf("%d key, %q", len(ids), payload), err
}

// A program switches between a store of its own and the daemon by the
// one line that makes its keyring.Caller.
func Example_caller() {
	dir, _ := os.MkdirTemp("", "keyctl-go-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	own, err := keyring.Open(filepath.Join(dir, "own.db"), keyring.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer own.Close()
	proc := own.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	defer proc.Release(ctx)

	served, err := keyring.Open(filepath.Join(dir, "served.db"), keyring.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer served.Close()
	srv, err := daemon.Listen(filepath.Join(dir, "daemon.sock"), served, daemon.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve()
	defer srv.Close()
	client, err := daemon.Dial(ctx, srv.Path())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	for _, c := range []keyring.Caller{proc, client} {
		fmt.Println(greet(ctx, c))
	}
	// Output:
	// 1 key, "hello" <nil>
	// 1 key, "hello" <nil>
}
