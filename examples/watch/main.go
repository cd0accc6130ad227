//go:build linux

// Command watch shows keyctl-go's main job: one process watches its user
// keyring in a persistent, encrypted key store while another changes it,
// and the watcher prints each change as keyutils' `keyctl watch` would.
//
//	go run ./examples/watch
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// watchTag is the tag keyctl watch uses; it exits when that watch is removed.
const watchTag = 1

func main() {
	dir, err := os.MkdirTemp("", "keyctl-go-demo")
	if err != nil {
		fmt.Fprintln(os.Stderr, "watch:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	if err := run(filepath.Join(dir, "keys.db"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "watch:", err)
		os.Exit(1)
	}
}

func run(path string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	me := perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	watcher, changer := store.Process(me), store.Process(me)

	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	if err := q.SetSize(256); err != nil {
		return err
	}
	if err := watcher.Watch(ctx, keyring.UserKeyring, q, watchTag); err != nil {
		return err
	}
	ring, err := watcher.KeyringID(ctx, keyring.UserKeyring)
	if err != nil {
		return err
	}
	// The watcher runs beside the changer. A record can arrive before the
	// call that caused it returns (it is posted when the change commits), so
	// the watcher keeps what it hears and the demo prints it afterwards,
	// naming the random serials the store drew.
	type heard struct {
		records []watchqueue.Record
		err     error
	}
	watched := make(chan heard, 1)
	go func() {
		recs, err := watch(ctx, q)
		watched <- heard{recs, err}
	}()

	fmt.Fprintln(out, "changer: add user token, update it, add user other, unlink token, clear @u")
	token, err := changer.Add(ctx, "user", "token", []byte("v1"), keyring.UserKeyring)
	if err != nil {
		return err
	}
	if _, err := changer.Add(ctx, "user", "token", []byte("v2"), keyring.UserKeyring); err != nil {
		return err
	}
	other, err := changer.Add(ctx, "user", "other", []byte("x"), keyring.UserKeyring)
	if err != nil {
		return err
	}
	if err := changer.Unlink(ctx, token, keyring.UserKeyring); err != nil {
		return err
	}
	if err := changer.Clear(ctx, keyring.UserKeyring); err != nil {
		return err
	}
	// Stop watching: the watcher gets its removal record and exits.
	if err := watcher.Watch(ctx, keyring.UserKeyring, q, -1); err != nil {
		return err
	}
	h := <-watched
	if h.err != nil {
		return h.err
	}
	names := map[uint32]string{uint32(ring): "@u", uint32(token): "token", uint32(other): "other"}
	name := func(id uint32) string {
		if n, ok := names[id]; ok {
			return n
		}
		return fmt.Sprint(id)
	}
	for _, rec := range h.records {
		switch r := rec.(type) {
		case watchqueue.KeyNotification:
			switch r.Subtype {
			case watchqueue.KeyLinked, watchqueue.KeyUnlinked:
				fmt.Fprintf(out, "watcher: %s %s %s\n", name(r.KeyID), r.Subtype, name(r.Aux))
			default:
				fmt.Fprintf(out, "watcher: %s %s\n", name(r.KeyID), r.Subtype)
			}
		case watchqueue.Removal:
			fmt.Fprintf(out, "watcher: %s gc\n", name(uint32(r.ID)))
		case watchqueue.Loss:
			fmt.Fprintln(out, "watcher: -- LOSS --")
		}
	}
	return nil
}

// watch collects records until its own watch is removed, as keyctl watch
// runs until its watch (tag 1) goes.
func watch(ctx context.Context, q *watchqueue.Queue) ([]watchqueue.Record, error) {
	var recs []watchqueue.Record
	for rec, err := range q.Records(ctx) {
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
		if r, ok := rec.(watchqueue.Removal); ok && r.Tag == watchTag {
			return recs, nil
		}
	}
	return recs, ctx.Err()
}
