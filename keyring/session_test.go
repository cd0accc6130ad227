//go:build linux

package keyring_test

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// alicesKeyrings are the keyrings of one user that a session may be
// adopted from, or not, each holding a key of hers.
type alicesKeyrings struct {
	rings map[string]keyring.Serial // by what they are
	keys  map[string]keyring.Serial // a key in each, by the same name
}

// makeAlicesKeyrings gives alice one keyring of each kind, each holding a
// key. live is an alice process that holds its keyrings while the test
// runs: its anonymous session (unpinned), thread and process keyrings.
func makeAlicesKeyrings(t *testing.T, s *keyring.Store) (alicesKeyrings, *keyring.Process) {
	t.Helper()
	a := alicesKeyrings{rings: map[string]keyring.Serial{}, keys: map[string]keyring.Serial{}}
	add := func(p *keyring.Process, name string, ring keyring.Serial) {
		t.Helper()
		a.keys[name] = must[keyring.Serial](t)(p.Add(ctx, "user", name, []byte("alice's "+name), ring))
	}
	p := s.Process(alice)
	defer p.Release(ctx)
	a.rings["@u"] = must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserKeyring))
	a.rings["@us"] = must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserSessionKeyring))
	add(p, "@u", keyring.UserKeyring)
	add(p, "@us", keyring.UserSessionKeyring)
	a.rings["persistent"] = must[keyring.Serial](t)(p.GetPersistent(ctx, keyring.OwnUID, keyring.UserKeyring))
	add(p, "persistent", a.rings["persistent"])
	a.rings["made"] = must[keyring.Serial](t)(p.Add(ctx, "keyring", "made", nil, keyring.UserKeyring))
	add(p, "made", a.rings["made"])
	// Opened to her own Search: the kernel would let her join it by name.
	a.rings["searchable"] = must[keyring.Serial](t)(p.Add(ctx, "keyring", "searchable", nil, keyring.UserKeyring))
	add(p, "searchable", a.rings["searchable"])
	must[struct{}](t)(struct{}{}, p.SetPerm(ctx, a.rings["searchable"], 0x3f0b0000))

	// A named session lives while a process has it (the registry holds
	// nothing): this one's holder lives as long as the test.
	holder := s.Process(alice)
	t.Cleanup(func() { holder.Release(ctx) })
	a.rings["named"] = must[keyring.Serial](t)(holder.JoinSession(ctx, "work"))
	add(holder, "named", keyring.SessionKeyring)
	a.rings["pinned"] = must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	add(p, "pinned", keyring.SessionKeyring)
	must[keyring.Serial](t)(p.PinSession(ctx))

	live := s.Process(alice)
	t.Cleanup(func() { live.Release(ctx) })
	a.rings["live"] = must[keyring.Serial](t)(live.JoinSession(ctx, ""))
	add(live, "live", keyring.SessionKeyring)
	a.rings["@t"] = must[keyring.Serial](t)(live.GetKeyringID(ctx, keyring.ThreadKeyring, true))
	add(live, "@t", keyring.ThreadKeyring)
	a.rings["@p"] = must[keyring.Serial](t)(live.GetKeyringID(ctx, keyring.ProcessKeyring, true))
	add(live, "@p", keyring.ProcessKeyring)
	return a, live
}

