//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// clock is a store clock the test moves by hand. The daemon's goroutines
// read it while the test moves it, hence the atomic.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// must returns a check of a call that gives a serial, for use as
// must(t)(c.Add(...)): it fails the test on an error.
func must(t *testing.T) func(keyring.Serial, error) keyring.Serial {
	return func(id keyring.Serial, err error) keyring.Serial {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
}

// wantErrno fails unless err is a daemon error carrying errno and the
// store's message: the errno must have crossed the socket, not been made
// up by the client.
func wantErrno(t *testing.T, what string, err error, errno unix.Errno) {
	t.Helper()
	var derr *daemon.Error
	if !errors.Is(err, errno) || !errors.As(err, &derr) || derr.Message == "" {
		t.Fatalf("%s: %v, want the daemon's %v", what, err, errno)
	}
}

func wantKeys(t *testing.T, c *daemon.Client, ring keyring.Serial, want ...keyring.Serial) {
	t.Helper()
	got, err := c.Keys(context.Background(), ring)
	if err != nil {
		t.Fatalf("Keys(%v): %v", ring, err)
	}
	if got == nil || !slices.Equal(got, want) {
		t.Fatalf("Keys(%v) = %#v, want %v", ring, got, want)
	}
}

func TestKeysAndMove(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	a := must(t)(c.Add(ctx, "user", "a", []byte("1"), keyring.UserKeyring))
	b := must(t)(c.Add(ctx, "user", "b", []byte("2"), keyring.UserKeyring))
	sub := must(t)(c.Add(ctx, "keyring", "sub", nil, keyring.UserKeyring))
	wantKeys(t, c, keyring.UserKeyring, a, b, sub)
	// An empty keyring is an empty list, not nil, as the store says.
	wantKeys(t, c, sub)
	_, err := c.Keys(ctx, a)
	wantErrno(t, "Keys of a user key", err, unix.ENOTDIR)

	if err := c.Move(ctx, a, keyring.UserKeyring, sub, 0); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, c, keyring.UserKeyring, b, sub)
	wantKeys(t, c, sub, a)
	wantErrno(t, "Move of a key no longer in from", c.Move(ctx, a, keyring.UserKeyring, sub, 0), unix.ENOENT)

	// A second "a" in @u may not displace the first from sub when the
	// move is exclusive; without the flag it does.
	a2 := must(t)(c.Add(ctx, "user", "a", []byte("3"), keyring.UserKeyring))
	wantErrno(t, "exclusive Move onto a taken slot", c.Move(ctx, a2, keyring.UserKeyring, sub, keyring.MoveExclusive), unix.EEXIST)
	wantKeys(t, c, sub, a)
	wantErrno(t, "Move with an unknown flag", c.Move(ctx, a2, keyring.UserKeyring, sub, 2), unix.EINVAL)
	// Flags wider than the wire's 32 bits are refused before they could
	// be cut down to MoveExclusive.
	if err := c.Move(ctx, a2, keyring.UserKeyring, sub, 1<<32|keyring.MoveExclusive); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Move with flags over 32 bits: %v, want EINVAL", err)
	}
	if err := c.Move(ctx, a2, keyring.UserKeyring, sub, 0); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, c, sub, a2)
	wantKeys(t, c, keyring.UserKeyring, b, sub)
}

func TestClear(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	sub := must(t)(c.Add(ctx, "keyring", "sub", nil, keyring.UserKeyring))
	k := must(t)(c.Add(ctx, "user", "k", []byte("v"), sub))
	wantKeys(t, c, sub, k)
	if err := c.Clear(ctx, sub); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, c, sub)
	// Nothing held k but sub: it is gone.
	_, err := c.Read(ctx, k)
	wantErrno(t, "Read of a cleared key", err, unix.ENOKEY)
	u := must(t)(c.Add(ctx, "user", "u", []byte("v"), keyring.UserKeyring))
	wantErrno(t, "Clear of a user key", c.Clear(ctx, u), unix.ENOTDIR)
}

// The timeout crosses the wire as the caller gave it, and the store
// rounds it down to whole seconds, as it does embedded.
func TestSetTimeout(t *testing.T) {
	clk := newClock()
	e := newEnvWith(t, keyring.Options{Now: clk.now}, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	k := must(t)(c.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring))
	wantErrno(t, "negative timeout", c.SetTimeout(ctx, k, -time.Second), unix.EINVAL)
	if err := c.SetTimeout(ctx, k, 1999*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	clk.advance(1500 * time.Millisecond)
	_, err := c.Read(ctx, k)
	wantErrno(t, "Read after 1.5s of a 1.999s timeout", err, unix.EKEYEXPIRED)
	wantErrno(t, "SetTimeout of an expired key", c.SetTimeout(ctx, k, time.Hour), unix.EKEYEXPIRED)

	p := must(t)(c.Add(ctx, "user", "p", []byte("v"), keyring.UserKeyring))
	if err := c.SetTimeout(ctx, p, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTimeout(ctx, p, 0); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if got, err := c.Read(ctx, p); err != nil || string(got) != "v" {
		t.Fatalf("Read of a key made permanent again = %q, %v", got, err)
	}
}

func TestSetPermAndChown(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	k := must(t)(c.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring))
	wantErrno(t, "SetPerm with bits outside the mask", c.SetPerm(ctx, k, perms.AllMask+1), unix.EINVAL)
	m := perms.DefaultUserKey | perms.Mask(perms.View|perms.Read)<<perms.GroupShift
	if err := c.SetPerm(ctx, k, m); err != nil {
		t.Fatal(err)
	}
	if err := c.Chown(ctx, k, keyring.Unchanged, childGroup); err != nil {
		t.Fatal(err)
	}
	d, err := c.Describe(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if d.Perm != m || d.GID != childGroup || d.UID != 0 {
		t.Fatalf("Describe after SetPerm and Chown = %+v", d)
	}
	// Root gives the key away, and its new owner is charged for it.
	if err := c.Chown(ctx, k, childUID, keyring.Unchanged); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Describe(ctx, k); d.UID != childUID {
		t.Fatalf("owner after Chown = %d, want %d", d.UID, childUID)
	}
	_, err = c.Describe(ctx, 12345)
	wantErrno(t, "Describe of no key", err, unix.ENOKEY)
	wantErrno(t, "Chown of no key", c.Chown(ctx, 12345, 1, 1), unix.ENOKEY)
	// Chown's and SetPerm's refusals to non-owners and non-root are in
	// TestIdentityFromKernel, whose child runs as another uid.
}

func TestRestrict(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	ring := must(t)(c.Add(ctx, "keyring", "r", nil, keyring.UserKeyring))
	k := must(t)(c.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring))
	tests := []struct {
		name             string
		ring             keyring.Serial
		typ, restriction string
		want             unix.Errno
	}{
		{"a type without a restriction", ring, "user", "", unix.EINVAL},
		{"an unknown type", ring, "nosuch", "x", unix.ENOKEY},
		{"a type with no link restrictions", ring, "user", "x", unix.ENOENT},
		{"not a keyring", k, "", "", unix.ENOTDIR},
	}
	for _, tt := range tests {
		wantErrno(t, tt.name, c.Restrict(ctx, tt.ring, tt.typ, tt.restriction), tt.want)
	}
	if err := c.Restrict(ctx, ring, "", ""); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "Link into a keyring closed to links", c.Link(ctx, k, ring), unix.EPERM)
	wantErrno(t, "Restrict twice", c.Restrict(ctx, ring, "", ""), unix.EEXIST)
}

