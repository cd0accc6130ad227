//go:build linux

package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// TestAtomicCommitsAllOrNothing: a transaction's operations see each
// other's changes, a failure in it keeps none of them, and a success keeps
// all of them, across a reopen.
func TestAtomicCommitsAllOrNothing(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	ring := must[keyring.Serial](t)(p.Add(ctx, "keyring", "cache", nil, keyring.UserKeyring))

	var a, b keyring.Serial
	err := p.Atomic(ctx, func(tx *keyring.Tx) (err error) {
		if a, err = tx.Add(ctx, "user", "a", []byte("1"), ring); err != nil {
			return err
		}
		// The second operation sees the first one's key.
		if got, err := tx.Search(ctx, ring, "user", "a", 0); err != nil || got != a {
			t.Errorf("search in the transaction: %v, %v; want %v", got, err, a)
		}
		if b, err = tx.Add(ctx, "user", "b", []byte("2"), ring); err != nil {
			return err
		}
		return tx.Unlink(ctx, a, ring)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.reopen()
	p = e.store.Process(alice)
	ids := must[[]keyring.Serial](t)(p.Keys(ctx, ring))
	if len(ids) != 1 || ids[0] != b {
		t.Fatalf("after the transaction the keyring holds %v, want [%v]", ids, b)
	}
	if _, err := p.Describe(ctx, a); !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("the key unlinked in the transaction: %v, want ENOKEY (collected)", err)
	}

	// A failing operation, passed on, undoes what went before it.
	err = p.Atomic(ctx, func(tx *keyring.Tx) error {
		if err := tx.Clear(ctx, ring); err != nil {
			return err
		}
		if _, err := tx.Add(ctx, "user", "c", []byte("3"), ring); err != nil {
			return err
		}
		_, err := tx.Add(ctx, "user", "d", nil, ring) // an empty user payload: EINVAL
		return err
	})
	wantErrno(t, err, unix.EINVAL)
	ids = must[[]keyring.Serial](t)(p.Keys(ctx, ring))
	if len(ids) != 1 || ids[0] != b {
		t.Fatalf("after a failed transaction the keyring holds %v, want [%v] untouched", ids, b)
	}
	if got := must[[]byte](t)(p.Read(ctx, b)); string(got) != "2" {
		t.Fatalf("key b reads %q after a failed transaction", got)
	}
}

// TestAtomicReadersSeeBeforeOrAfter: a reader racing transactions that
// empty a keyring and fill it again never sees it empty or half filled.
func TestAtomicReadersSeeBeforeOrAfter(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	ring := must[keyring.Serial](t)(p.Add(ctx, "keyring", "cache", nil, keyring.UserKeyring))
	fill := func(tx keyring.Caller) error {
		for _, d := range []string{"a", "b", "c"} {
			if _, err := tx.Add(ctx, "user", d, []byte(d), ring); err != nil {
				return err
			}
		}
		return nil
	}
	if err := fill(p); err != nil {
		t.Fatal(err)
	}
	reader := e.store.Process(alice)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad []int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			ids, err := reader.Keys(ctx, ring)
			if err != nil {
				t.Error(err)
				return
			}
			if len(ids) != 3 {
				bad = append(bad, len(ids))
			}
		}
	})
	for range 50 {
		if err := p.Atomic(ctx, func(tx *keyring.Tx) error {
			if err := tx.Clear(ctx, ring); err != nil {
				return err
			}
			return fill(tx)
		}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("a reader saw the keyring with %v keys during replacements", bad)
	}
}