// A session is adopted by serial only where the kernel could have given
// the caller that keyring: its own session handed down, or a keyring of
// its own it may Search. Another user, root included, is refused every
// one of alice's keyrings, and reaches none of her keys through them.
func TestAdoptSessionOnlyWhatTheKernelWouldGive(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	a, _ := makeAlicesKeyrings(t, e.store)

	for _, who := range []struct {
		name string
		cred perms.Cred
	}{{"bob", bob}, {"root", root}} {
		for what, ring := range a.rings {
			p := e.store.Process(who.cred)
			wantErrno(t, p.AdoptSession(ctx, ring), unix.EACCES)
			if s := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.SessionKeyring)); s == ring {
				t.Errorf("%s adopted alice's %s although refused", who.name, what)
			}
			if _, err := p.Read(ctx, a.keys[what]); err == nil {
				t.Errorf("%s read the key in alice's %s", who.name, what)
			}
			must[struct{}](t)(struct{}{}, p.Release(ctx))
		}
	}

	// Alice herself, in another process: what the kernel would let her
	// have as a session (inherited, or joined by name) is hers; the rest
	// is not.
	want := map[string]unix.Errno{
		"pinned": 0, "named": 0, "live": 0, "@u": 0, "@us": 0, "searchable": 0,
		"persistent": unix.EACCES, // 0x1f030000: no Search for its owner
		"made":       unix.EACCES, // 0x3f010000: likewise
		"@t":         unix.EACCES, // another process's own
		"@p":         unix.EACCES,
	}
	for what, ring := range a.rings {
		p := e.store.Process(alice)
		err := p.AdoptSession(ctx, ring)
		if want[what] != 0 {
			wantErrno(t, err, want[what])
		} else {
			if err != nil {
				t.Errorf("alice adopting her %s: %v", what, err)
			}
			if got := must[[]byte](t)(p.Read(ctx, a.keys[what])); string(got) != "alice's "+what {
				t.Errorf("alice in her %s read %q", what, got)
			}
		}
		must[struct{}](t)(struct{}{}, p.Release(ctx))
	}

	// The errors of a lookup come first, then the permission: another
	// user learns nothing of what kind of key it is.
	p := e.store.Process(alice)
	defer p.Release(ctx)
	wantErrno(t, p.AdoptSession(ctx, a.keys["@u"]), unix.ENOTDIR)
	wantErrno(t, e.store.Process(bob).AdoptSession(ctx, a.keys["@u"]), unix.EACCES)
	wantErrno(t, p.AdoptSession(ctx, 12345), unix.ENOKEY)
	must[struct{}](t)(struct{}{}, p.Revoke(ctx, a.rings["made"]))
	wantErrno(t, p.AdoptSession(ctx, a.rings["made"]), unix.EKEYREVOKED)
}

// Pins are their owner's: another user can neither pin alice's session
// (the pin would vouch that she handed it down) nor take her pins off
// (which would collect her session), and nobody takes off the hold the
// registry has on a user or named keyring.
func TestPinsAreTheOwners(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	a, _ := makeAlicesKeyrings(t, e.store)

	for _, cred := range []perms.Cred{bob, root} {
		p := e.store.Process(cred)
		for what, ring := range a.rings {
			if err := p.UnpinSession(ctx, ring); err == nil {
				t.Errorf("uid %d unpinned alice's %s", cred.UID, what)
			}
		}
		wantErrno(t, p.UnpinSession(ctx, a.rings["pinned"]), unix.EACCES)
		must[struct{}](t)(struct{}{}, p.Release(ctx))
	}
	p := e.store.Process(alice)
	defer p.Release(ctx)
	must[struct{}](t)(struct{}{}, p.AdoptSession(ctx, a.rings["pinned"]))
	if got := must[[]byte](t)(p.Read(ctx, a.keys["pinned"])); string(got) != "alice's pinned" {
		t.Errorf("alice's pinned session after the others tried: %q", got)
	}

	// Her registry holds are not pins, hers to take off or anyone's.
	for _, what := range []string{"@u", "@us", "persistent", "named"} {
		wantErrno(t, p.UnpinSession(ctx, a.rings[what]), unix.EINVAL)
	}
	must[struct{}](t)(struct{}{}, p.UnpinSession(ctx, a.rings["pinned"]))
	wantErrno(t, p.UnpinSession(ctx, a.rings["pinned"]), unix.EINVAL)

	// Bob may join her named session by name if she lets him Search it,
	// as in the kernel, but not pin it.
	owner := e.store.Process(alice)
	defer owner.Release(ctx)
	open := must[keyring.Serial](t)(owner.JoinSession(ctx, "open"))
	must[struct{}](t)(struct{}{}, owner.SetPerm(ctx, keyring.SessionKeyring, 0x3f130008))
	b := e.store.Process(bob)
	defer b.Release(ctx)
	if joined := must[keyring.Serial](t)(b.JoinSession(ctx, "open")); joined != open {
		t.Fatalf("bob joined %d by name, alice's searchable session is %d", joined, open)
	}
	_, err := b.PinSession(ctx)
	wantErrno(t, err, unix.EACCES)
	wantErrno(t, b.UnpinSession(ctx, open), unix.EACCES)
}

