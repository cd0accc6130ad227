package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
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
