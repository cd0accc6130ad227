//go:build linux

package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// requester is a process with a session of its own, as keyctl's requester
// usually is, and the helper that will build what it asks for: another
// process of the same user, with no session, as a helper starts.
func requester(t *testing.T, e *env, cred perms.Cred) (req, helper *keyring.Process, session keyring.Serial) {
	t.Helper()
	req = e.store.Process(cred)
	session = must[keyring.Serial](t)(req.JoinSession(ctx, ""))
	helper = e.store.Process(cred)
	t.Cleanup(func() { req.Release(ctx); helper.Release(ctx) })
	return req, helper, session
}

func construct(t *testing.T, p *keyring.Process, desc, callout string, dest keyring.Serial) *keyring.Construction {
	t.Helper()
	id, c, err := p.RequestKeyWithCallout(ctx, "user", desc, []byte(callout), dest)
	if err != nil || c == nil {
		t.Fatalf("RequestKeyWithCallout(%q) = %v, %v, %v; want a construction", desc, id, c, err)
	}
	return c
}

func TestConstructionInstantiatedByItsHelper(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, session := requester(t, e, alice)
	q := watch(t, req, session, 1)

	c := construct(t, req, "debug:lizard", "gizzard", 0)
	if c.Op != "create" || c.Type != "user" || c.Description != "debug:lizard" || string(c.Callout) != "gizzard" ||
		c.UID != alice.UID || c.GID != alice.GID || c.Session != session || c.Thread != 0 || c.Process != 0 {
		t.Fatalf("construction %+v", c)
	}
	if strings.Contains(fmt.Sprint(c), string(c.Token)) || strings.Contains(fmt.Sprintf("%#v", c), string(c.Token)) {
		t.Fatal("the token prints")
	}
	// Linked into the requester's session at once, and describable, but a
	// read waits for the construction.
	if keys := must[[]keyring.Serial](t)(req.Keys(ctx, session)); len(keys) != 1 || keys[0] != c.Key {
		t.Fatalf("session holds %v, want [%v]", keys, c.Key)
	}
	if d := must[keyring.Description](t)(req.Describe(ctx, c.Key)); d.Perm != 0x3f010000 {
		t.Fatalf("perm %08x, want 3f010000 (the kernel's for a user key under construction)", uint32(d.Perm))
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := req.Read(short, c.Key)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read of a key under construction = %v; want it to wait", err)
	}
	read := make(chan error, 1)
	go func() {
		got, err := req.Read(ctx, c.Key)
		if err == nil && string(got) != "Debug gizzard" {
			err = fmt.Errorf("read %q", got)
		}
		read <- err
	}()

	// The helper takes the authority, reads the callout information
	// through @a, and instantiates the key into the requester's session.
	auth := must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	if auth != c.Authority {
		t.Fatalf("AssumeAuthority = %v, want %v", auth, c.Authority)
	}
	if got := must[[]byte](t)(helper.Read(ctx, keyring.ReqKeyAuthKey)); string(got) != "gizzard" {
		t.Fatalf("@a reads %q", got)
	}
	d := must[keyring.Description](t)(helper.Describe(ctx, keyring.ReqKeyAuthKey))
	if want := fmt.Sprintf(".request_key_auth;1000;1000;1b010000;%x", int32(c.Key)); d.String() != want {
		t.Fatalf("@a is %s, want %s", d, want)
	}
	if s := must[keyring.Serial](t)(helper.KeyringID(ctx, keyring.SessionKeyring)); s == session {
		t.Fatal("the helper's session is the requester's")
	} else if d := must[keyring.Description](t)(helper.Describe(ctx, s)); d.Description != fmt.Sprintf("_req.%d", c.Key) {
		t.Fatalf("the helper's session is %s", d)
	}
	if err := helper.Instantiate(ctx, c.Key, []byte("Debug gizzard"), c.Session); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("the waiting read: %v", err)
	}
	if got := must[keyring.Serial](t)(req.CompleteRequest(ctx, c.Key)); got != c.Key {
		t.Fatalf("CompleteRequest = %v", got)
	}
	// The authority is spent, for good.
	wantErrno(t, helper.Instantiate(ctx, c.Key, []byte("again"), 0), unix.EPERM)
	_, err = helper.AssumeAuthority(ctx, c.Key, c.Token)
	wantErrno(t, err, unix.ENOKEY)
	// Asked again, the key is there: no construction.
	id, again, err := req.RequestKeyWithCallout(ctx, "user", "debug:lizard", []byte("gizzard"), 0)
	if err != nil || again != nil || id != c.Key {
		t.Fatalf("second request = %v, %v, %v", id, again, err)
	}
	if got := strings.Join(records(t, q), ", "); got != fmt.Sprintf("%v link %v, %v link %v", session, c.Key, session, c.Key) {
		t.Fatalf("session heard %s", got)
	}
}

