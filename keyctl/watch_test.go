//go:build linux

package keyctl_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// linkedOnly passes key notifications of one subtype: links.
func linkedOnly() *watchqueue.Filter {
	var sub watchqueue.SubtypeSet
	sub.Add(uint8(watchqueue.KeyLinked))
	return &watchqueue.Filter{Types: []watchqueue.TypeFilter{{Type: watchqueue.TypeKeyNotify, Subtypes: sub}}}
}

// watchRun watches a keyring through c, makes n keys in it and unlinks
// them again without reading, then reads what the queue kept, each
// record as text with the serials replaced by the order the keys were
// made in, so that two stores' runs compare.
func watchRun(t *testing.T, c keyctl.Caller, n int) []string {
	t.Helper()
	ring, err := c.Add(ctx, "keyring", "watched", nil, keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(ctx, ring, 7); err != nil {
		t.Fatal(err)
	}
	names := map[uint32]string{uint32(ring): "ring"}
	var keys []keyring.Serial
	for i := range n {
		k, err := c.Add(ctx, "user", fmt.Sprint("k", i), []byte("v"), ring)
		if err != nil {
			t.Fatal(err)
		}
		names[uint32(k)] = fmt.Sprint("k", i)
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := c.Unlink(ctx, k, ring); err != nil {
			t.Fatal(err)
		}
	}
	// Embedded, all is posted by now (the calls returned after their
	// commits); remote, records cross the connection after the replies.
	// A reader that comes back a moment later sees the same in both.
	time.Sleep(300 * time.Millisecond)
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var got []string
	for rec, err := range c.Records(rctx) {
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Records: %v", err)
			}
			break
		}
		switch r := rec.(type) {
		case watchqueue.KeyNotification:
			got = append(got, fmt.Sprintf("%s %v %s tag %d", names[r.KeyID], r.Subtype, names[r.Aux], r.Tag))
		case watchqueue.Loss:
			got = append(got, "-- LOSS --")
		default:
			got = append(got, fmt.Sprintf("%T", rec))
		}
	}
	return got
}

// One program, run with and without a daemon, hears the same records,
// loses the same ones when its queue is full, and filters the same way,
// before the queue: Options.QueueSize and Filter mean one thing.
func TestWatchIsTheSameEmbeddedAndRemote(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		filter *watchqueue.Filter
		n      int
		check  func(t *testing.T, got []string)
	}{
		{"everything fits", 64, nil, 20, func(t *testing.T, got []string) {
			if len(got) != 40 || slices.Contains(got, "-- LOSS --") {
				t.Errorf("%d records, %v; want 40 without loss", len(got), got)
			}
		}},
		{"the queue overflows", 32, nil, 30, func(t *testing.T, got []string) {
			if len(got) != 33 || got[32] != "-- LOSS --" {
				t.Errorf("%d records, %v; want the queue's 32 and a loss", len(got), got)
			}
		}},
		{"the filter keeps what fits", 32, linkedOnly(), 30, func(t *testing.T, got []string) {
			if len(got) != 30 || slices.Contains(got, "-- LOSS --") {
				t.Errorf("%d records, %v; want the 30 links, filtered before the queue", len(got), got)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs := map[string][]string{}
			for _, remote := range []bool{false, true} {
				e := newEnv(t)
				e.opts.Store = filepath.Join(shortTempDir(t), "w.db")
				e.opts.QueueSize, e.opts.Filter = c.size, c.filter
				want := keyctl.StepStoreFile
				if remote {
					e.serve(e.storeSocket(), false)
					want = keyctl.StepStoreDaemon
				}
				caller, err := keyctl.Open(ctx, e.opts)
				if err != nil {
					t.Fatal(err)
				}
				if caller.Route().Step != want {
					t.Fatalf("Open took %v, want %v", caller.Route(), want)
				}
				got := watchRun(t, caller, c.n)
				if err := caller.Close(); err != nil {
					t.Error(err)
				}
				c.check(t, got)
				runs[caller.Route().Step.String()] = got
			}
			emb, rem := runs[keyctl.StepStoreFile.String()], runs[keyctl.StepStoreDaemon.String()]
			if !slices.Equal(emb, rem) {
				t.Errorf("embedded and remote heard differently:\nembedded %v\nremote   %v", emb, rem)
			}
		})
	}
}

// The queue is set once, by the first Watch, as a notification pipe is
// sized once: a bad size fails that Watch, embedded and remote alike.
func TestWatchQueueSizeChecked(t *testing.T) {
	for _, remote := range []bool{false, true} {
		e := newEnv(t)
		e.opts.Store = filepath.Join(shortTempDir(t), "w.db")
		e.opts.QueueSize = watchqueue.MaxNotes + 1
		if remote {
			e.serve(e.storeSocket(), false)
		}
		c, err := keyctl.Open(ctx, e.opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Watch(ctx, keyring.UserKeyring, 1); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%v: Watch with a queue of %d: %v; want EINVAL", c.Route(), e.opts.QueueSize, err)
		}
		c.Close()
	}
}

// A Caller that keeps revisions hears each change with the revision the
// store's history gives it, of the store StoreUUID names, embedded and
// through a daemon alike; one that watches first is too late (EBUSY).
func TestRevisionsTheSameEmbeddedAndRemote(t *testing.T) {
	for _, remote := range []bool{false, true} {
		e := newEnv(t)
		e.opts.Store = filepath.Join(shortTempDir(t), "r.db")
		if remote {
			e.serve(e.storeSocket(), false)
		}
		c, err := keyctl.Open(ctx, e.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.KeepRevisions(ctx); err != nil {
			t.Fatalf("%v: KeepRevisions: %v", c.Route(), err)
		}
		store, err := c.StoreID(ctx)
		if err != nil || store.UUID == uuid.Nil || store.History == uuid.Nil {
			t.Fatalf("%v: StoreID = %v, %v", c.Route(), store, err)
		}
		_, start, err := c.Changes(ctx, store, ^uint64(0))
		if err != nil {
			t.Fatal(err)
		}
		ring, err := c.Add(ctx, "keyring", "watched", nil, keyring.UserKeyring)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Watch(ctx, ring, 1); err != nil {
			t.Fatal(err)
		}
		key, err := c.Add(ctx, "user", "k", []byte("v"), ring)
		if err != nil {
			t.Fatal(err)
		}
		cs, _, err := c.Changes(ctx, store, start)
		if err != nil {
			t.Fatal(err)
		}
		var want uint64
		for _, ch := range cs {
			if ch.Key == ring && ch.Subtype == watchqueue.KeyLinked && ch.Aux == key {
				want = ch.Revision
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for rec, err := range c.Records(rctx) {
			if err != nil {
				t.Fatalf("%v: Records: %v", c.Route(), err)
			}
			if n, ok := rec.(watchqueue.KeyNotification); !ok || n.Aux != uint32(key) || n.Revision != want || want == 0 {
				t.Errorf("%v: record %#v; want the link of %v at revision %d", c.Route(), rec, key, want)
			}
			break
		}
		cancel()

		if !remote {
			continue // the store is c's while it is open
		}
		late, err := keyctl.Open(ctx, e.opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := late.Watch(ctx, ring, 2); err != nil {
			t.Fatal(err)
		}
		if err := late.KeepRevisions(ctx); !errors.Is(err, unix.EBUSY) {
			t.Errorf("%v: KeepRevisions after a Watch: %v, want EBUSY", late.Route(), err)
		}
		late.Close()
	}
}
