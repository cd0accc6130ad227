//go:build linux

package keyctl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A program opens the keys wherever the rule finds them, watches its user
// keyring, and hears its own change. With keyctl.Options{} it would follow
// the rule with the process's environment; here it names a store of its
// own, which no daemon serves, so the store is opened in the process.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "keyctl-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	c, err := keyctl.Open(ctx, keyctl.Options{
		Store:  filepath.Join(dir, "keys.db"),     // as keyctl-go --db
		Getenv: func(string) string { return "" }, // ignore this process's environment
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("through", c.Route().Step)

	if err := c.Watch(ctx, keyring.UserKeyring, 1); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Add(ctx, "user", "token", []byte("secret"), keyring.UserKeyring); err != nil {
		fmt.Println(err)
		return
	}
	for rec, err := range c.Records(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if r, ok := rec.(watchqueue.KeyNotification); ok {
			fmt.Println("heard", r.Subtype)
			break
		}
	}
	// Output:
	// through the named store
	// heard link
}