func TestFailedConstructionIsCachedNegative(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, _, _ := requester(t, e, alice)
	c := construct(t, req, "debug:gone", "x", 0)
	// The helper did nothing: the key is negated, ENOKEY.
	_, err := req.CompleteRequest(ctx, c.Key)
	wantErrno(t, err, unix.ENOKEY)
	// Within the negative timeout, a request fails at once, with no
	// construction to build.
	id, again, err := req.RequestKeyWithCallout(ctx, "user", "debug:gone", []byte("x"), 0)
	if again != nil || !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("request within the negative timeout = %v, %v, %v; want ENOKEY and no construction", id, again, err)
	}
	e.clock.Advance(keyring.DefaultNegativeTimeout - time.Second)
	_, err = req.RequestKey(ctx, "user", "debug:gone", 0)
	wantErrno(t, err, unix.ENOKEY)
	// Past it, the expired negative key is passed over: a new construction.
	e.clock.Advance(time.Second)
	c2 := construct(t, req, "debug:gone", "x", 0)
	if c2.Key == c.Key {
		t.Fatal("the negative key was constructed again")
	}
}

func TestRejectedConstruction(t *testing.T) {
	for _, tc := range []struct {
		errno unix.Errno
	}{{unix.EKEYREJECTED}, {unix.EKEYREVOKED}, {unix.EKEYEXPIRED}, {unix.ENOKEY}} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			e := newEnv(t, keyring.Options{})
			req, helper, session := requester(t, e, alice)
			c := construct(t, req, "debug:rej", "rejected", 0)
			must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
			if err := helper.Reject(ctx, c.Key, 30*time.Second, tc.errno, c.Session); err != nil {
				t.Fatal(err)
			}
			_, err := req.CompleteRequest(ctx, c.Key)
			wantErrno(t, err, tc.errno)
			// As the kernel answered here: a second request meets the
			// negative key's error, without calling out.
			_, again, err := req.RequestKeyWithCallout(ctx, "user", "debug:rej", []byte("rejected"), 0)
			if again != nil || !errors.Is(err, tc.errno) {
				t.Fatalf("second request = %v, %v; want %v", again, err, tc.errno)
			}
			if keys := must[[]keyring.Serial](t)(req.Keys(ctx, session)); len(keys) != 1 || keys[0] != c.Key {
				t.Fatalf("session holds %v, want the negative key alone", keys)
			}
			e.clock.Advance(30 * time.Second)
			construct(t, req, "debug:rej", "rejected", 0)
		})
	}
}

func TestConstructionArguments(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, _ := requester(t, e, alice)
	for _, tc := range []struct {
		name      string
		typ, desc string
		callout   []byte
		dest      keyring.Serial
		want      unix.Errno
	}{
		{"empty type", "", "d", []byte("x"), 0, unix.EINVAL},
		{"internal type", ".user", "d", []byte("x"), 0, unix.EPERM},
		{"unknown type", "lizardsgizzards", "d", []byte("x"), 0, unix.ENOKEY},
		{"overlong callout", "user", "d", bytes.Repeat([]byte("a"), keyring.MaxCalloutInfo+1), 0, unix.EINVAL},
		{"keyring", "keyring", "d", []byte("x"), 0, unix.EPERM},
		{"empty description", "user", "", []byte("x"), 0, unix.EINVAL},
		{"authority keys are not requested", ".request_key_auth", "d", []byte("x"), 0, unix.EPERM},
		{"bad destination", "user", "d", []byte("x"), 12345, unix.ENOKEY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c, err := req.RequestKeyWithCallout(ctx, tc.typ, tc.desc, tc.callout, tc.dest)
			if c != nil {
				t.Fatal("constructed")
			}
			wantErrno(t, err, tc.want)
		})
	}
	// The longest callout information is taken.
	c := construct(t, req, "long", strings.Repeat("a", keyring.MaxCalloutInfo), 0)
	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	if got := must[[]byte](t)(helper.Read(ctx, keyring.ReqKeyAuthKey)); len(got) != keyring.MaxCalloutInfo {
		t.Fatalf("%d bytes of callout information", len(got))
	}
}

