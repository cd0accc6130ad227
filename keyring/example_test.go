//go:build linux

package keyring_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A program opens a store, watches its user keyring, adds a key to it, and
// receives the change as a record in the kernel's layout.
func Example() {
	dir, _ := os.MkdirTemp("", "keyring-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	me := store.Process(perms.Cred{UID: 1000, GID: 1000})

	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	q.SetSize(256)
	if err := me.Watch(ctx, keyring.UserKeyring, q, 1); err != nil {
		panic(err)
	}

	id, err := me.Add(ctx, "user", "token", []byte("s3cr3t"), keyring.UserKeyring)
	if err != nil {
		panic(err)
	}
	payload, _ := me.Read(ctx, id)
	fmt.Printf("read back %q\n", payload)

	buf := make([]byte, watchqueue.ReadBufferSize)
	n, _ := q.TryRead(buf)
	rec, _, _ := watchqueue.Decode(buf[:n], false)
	k := rec.(watchqueue.KeyNotification)
	fmt.Println("watcher:", k.Subtype, "aux is the new key:", keyring.Serial(k.Aux) == id)
	// Output:
	// read back "s3cr3t"
	// watcher: link aux is the new key: true
}