// Joining a name that another user's session holds gives the joiner a
// keyring of its own and leaves the name to that user's session, whose
// own processes find it by that name.
func TestJoinSessionLeavesAnotherUsersName(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	work := must[keyring.Serial](t)(p.JoinSession(ctx, "work"))
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("alice's"), keyring.SessionKeyring))
	must[keyring.Serial](t)(p.PinSession(ctx))
	must[struct{}](t)(struct{}{}, p.Release(ctx)) // her pin alone holds it now

	b := e.store.Process(bob)
	bobs := must[keyring.Serial](t)(b.JoinSession(ctx, "work"))
	if bobs == work {
		t.Fatal("bob joined alice's session, which she did not open to him")
	}
	if d := must[keyring.Description](t)(b.Describe(ctx, keyring.SessionKeyring)); d.UID != bob.UID || d.Description != "work" {
		t.Errorf("bob's session: %s", d)
	}
	must[struct{}](t)(struct{}{}, b.Release(ctx))
	// Bob's is not registered: it went with him.
	_, err := e.store.Process(bob).Describe(ctx, bobs)
	wantErrno(t, err, unix.ENOKEY)

	p = e.store.Process(alice)
	defer p.Release(ctx)
	must[struct{}](t)(struct{}{}, p.AdoptSession(ctx, work))
	if got := must[[]byte](t)(p.Read(ctx, k)); string(got) != "alice's" {
		t.Errorf("alice's named session after bob's join: %q", got)
	}
	e.reopen()
	p = e.store.Process(alice)
	defer p.Release(ctx)
	must[struct{}](t)(struct{}{}, p.AdoptSession(ctx, work))

	// Her own joins still pass the name on, as before: her named
	// sessions do not grant her Search, so each join makes a new one, and
	// the one it displaced goes once nothing holds it (her pin taken off).
	again := must[keyring.Serial](t)(p.JoinSession(ctx, "work"))
	if again == work {
		t.Errorf("alice's join of %q found the session she cannot Search", "work")
	}
	must[struct{}](t)(struct{}{}, p.UnpinSession(ctx, work))
	wantErrno(t, e.store.Process(alice).AdoptSession(ctx, work), unix.ENOKEY)
}

// A process that leaves a session leaves the possession of its keys: the
// answers a process caches are reckoned from its keyrings of the moment.
func TestLeavingASessionLeavesItsKeys(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	defer p.Release(ctx)
	other := must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	must[keyring.Serial](t)(p.PinSession(ctx))
	first := must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	must[keyring.Serial](t)(p.PinSession(ctx))
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("x"), keyring.SessionKeyring))
	// Read twice: the second answer comes from the caches.
	must[[]byte](t)(p.Read(ctx, k))
	must[[]byte](t)(p.Read(ctx, k))
	if found := must[keyring.Serial](t)(p.RequestKey(ctx, "user", "k", 0)); found != k {
		t.Fatalf("request_key found %d, want %d", found, k)
	}
	must[keyring.Serial](t)(p.RequestKey(ctx, "user", "k", 0))

	must[struct{}](t)(struct{}{}, p.AdoptSession(ctx, other))
	_, err := p.Read(ctx, k)
	wantErrno(t, err, unix.EACCES)
	_, err = p.RequestKey(ctx, "user", "k", 0)
	wantErrno(t, err, unix.ENOKEY)
	// And back: possessed again.
	must[struct{}](t)(struct{}{}, p.AdoptSession(ctx, first))
	must[[]byte](t)(p.Read(ctx, k))
	for _, s := range []keyring.Serial{first, other} {
		must[struct{}](t)(struct{}{}, p.UnpinSession(ctx, s))
	}
}

// Named sessions cost their owner quota only while something holds them,
// as in the kernel: 250 in a row, each joined, pinned while its program
// runs and let go (what `keyctl-go session NAME prog` does), leave alice
// her whole quota, and none of them behind.
func TestNamedSessionsAreFreedWhenLetGo(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	var sessions []keyring.Serial
	for i := range 250 {
		p := e.store.Process(alice)
		must[keyring.Serial](t)(p.JoinSession(ctx, fmt.Sprintf("name%d", i)))
		pinned := must[keyring.Serial](t)(p.PinSession(ctx))
		must[struct{}](t)(struct{}{}, p.Release(ctx))
		child := e.store.Process(alice)
		must[struct{}](t)(struct{}{}, child.AdoptSession(ctx, pinned))
		must[keyring.Serial](t)(child.Add(ctx, "user", "k", []byte("v"), keyring.SessionKeyring))
		must[struct{}](t)(struct{}{}, child.Release(ctx))
		must[struct{}](t)(struct{}{}, e.store.Process(alice).UnpinSession(ctx, pinned))
		sessions = append(sessions, pinned)
	}
	p := e.store.Process(alice)
	defer p.Release(ctx)
	for _, s := range sessions {
		if _, err := p.Describe(ctx, s); !errors.Is(err, unix.ENOKEY) {
			t.Fatalf("named session %d, let go, still there: %v", s, err)
		}
	}
	// All her quota is hers again: as many keys as she ever could.
	for i := range keyring.DefaultQuota.MaxKeys - 3 {
		if _, err := p.Add(ctx, "user", fmt.Sprintf("after%d", i), []byte("v"), keyring.UserKeyring); err != nil {
			t.Fatalf("key %d after 250 sessions: %v", i, err)
		}
	}
}
