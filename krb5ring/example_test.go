//go:build linux

package krb5ring_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A FILE cache made by kinit goes into the store as kinit would have put
// it into the kernel's keyrings, and comes back out byte for byte.
func Example() {
	dir, _ := os.MkdirTemp("", "krb5ring-example-")
	defer os.RemoveAll(dir)
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	ctx := context.Background()
	p := store.Process(perms.Cred{UID: 1000, GID: 1000})
	defer p.Release(ctx)

	orig, _ := os.ReadFile("../ccache/testdata/mit/v4-kvno.cc")
	f, _ := ccache.Parse(orig)
	name, _ := krb5ring.ParseName("KEYRING:persistent:1000")
	// The clock the tickets' timeouts count from: when they were issued.
	opts := krb5ring.Options{Now: func() time.Time { return time.Unix(int64(f.Credentials[1].AuthTime), 0) }}
	col, err := krb5ring.Open(ctx, p, name, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	k, err := col.Import(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := k.Export(ctx)
	b, _ := out.Marshal()
	fmt.Println(k.Name(), string(b) == string(orig))
	// Output: KEYRING:persistent:1000:1000 true
}

// A watch hears a cache arrive in the collection, whatever made it.
func ExampleCollection_Watch() {
	dir, _ := os.MkdirTemp("", "krb5ring-example-")
	defer os.RemoveAll(dir)
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	ctx := context.Background()
	p := store.Process(perms.Cred{UID: 1000, GID: 1000})
	defer p.Release(ctx)

	f, _ := ccache.ReadFile("../ccache/testdata/mit/v4-kinit.cc")
	issued := time.Unix(int64(f.Credentials[1].AuthTime), 0)
	name, _ := krb5ring.ParseName("KEYRING:session:example")
	col, err := krb5ring.Open(ctx, p, name, krb5ring.Options{Now: func() time.Time { return issued }})
	if err != nil {
		fmt.Println(err)
		return
	}
	q := watchqueue.New(watchqueue.Options{})
	q.SetSize(64)
	defer q.Close()
	w, err := col.Watch(ctx, keyring.QueueWatcher(p, q))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()

	if _, err := col.Import(ctx, f); err != nil {
		fmt.Println(err)
		return
	}
	n := 0
	for e, err := range w.Events(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e)
		if n++; n == 3 {
			break
		}
	}
	// Output:
	// created KEYRING:session:example:example
	// stored KEYRING:session:example:example krb5_ccache_conf_data/fast_avail/krbtgt\/TEST.LOCAL\@TEST.LOCAL@X-CACHECONF:
	// stored KEYRING:session:example:example krbtgt/TEST.LOCAL@TEST.LOCAL
}
