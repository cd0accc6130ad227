// Command watch shows keyctl-go's notification core at work: one goroutine
// watches a keyring through a notification queue while another changes it,
// and the watcher prints each record as keyutils' `keyctl watch` would.
//
//	go run ./examples/watch
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keyctl-go/keyctl-go/notify"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

const (
	keyringID = 0x2d279683 // the watched keyring's serial
	watchTag  = 1          // keyctl watch uses tag 1 and exits when that watch is removed
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "watch:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	policy := notify.NewPolicy(notify.PolicyOptions{})
	keyring := notify.NewWatchList(keyringID, policy)
	me := perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}

	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	if err := q.SetSize(256); err != nil {
		return err
	}
	if err := keyring.Add(q, watchTag, me); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	watched := make(chan error, 1)
	go func() { watched <- watch(ctx, q, out) }()

	// Elsewhere, the keyring changes: a key is linked, updated and
	// unlinked, then the keyring itself is destroyed.
	const key = 0x04c1a36d
	post := func(sub watchqueue.KeySubtype, id, aux uint32) {
		rec := watchqueue.KeyNotification{Subtype: sub, KeyID: id, Aux: aux}.AppendBinary(nil, false)
		keyring.Post(rec, me, 0)
		time.Sleep(10 * time.Millisecond) // so the output interleaves as it would live
	}
	fmt.Fprintln(out, "posting: link, update, unlink, clear; then destroying the keyring")
	post(watchqueue.KeyLinked, keyringID, key)
	post(watchqueue.KeyUpdated, keyringID, 0)
	post(watchqueue.KeyUnlinked, keyringID, key)
	post(watchqueue.KeyCleared, keyringID, 0)
	keyring.Destroy(0)
	return <-watched
}

// watch prints records until its own watch is removed.
func watch(ctx context.Context, q *watchqueue.Queue, out io.Writer) error {
	for rec, err := range q.Records(ctx) {
		if err != nil {
			return err
		}
		switch r := rec.(type) {
		case watchqueue.KeyNotification:
			switch r.Subtype {
			case watchqueue.KeyLinked, watchqueue.KeyUnlinked:
				fmt.Fprintf(out, "watcher: %d %s %d\n", r.KeyID, r.Subtype, r.Aux)
			default:
				fmt.Fprintf(out, "watcher: %d %s\n", r.KeyID, r.Subtype)
			}
		case watchqueue.Removal:
			fmt.Fprintf(out, "watcher: %d gc\n", r.ID)
			if r.Tag == watchTag {
				return nil
			}
		case watchqueue.Loss:
			fmt.Fprintln(out, "watcher: -- LOSS --")
		}
	}
	return ctx.Err()
}