func TestRequestKey(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	_, err := c.RequestKey(ctx, "user", "wanted", 0)
	wantErrno(t, "RequestKey with nothing to find", err, unix.ENOKEY)
	must(t)(c.JoinSession(ctx, ""))
	want := must(t)(c.Add(ctx, "user", "wanted", []byte("v"), keyring.SessionKeyring))
	// dest is in the session, so possessed, so the connection may write
	// to it whatever its mask says to the owner.
	dest := must(t)(c.Add(ctx, "keyring", "dest", nil, keyring.SessionKeyring))
	got, err := c.RequestKey(ctx, "user", "wanted", dest)
	if err != nil || got != want {
		t.Fatalf("RequestKey = %v, %v; want %v", got, err, want)
	}
	wantKeys(t, c, dest, want)
	// The search is the connection's: another connection, with no
	// session, does not find it.
	_, err = e.dial(t).RequestKey(ctx, "user", "wanted", 0)
	wantErrno(t, "RequestKey from another connection", err, unix.ENOKEY)
	_, err = c.RequestKey(ctx, "nosuch", "wanted", 0)
	wantErrno(t, "RequestKey of an unknown type", err, unix.ENOKEY)
}

func TestGetPersistent(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	p, err := c.GetPersistent(ctx, keyring.OwnUID, keyring.UserKeyring)
	if err != nil || p <= 0 {
		t.Fatalf("GetPersistent = %v, %v", p, err)
	}
	d, err := c.Describe(ctx, p)
	if err != nil || d.Type != "keyring" || d.Description != "_persistent.0" {
		t.Fatalf("Describe of the persistent keyring = %+v, %v", d, err)
	}
	if again := must(t)(c.GetPersistent(ctx, 0, keyring.UserKeyring)); again != p {
		t.Fatalf("GetPersistent(0) = %v, GetPersistent(own) = %v", again, p)
	}
	u := must(t)(c.KeyringID(ctx, keyring.UserKeyring))
	// Another process sees the same keyring in the store.
	if direct := must(t)(e.store.Process(perms.Cred{}).GetPersistent(ctx, keyring.OwnUID, u)); direct != p {
		t.Fatalf("store says %v, daemon %v", direct, p)
	}
	k := must(t)(c.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring))
	_, err = c.GetPersistent(ctx, keyring.OwnUID, k)
	wantErrno(t, "GetPersistent into a user key", err, unix.ENOTDIR)
	// Another uid's persistent keyring needs root; the child in
	// TestIdentityFromKernel is refused it.
}

// A pin outlives the connection that took it: a session joined on one
// connection can be adopted on the next after the first has gone.
func TestPinSession(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	first := e.dial(t)
	_, err := first.PinSession(ctx)
	wantErrno(t, "PinSession without a session", err, unix.ENOKEY)
	ses := must(t)(first.JoinSession(ctx, ""))
	k := must(t)(first.Add(ctx, "user", "in-session", []byte("v"), keyring.SessionKeyring))
	if pinned := must(t)(first.PinSession(ctx)); pinned != ses {
		t.Fatalf("PinSession = %v, session is %v", pinned, ses)
	}
	first.Close()

	second := e.dial(t)
	if err := second.AdoptSession(ctx, ses); err != nil {
		t.Fatalf("AdoptSession after the joiner left: %v", err)
	}
	wantKeys(t, second, keyring.SessionKeyring, k)
	if err := second.UnpinSession(ctx, ses); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "UnpinSession twice", second.UnpinSession(ctx, ses), unix.EINVAL)
	second.Close()

	// Unpinned, the session goes once nobody holds it: when the daemon
	// has torn down second's connection, which it does after second has
	// gone, so give it a moment. Describe looks without holding.
	third := e.dial(t)
	deadline := time.Now().Add(10 * time.Second)
	_, err = third.Describe(ctx, ses)
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		_, err = third.Describe(ctx, ses)
	}
	wantErrno(t, "Describe of the unpinned session", err, unix.ENOKEY)
}