// TestAtomicPostsAfterCommitInOrder: watchers hear a transaction's
// operations after it commits, in order, and nothing of one that failed.
func TestAtomicPostsAfterCommitInOrder(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	ring := must[keyring.Serial](t)(p.Add(ctx, "keyring", "cache", nil, keyring.UserKeyring))
	q := watch(t, p, ring, 1)
	var k keyring.Serial
	err := p.Atomic(ctx, func(tx *keyring.Tx) (err error) {
		if k, err = tx.Add(ctx, "user", "a", []byte("1"), ring); err != nil {
			return err
		}
		if got := records(t, q); len(got) != 0 {
			t.Errorf("heard %v before the commit", got)
		}
		return tx.Clear(ctx, ring)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{s(ring) + " link " + s(k), s(ring) + " clr"}
	if got := records(t, q); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("heard %q, want %q", got, want)
	}
	err = p.Atomic(ctx, func(tx *keyring.Tx) error {
		if _, err := tx.Add(ctx, "user", "b", []byte("2"), ring); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	if err == nil || err.Error() != "changed my mind" {
		t.Fatalf("Atomic returned %v, want fn's error", err)
	}
	if got := records(t, q); len(got) != 0 {
		t.Fatalf("heard %v from a transaction that was rolled back", got)
	}
}

// TestAtomicKeepsTheKernelsChecks: inside a transaction the caller is
// who it is: another user's keyring refuses it as it would outside, and a
// Tx kept past its function refuses to act.
func TestAtomicKeepsTheKernelsChecks(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	pa, pb := e.store.Process(alice), e.store.Process(bob)
	ring := must[keyring.Serial](t)(pa.Add(ctx, "keyring", "private", nil, keyring.UserKeyring))
	var kept *keyring.Tx
	err := pb.Atomic(ctx, func(tx *keyring.Tx) error {
		kept = tx
		_, err := tx.Add(ctx, "user", "x", []byte("x"), ring)
		return err
	})
	wantErrno(t, err, unix.EACCES)
	if _, err := kept.Add(ctx, "user", "x", []byte("x"), keyring.UserKeyring); err == nil {
		t.Fatal("a Tx used after Atomic returned still acts")
	}
	if _, err := kept.JoinSession(ctx, ""); err == nil {
		t.Fatal("JoinSession worked on a finished Tx")
	}
	err = pa.Atomic(ctx, func(tx *keyring.Tx) error {
		_, err := tx.JoinSession(ctx, "")
		return err
	})
	wantErrno(t, err, unix.EOPNOTSUPP)
}

// TestNotInQuota: an uncharged process stores keys past its owner's
// kernel quota without charging it; when the owner itself writes into
// such a key, the key is charged to it and the quota applies, so a user
// cannot grow an uncharged key beyond its quota.
func TestNotInQuota(t *testing.T) {
	e := newEnv(t, keyring.Options{Quota: keyring.Quota{MaxKeys: 200, MaxBytes: 2000, RootMaxKeys: 200, RootMaxBytes: 2000}})
	service := e.store.ProcessNotInQuota(alice)
	user := e.store.Process(alice)
	ring := must[keyring.Serial](t)(service.Add(ctx, "keyring", "caches", nil, keyring.UserKeyring))
	big := bytes.Repeat([]byte("t"), 1500)
	var ids []keyring.Serial
	for _, d := range []string{"a", "b", "c", "d"} {
		ids = append(ids, must[keyring.Serial](t)(service.Add(ctx, "user", d, big, ring)))
	}
	// Alice's own key still fits: nothing above was charged to her.
	if _, err := user.Add(ctx, "user", "mine", big, keyring.UserKeyring); err != nil {
		t.Fatalf("alice's quota was charged for the uncharged keys: %v", err)
	}
	// Alice writing into an uncharged key pays for it, and cannot.
	err := user.Update(ctx, ids[0], big[:1000])
	wantErrno(t, err, unix.EDQUOT)
	if got := must[[]byte](t)(user.Read(ctx, ids[0])); !bytes.Equal(got, big) {
		t.Fatal("a refused update changed the key")
	}
	// A smaller write fits, and is charged from then on...
	must[keyring.Serial](t)(user.Add(ctx, "user", "a", big[:300], ring))
	if _, err := user.Add(ctx, "user", "mine2", big[:300], keyring.UserKeyring); !errors.Is(err, unix.EDQUOT) {
		t.Fatalf("alice's quota did not count the key she wrote: %v", err)
	}
	// ...until the uncharged process writes it again, which gives it back.
	must[keyring.Serial](t)(service.Add(ctx, "user", "a", big, ring))
	must[keyring.Serial](t)(user.Add(ctx, "user", "mine2", big[:300], keyring.UserKeyring))
	// The store's charges add up (Check, at cleanup), across a reopen.
	e.reopen()
	if err := e.store.Process(alice).Atomic(ctx, func(tx *keyring.Tx) error {
		return tx.Clear(ctx, ring)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Process(alice).Add(ctx, "user", "late", []byte(strings.Repeat("x", 10)), keyring.UserKeyring); err != nil {
		t.Fatal(err)
	}
}

// TestAtomicNeverWaitsForAConstruction: an operation of a transaction
// that meets a key under construction, which a Process would wait for,
// fails at once with EAGAIN, and Atomic does not wait to run it again;
// operations that see such a key without waiting (describe, search,
// unlink) work in a transaction as outside one. The helper builds the key
// meanwhile, which it could not do if a transaction held the store
// waiting for it.
func TestAtomicNeverWaitsForAConstruction(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, session := requester(t, e, alice)
	c := construct(t, req, "debug:x", "x", 0)

	bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for name, op := range map[string]func(tx *keyring.Tx) error{
		"read": func(tx *keyring.Tx) error { _, err := tx.Read(ctx, c.Key); return err },
		"link": func(tx *keyring.Tx) error { return tx.Link(ctx, c.Key, keyring.UserKeyring) },
	} {
		err := req.Atomic(bounded, op)
		if !errors.Is(err, unix.EAGAIN) {
			t.Fatalf("%s of a key under construction in a transaction: %v; want EAGAIN at once", name, err)
		}
	}
	err := req.Atomic(ctx, func(tx *keyring.Tx) error {
		if d, err := tx.Describe(ctx, c.Key); err != nil || d.Description != "debug:x" {
			return fmt.Errorf("describe: %v, %v", d, err)
		}
		if id, err := tx.Search(ctx, session, "user", "debug:x", 0); err != nil || id != c.Key {
			return fmt.Errorf("search: %v, %v", id, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	// A transaction reads @a as Read does: the callout information.
	err = helper.Atomic(ctx, func(tx *keyring.Tx) error {
		info, err := tx.Read(ctx, keyring.ReqKeyAuthKey)
		if err == nil && string(info) != "x" {
			err = fmt.Errorf("@a reads %q", info)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Instantiate(ctx, c.Key, []byte("built"), 0); err != nil {
		t.Fatal(err)
	}
	must[keyring.Serial](t)(req.CompleteRequest(ctx, c.Key))
	err = req.Atomic(ctx, func(tx *keyring.Tx) error {
		got, err := tx.Read(ctx, c.Key)
		if err == nil && string(got) != "built" {
			err = fmt.Errorf("read %q", got)
		}
		return err
	})
	if err != nil {
		t.Fatalf("read once constructed: %v", err)
	}

	// Unlink takes a key under construction as it is, in a transaction too.
	c = construct(t, req, "debug:y", "y", session)
	if err := req.Atomic(ctx, func(tx *keyring.Tx) error { return tx.Unlink(ctx, c.Key, session) }); err != nil {
		t.Fatalf("unlink of a key under construction in a transaction: %v", err)
	}
	if ids := must[[]keyring.Serial](t)(req.Keys(ctx, session)); len(ids) != 1 {
		t.Fatalf("session holds %v after the unlink, want the first key alone", ids)
	}
}

// TestAtomicOffersNoCallouts: request_key's callouts are EOPNOTSUPP in a
// transaction, and change nothing; an authority assumed outside still
// lends the requester's keyrings inside one.
func TestAtomicOffersNoCallouts(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, session := requester(t, e, alice)
	secret := must[keyring.Serial](t)(req.Add(ctx, "user", "secret", []byte("s3"), session))
	if err := req.SetPerm(ctx, secret, perms.NewMask(perms.All, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	c := construct(t, req, "debug:x", "x", 0)
	for name, op := range map[string]func(tx *keyring.Tx) error{
		"request_key with callout": func(tx *keyring.Tx) error {
			_, got, err := tx.RequestKeyWithCallout(ctx, "user", "debug:other", []byte("x"), 0)
			if got != nil {
				t.Errorf("a transaction made a construction")
			}
			return err
		},
		"complete":         func(tx *keyring.Tx) error { _, err := tx.CompleteRequest(ctx, c.Key); return err },
		"assume authority": func(tx *keyring.Tx) error { _, err := tx.AssumeAuthority(ctx, c.Key, c.Token); return err },
		"instantiate":      func(tx *keyring.Tx) error { return tx.Instantiate(ctx, c.Key, []byte("v"), 0) },
		"reject":           func(tx *keyring.Tx) error { return tx.Reject(ctx, c.Key, time.Minute, unix.EKEYREJECTED, 0) },
	} {
		err := helper.Atomic(ctx, op)
		if !errors.Is(err, unix.EOPNOTSUPP) {
			t.Errorf("%s in a transaction: %v, want EOPNOTSUPP", name, err)
		}
	}
	if _, err := helper.Read(ctx, keyring.ReqKeyAuthKey); !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("@a after the transactions: %v; want ENOKEY, no authority assumed", err)
	}

	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	err := helper.Atomic(ctx, func(tx *keyring.Tx) error {
		// The helper's own session first, then the requester's key: the
		// requester's possession is its own, not the helper's kept answers.
		if _, err := tx.Describe(ctx, keyring.SessionKeyring); err != nil {
			return err
		}
		got, err := tx.Read(ctx, secret)
		if err == nil && string(got) != "s3" {
			err = fmt.Errorf("read %q", got)
		}
		return err
	})
	if err != nil {
		t.Fatalf("reading the requester's key through the authority in a transaction: %v", err)
	}
	if err := helper.Instantiate(ctx, c.Key, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	must[keyring.Serial](t)(req.CompleteRequest(ctx, c.Key))
}
