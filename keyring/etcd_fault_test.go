//go:build linux

package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/etcdtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// The etcd leader killed while a host writes: every write acknowledged is
// there afterwards, as a host that opens the store anew reads it.
func TestEtcdLeaderKilledLosesNoAcknowledgedWrite(t *testing.T) {
	c := etcdtest.Start(t)
	h := newHosts(t, c)
	a := h.open()
	p := a.Process(root) // root's quota: as many writes as 3 s allow
	var acked []keyring.Serial
	var failed int
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		time.Sleep(300 * time.Millisecond)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		leader, err := c.Leader(ctx, c.Client(t))
		if err != nil {
			t.Error(err)
			return
		}
		leader.Kill()
	}()
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		id, err := p.Add(ctx, "user", fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i)), keyring.UserKeyring)
		switch {
		case err == nil:
			acked = append(acked, id)
		case errors.Is(err, unix.EIO):
			failed++ // outcome unknown: not acknowledged
		default:
			t.Fatalf("add %d: %v", i, err)
		}
	}
	<-killed
	t.Logf("%d writes acknowledged, %d failed while the leader was replaced", len(acked), failed)
	if len(acked) < 10 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}
	b := h.open() // a host that reads the store anew
	pb := b.Process(root)
	for _, id := range acked {
		if _, err := pb.Read(ctx, id); err != nil {
			t.Errorf("acknowledged key %d: %v", id, err)
		}
	}
}

// A host cut off from etcd (its only endpoint stopped) keeps reading from
// its copy, fails writes with EIO, and when it is back its watchers have
// every change made meanwhile, or, if etcd compacted them away, a loss
// record: never a silent gap.
func TestEtcdHostCutOffAndBack(t *testing.T) {
	c := etcdtest.Start(t)
	h := newHosts(t, c)
	admin := c.Client(t)
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	leader, err := c.Leader(lctx, admin)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var others []string
	var cut *etcdtest.Member
	for _, m := range c.Members() {
		if m != leader && cut == nil {
			cut = m
		} else {
			others = append(others, m.Endpoint())
		}
	}
	a := h.open(others...)
	opts := h.optionsTimeout(time.Second, cut.Endpoint())
	b, err := keyring.Open("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	pa, pb := a.Process(alice), b.Process(alice)
	ring := must[keyring.Serial](t)(pa.KeyringID(ctx, keyring.UserKeyring))
	must[struct{}](t)(struct{}{}, b.Sync(ctx))
	first := must[keyring.Serial](t)(pa.Add(ctx, "user", "before", []byte("v0"), keyring.UserKeyring))
	must[struct{}](t)(struct{}{}, b.Sync(ctx))
	qa, qb := watchRev(t, pa, ring), watchRev(t, pb, ring)

	t.Run("stopped", func(t *testing.T) {
		cut.Signal(syscall.SIGSTOP)
		for i := range 5 {
			must[keyring.Serial](t)(pa.Add(ctx, "user", fmt.Sprint("stopped", i), []byte("x"), keyring.UserKeyring))
		}
		compactNow(t, admin)
		if got := must[[]byte](t)(pb.Read(ctx, first)); string(got) != "v0" {
			t.Errorf("the cut-off host reads %q from its copy", got)
		}
		_, err := pb.Add(ctx, "user", "while-cut", []byte("x"), keyring.UserKeyring)
		wantErrno(t, err, unix.EIO)
		cut.Signal(syscall.SIGCONT)
		ra := awaitRaw(t, qa, 5)
		rb := awaitRaw(t, qb, 5)
		if !slices.Equal(ra, rb) && !hasLoss(t, rb) {
			t.Errorf("after the stop host B's watcher got %d records, host A's %d, and no loss record", len(rb), len(ra))
		}
	})

	t.Run("killed-and-compacted", func(t *testing.T) {
		cut.Kill()
		for i := range 5 {
			must[keyring.Serial](t)(pa.Add(ctx, "user", fmt.Sprint("killed", i), []byte("x"), keyring.UserKeyring))
		}
		awaitRaw(t, qa, 5)
		compactNow(t, admin)
		if err := cut.Restart(); err != nil {
			t.Fatal(err)
		}
		var got []string
		deadline := time.Now().Add(15 * time.Second)
		for !hasLoss(t, got) && time.Now().Before(deadline) {
			got = append(got, awaitRaw(t, qb, 1)...)
		}
		if !hasLoss(t, got) {
			for _, r := range got {
				rec, _, _ := watchqueue.Decode([]byte(r), true)
				t.Logf("%#v", rec)
			}
			t.Fatalf("host B's watcher got %d records and no loss record after its feed missed compacted changes", len(got))
		}
		// And B is current again: it reads what A wrote meanwhile.
		must[struct{}](t)(struct{}{}, b.Sync(ctx))
		keys := must[[]keyring.Serial](t)(pb.Keys(ctx, ring))
		if len(keys) != 1+5+5 {
			t.Errorf("host B sees %d keys in @u after catching up, want 11", len(keys))
		}
	})
}

// compactNow compacts the cluster's history up to its current revision.
func compactNow(t *testing.T, admin *clientv3.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := admin.Get(ctx, "compact")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
}

// hasLoss reports whether raw records include a loss record.
func hasLoss(t *testing.T, raw []string) bool {
	for _, r := range raw {
		rec, _, err := watchqueue.Decode([]byte(r), true)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rec.(watchqueue.Loss); ok {
			return true
		}
	}
	return false
}