func TestRejectArguments(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, _ := requester(t, e, alice)
	c := construct(t, req, "debug:x", "x", 0)
	// Without the authority, or for another key: EPERM.
	wantErrno(t, helper.Instantiate(ctx, c.Key, []byte("v"), 0), unix.EPERM)
	wantErrno(t, helper.Negate(ctx, c.Key, time.Second, 0), unix.EPERM)
	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	wantErrno(t, helper.Instantiate(ctx, c.Key+1, []byte("v"), 0), unix.EPERM)
	for _, errno := range []unix.Errno{0, 512, 513, 514, 516, 4095} {
		wantErrno(t, helper.Reject(ctx, c.Key, time.Second, errno, 0), unix.EINVAL)
	}
	wantErrno(t, helper.Instantiate(ctx, c.Key, nil, 0), unix.EINVAL) // a user key's payload is 1..32767 bytes
	wantErrno(t, helper.Instantiate(ctx, c.Key, []byte("v"), keyring.ReqKeyAuthKey), unix.EINVAL)
	wantErrno(t, helper.Instantiate(ctx, c.Key, []byte("v"), -9), unix.ENOKEY)
	_, err := helper.AssumeAuthority(ctx, -1, c.Token)
	wantErrno(t, err, unix.EINVAL)
	// Nothing of that changed the key: the authority still works, and a
	// special id names the requester's destination.
	if err := helper.Instantiate(ctx, c.Key, []byte("v"), keyring.SessionKeyring); err != nil {
		t.Fatal(err)
	}
	must[keyring.Serial](t)(req.CompleteRequest(ctx, c.Key))
}

