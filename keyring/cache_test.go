//go:build linux

package keyring_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// After every kind of change, a read that the cache could have answered
// before gives the new answer.
func TestReadCacheFollowsEveryChange(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	a, b := e.store.Process(alice), e.store.Process(bob)
	ring := must[keyring.Serial](t)(a.Add(ctx, "keyring", "r", nil, keyring.UserKeyring))
	id := must[keyring.Serial](t)(a.Add(ctx, "user", "k", []byte("v1"), ring))
	for range 2 { // the second round is served from the cache
		if got := must[[]byte](t)(a.Read(ctx, id)); string(got) != "v1" {
			t.Fatalf("read %q", got)
		}
		must[keyring.Description](t)(a.Describe(ctx, id))
		must[keyring.Serial](t)(a.Search(ctx, ring, "user", "k", 0))
	}
	// Payload.
	must[struct{}](t)(struct{}{}, a.Update(ctx, id, []byte("v2")))
	if got := must[[]byte](t)(a.Read(ctx, id)); string(got) != "v2" {
		t.Errorf("after update, read %q", got)
	}
	// Mask: possessors get only View, the owner only Setattr (to set it
	// back). Without Search on the key there is no possession, so no read.
	must[struct{}](t)(struct{}{}, a.SetPerm(ctx, id, 0x01200000))
	_, err := a.Search(ctx, ring, "user", "k", 0)
	wantErrno(t, err, unix.EACCES) // no Search on the key any more
	// Possession: without Search the key is not possessed, so no read.
	_, err = a.Read(ctx, id)
	wantErrno(t, err, unix.EACCES)
	// Owner and group byte for another user.
	must[struct{}](t)(struct{}{}, a.SetPerm(ctx, id, 0x3f010003))
	if got := must[[]byte](t)(b.Read(ctx, id)); string(got) != "v2" {
		t.Errorf("bob, granted Read by other, read %q", got)
	}
	must[struct{}](t)(struct{}{}, a.SetPerm(ctx, id, 0x3f010000))
	_, err = b.Read(ctx, id)
	wantErrno(t, err, unix.EACCES)
	// Unlinked from where possession came from: alice's read needs it.
	must[keyring.Serial](t)(a.Search(ctx, ring, "user", "k", 0))
	must[struct{}](t)(struct{}{}, a.Link(ctx, id, keyring.UserKeyring))
	must[struct{}](t)(struct{}{}, a.Unlink(ctx, id, ring))
	_, err = a.Search(ctx, ring, "user", "k", 0)
	wantErrno(t, err, unix.ENOKEY)
	// Expiry needs no commit to take effect.
	must[struct{}](t)(struct{}{}, a.SetTimeout(ctx, id, 5*time.Second))
	must[[]byte](t)(a.Read(ctx, id))
	e.clock.Advance(6 * time.Second)
	_, err = a.Read(ctx, id)
	wantErrno(t, err, unix.EKEYEXPIRED)
	_, err = a.Describe(ctx, id)
	wantErrno(t, err, unix.EKEYEXPIRED)
	// Revocation and invalidation.
	id2 := must[keyring.Serial](t)(a.Add(ctx, "user", "k2", []byte("x"), keyring.UserKeyring))
	must[[]byte](t)(a.Read(ctx, id2))
	must[struct{}](t)(struct{}{}, a.Revoke(ctx, id2))
	_, err = a.Read(ctx, id2)
	wantErrno(t, err, unix.EKEYREVOKED)
	id3 := must[keyring.Serial](t)(a.Add(ctx, "user", "k3", []byte("x"), keyring.UserKeyring))
	must[keyring.Description](t)(a.Describe(ctx, id3))
	must[struct{}](t)(struct{}{}, a.Invalidate(ctx, id3))
	_, err = a.Describe(ctx, id3)
	wantErrno(t, err, unix.ENOKEY)
}

// Readers racing a writer never see a value older than one they have seen:
// the cache never installs a snapshot a commit has overtaken.
func TestReadCacheNeverGoesBackInTime(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	w := e.store.Process(alice)
	id := must[keyring.Serial](t)(w.Add(ctx, "user", "counter", []byte("0"), keyring.UserKeyring))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		r := e.store.Process(alice)
		wg.Go(func() {
			last := -1
			for !stop.Load() {
				b, err := r.Read(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				v, _ := strconv.Atoi(string(b))
				if v < last {
					t.Errorf("read %d after %d: a stale value", v, last)
					return
				}
				last = v
			}
		})
	}
	for i := 1; i <= 200; i++ {
		if err := w.Update(ctx, id, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		// After an update returns, every new read sees it.
		if got := must[[]byte](t)(w.Read(ctx, id)); string(got) != strconv.Itoa(i) {
			t.Fatalf("read %q right after writing %d", got, i)
		}
	}
	stop.Store(true)
	wg.Wait()
}

// Read needs Read or possession, not View: a key whose mask grants another
// user Read alone is readable by them, and stays so when the answer comes
// from the cache.
func TestCachedReadNeedsReadNotView(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	a, b := e.store.Process(alice), e.store.Process(bob)
	id := must[keyring.Serial](t)(a.Add(ctx, "user", "k", []byte("x"), keyring.UserKeyring))
	must[struct{}](t)(struct{}{}, a.SetPerm(ctx, id, 0x3f010002)) // other: Read only
	for range 2 {                                                 // the second read can come from the cache
		if got := must[[]byte](t)(b.Read(ctx, id)); string(got) != "x" {
			t.Fatalf("read %q", got)
		}
	}
	_, err := b.Describe(ctx, id)
	wantErrno(t, err, unix.EACCES) // no View
}