func TestAuthorityLendsTheRequestersKeyrings(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, session := requester(t, e, alice)
	secret := must[keyring.Serial](t)(req.Add(ctx, "user", "secret", []byte("s3"), session))
	if err := req.SetPerm(ctx, secret, perms.NewMask(perms.All, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	_, err := helper.Read(ctx, secret)
	wantErrno(t, err, unix.EACCES)
	c := construct(t, req, "debug:x", "x", 0)
	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	if got := must[[]byte](t)(helper.Read(ctx, secret)); string(got) != "s3" {
		t.Fatalf("read %q through the authority", got)
	}
	// request_key under the authority searches the requester's keyrings
	// (request-key's %{user:secret} macro relies on it).
	if got := must[keyring.Serial](t)(helper.RequestKey(ctx, "user", "secret", 0)); got != secret {
		t.Fatalf("RequestKey = %v", got)
	}
	if err := helper.Negate(ctx, c.Key, time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	_, err = helper.Read(ctx, secret)
	wantErrno(t, err, unix.EACCES)
	_, err = helper.RequestKey(ctx, "user", "secret", 0)
	wantErrno(t, err, unix.ENOKEY)
	_, err = req.CompleteRequest(ctx, c.Key)
	wantErrno(t, err, unix.ENOKEY)
}

func TestAuthorityRefusesOthers(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, _, _ := requester(t, e, alice)
	c := construct(t, req, "debug:x", "x", 0)
	sameUser := e.store.Process(alice)
	defer sameUser.Release(ctx)
	mallory := e.store.Process(bob)
	defer mallory.Release(ctx)
	for _, tc := range []struct {
		name  string
		p     *keyring.Process
		token keyring.AuthorityToken
	}{
		{"another uid with the token", mallory, c.Token},
		{"another uid without it", mallory, ""},
		{"the same uid with a wrong token", sameUser, keyring.AuthorityToken(strings.Repeat("0", 64))},
		{"the same uid with no token", sameUser, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.AssumeAuthority(ctx, c.Key, tc.token)
			wantErrno(t, err, unix.ENOKEY)
			wantErrno(t, tc.p.Instantiate(ctx, c.Key, []byte("forged"), 0), unix.EPERM)
			_, err = tc.p.Read(ctx, keyring.ReqKeyAuthKey)
			wantErrno(t, err, unix.ENOKEY)
		})
	}
	// The requester's own process cannot instantiate without assuming it.
	wantErrno(t, req.Instantiate(ctx, c.Key, []byte("v"), 0), unix.EPERM)
	_, err := req.CompleteRequest(ctx, c.Key)
	wantErrno(t, err, unix.ENOKEY)
}

func TestConcurrentRequestWaitsForTheConstruction(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, session := requester(t, e, alice)
	other := e.store.Process(alice)
	defer other.Release(ctx)
	if err := other.AdoptSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	c := construct(t, req, "debug:x", "x", 0)
	got := make(chan error, 1)
	go func() {
		id, again, err := other.RequestKeyWithCallout(ctx, "user", "debug:x", []byte("x"), 0)
		if err == nil && (again != nil || id != c.Key) {
			err = fmt.Errorf("got %v, %v", id, again)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the second request did not wait: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	if err := helper.Instantiate(ctx, c.Key, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestConstructionEndsWithItsBuilder(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, helper, session := requester(t, e, alice)
	must[keyring.Serial](t)(req.PinSession(ctx))
	c := construct(t, req, "debug:x", "x", 0)
	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	if err := req.Release(ctx); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, helper.Instantiate(ctx, c.Key, []byte("late"), 0), unix.EBUSY)
	p := e.store.Process(alice)
	defer p.Release(ctx)
	if err := p.AdoptSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	_, err := p.RequestKey(ctx, "user", "debug:x", 0)
	wantErrno(t, err, unix.ENOKEY)
}

func TestConstructionHasADeadline(t *testing.T) {
	e := newEnv(t, keyring.Options{ConstructionTimeout: 20 * time.Millisecond})
	req, _, _ := requester(t, e, alice)
	c := construct(t, req, "debug:x", "x", 0)
	// Nobody builds the key: a request waits for it until the store's
	// deadline negates it.
	start := time.Now()
	_, err := req.RequestKey(ctx, "user", "debug:x", 0)
	wantErrno(t, err, unix.ENOKEY)
	if waited := time.Since(start); waited < 10*time.Millisecond {
		t.Fatalf("answered after %v, before the deadline", waited)
	}
	if _, err := req.Describe(ctx, c.Key); err != nil {
		t.Fatal(err)
	}
	_, err = req.CompleteRequest(ctx, c.Key)
	wantErrno(t, err, unix.ENOKEY)
}

func TestConstructionCrashLeftover(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	req, _, session := requester(t, e, alice)
	must[keyring.Serial](t)(req.PinSession(ctx))
	c := construct(t, req, "debug:x", "x", 0)
	// The store closes with the construction under way: it is negated.
	e.reopen()
	p := e.store.Process(alice)
	defer p.Release(ctx)
	if err := p.AdoptSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	_, err := p.RequestKey(ctx, "user", "debug:x", 0)
	wantErrno(t, err, unix.ENOKEY)
	_, err = p.Read(ctx, c.Key)
	wantErrno(t, err, unix.ENOKEY)
}

// TestConstructionNotInQuota: a key an uncharged process (the store's own
// services) asks for is made uncharged, as add_key makes its keys, and
// stays so when its helper instantiates it: its owner's quota is
// untouched, and the store's charges add up (Check, at cleanup).
func TestConstructionNotInQuota(t *testing.T) {
	e := newEnv(t, keyring.Options{Quota: keyring.Quota{MaxKeys: 200, MaxBytes: 2000, RootMaxKeys: 200, RootMaxBytes: 2000}})
	service := e.store.ProcessNotInQuota(alice)
	must[keyring.Serial](t)(service.JoinSession(ctx, ""))
	helper, user := e.store.Process(alice), e.store.Process(alice)
	t.Cleanup(func() { service.Release(ctx); helper.Release(ctx) })
	big := bytes.Repeat([]byte("t"), 1500)

	c := construct(t, service, "debug:"+strings.Repeat("d", 400), "x", 0)
	must[keyring.Serial](t)(helper.AssumeAuthority(ctx, c.Key, c.Token))
	if err := helper.Instantiate(ctx, c.Key, big, 0); err != nil {
		t.Fatal(err)
	}
	must[keyring.Serial](t)(service.CompleteRequest(ctx, c.Key))
	if _, err := user.Add(ctx, "user", "mine", big, keyring.UserKeyring); err != nil {
		t.Fatalf("alice's quota was charged for the uncharged construction: %v", err)
	}
}
