//go:build linux

package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/etcdtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

func TestMain(m *testing.M) {
	code := m.Run()
	etcdtest.Stop() // the shared cluster of the etcd tests, if they started it
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	ctx   = context.Background()
	alice = perms.Cred{UID: 1000, GID: 1000}
	bob   = perms.Cred{UID: 1001, GID: 1001}
	root  = perms.Cred{UID: 0, GID: 0}
)

// clock is a settable clock for expiry tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	path  string
	store *keyring.Store
	clock *clock
	opts  keyring.Options
}

func newEnv(t *testing.T, opts keyring.Options) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "keys.db"), clock: &clock{now: time.Unix(1_800_000_000, 0)}}
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	e.opts = opts
	e.open()
	t.Cleanup(func() {
		if err := e.store.Check(); err != nil {
			t.Errorf("store inconsistent after the test: %v", err)
		}
		e.store.Close()
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	s, err := keyring.Open(e.path, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = s
}

func (e *env) reopen() {
	e.t.Helper()
	if err := e.store.Check(); err != nil {
		e.t.Fatalf("inconsistent before reopening: %v", err)
	}
	e.store.Close()
	e.open()
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErrno(t *testing.T, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v (%q)", err, want, want.Error())
	}
}

func watch(t *testing.T, p *keyring.Process, id keyring.Serial, tag int) *watchqueue.Queue {
	t.Helper()
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(256); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := p.Watch(ctx, id, q, tag); err != nil {
		t.Fatal(err)
	}
	return q
}

// records drains q into keyctl-watch style lines.
func records(t *testing.T, q *watchqueue.Queue) []string {
	t.Helper()
	var lines []string
	buf := make([]byte, watchqueue.ReadBufferSize)
	for {
		n, err := q.TryRead(buf)
		if errors.Is(err, unix.EAGAIN) {
			return lines
		}
		if err != nil {
			t.Fatal(err)
		}
		for b := buf[:n]; len(b) > 0; {
			rec, size, err := watchqueue.Decode(b, false)
			if err != nil {
				t.Fatal(err)
			}
			b = b[size:]
			switch r := rec.(type) {
			case watchqueue.KeyNotification:
				line := keyring.Serial(r.KeyID).String() + " " + r.Subtype.String()
				if r.Subtype == watchqueue.KeyLinked || r.Subtype == watchqueue.KeyUnlinked {
					line += " " + keyring.Serial(r.Aux).String()
				}
				lines = append(lines, line)
			case watchqueue.Removal:
				lines = append(lines, keyring.Serial(r.ID).String()+" gc")
			case watchqueue.Loss:
				lines = append(lines, "LOSS")
			}
		}
	}
}

func s(id keyring.Serial) string { return id.String() }

func TestAddReadDescribeAndPersistence(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	id := must[keyring.Serial](t)(p.Add(ctx, "user", "mykey", []byte("hello world"), keyring.UserKeyring))
	if id < 3 {
		t.Fatalf("serial %d", id)
	}
	if got := must[[]byte](t)(p.Read(ctx, id)); string(got) != "hello world" {
		t.Errorf("read %q", got)
	}
	d := must[keyring.Description](t)(p.Describe(ctx, id))
	if d.String() != "user;1000;1000;3f010000;mykey" {
		t.Errorf("describe %q", d)
	}
	ring := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserKeyring))
	if d := must[keyring.Description](t)(p.Describe(ctx, keyring.UserKeyring)); d.String() != "keyring;1000;65534;1f3f0000;_uid.1000" {
		t.Errorf("user keyring describes as %q", d)
	}

	e.reopen()
	p = e.store.Process(alice)
	if got := must[[]byte](t)(p.Read(ctx, id)); string(got) != "hello world" {
		t.Errorf("after reopen, read %q", got)
	}
	if again := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserKeyring)); again != ring {
		t.Errorf("user keyring %d became %d after reopen", ring, again)
	}
	if keys := must[[]keyring.Serial](t)(p.Keys(ctx, keyring.UserKeyring)); len(keys) != 1 || keys[0] != id {
		t.Errorf("user keyring holds %v", keys)
	}
}

func TestAddUpdatesMatchingKeyAndPostsExactly(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	ring := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserKeyring))
	rq := watch(t, p, ring, 1)

	id := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("v1"), ring))
	kq := watch(t, p, id, 2)
	again := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("v2"), ring))
	if again != id {
		t.Errorf("add of the same description made %d, want an update of %d", again, id)
	}
	if got := must[[]byte](t)(p.Read(ctx, id)); string(got) != "v2" {
		t.Errorf("read %q after the update", got)
	}
	// Reference §2.2: create posts LINKED on the keyring; the update posts
	// UPDATED on the key alone.
	if got, want := records(t, rq), []string{s(ring) + " link " + s(id)}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("keyring watcher got %v, want %v", got, want)
	}
	if got, want := records(t, kq), []string{s(id) + " upd"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("key watcher got %v, want %v", got, want)
	}

	// A second keyring of the same name displaces the first: LINKED, no UNLINKED.
	r1 := must[keyring.Serial](t)(p.Add(ctx, "keyring", "sub", nil, ring))
	r1q := watch(t, p, r1, 3)
	r2 := must[keyring.Serial](t)(p.Add(ctx, "keyring", "sub", nil, ring))
	if r1 == r2 {
		t.Fatal("a keyring was updated; keyrings are not updatable")
	}
	if got := records(t, rq); strings.Join(got, ",") != s(ring)+" link "+s(r1)+","+s(ring)+" link "+s(r2) {
		t.Errorf("keyring watcher got %v", got)
	}
	// The displaced keyring, held by nothing, is destroyed: its watcher hears.
	if got := records(t, r1q); strings.Join(got, ",") != s(r1)+" gc" {
		t.Errorf("displaced keyring's watcher got %v, want its removal", got)
	}
	if keys := must[[]keyring.Serial](t)(p.Keys(ctx, ring)); len(keys) != 2 || keys[0] != id || keys[1] != r2 {
		t.Errorf("keyring holds %v, want [%d %d] (the replacement keeps the old position)", keys, id, r2)
	}
}

func TestAddErrors(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	user := must[keyring.Serial](t)(p.Add(ctx, "user", "plain", []byte("x"), keyring.UserKeyring))
	for _, tc := range []struct {
		name      string
		typ, desc string
		payload   []byte
		ring      keyring.Serial
		want      unix.Errno
	}{
		{"empty type", "", "d", []byte("x"), keyring.UserKeyring, unix.EINVAL},
		{"type of 32 bytes", strings.Repeat("t", 32), "d", []byte("x"), keyring.UserKeyring, unix.EINVAL},
		{"internal type", ".user", "d", []byte("x"), keyring.UserKeyring, unix.EPERM},
		{"unknown type", "nosuchtype", "d", []byte("x"), keyring.UserKeyring, unix.ENODEV},
		{"description 4096", "user", strings.Repeat("d", 4096), []byte("x"), keyring.UserKeyring, unix.EINVAL},
		{"empty description", "user", "", []byte("x"), keyring.UserKeyring, unix.EINVAL},
		{"dot keyring", "keyring", ".secret", nil, keyring.UserKeyring, unix.EPERM},
		{"empty user payload", "user", "d", nil, keyring.UserKeyring, unix.EINVAL},
		{"user payload 32768", "user", "d", make([]byte, 32768), keyring.UserKeyring, unix.EINVAL},
		{"keyring with payload", "keyring", "r", []byte("x"), keyring.UserKeyring, unix.EINVAL},
		{"payload over 1 MiB", "big_key", "b", make([]byte, 1<<20), keyring.UserKeyring, unix.EINVAL},
		{"logon without prefix", "logon", "noprefix", []byte("x"), keyring.UserKeyring, unix.EINVAL},
		{"logon with colon first", "logon", ":x", []byte("x"), keyring.UserKeyring, unix.EINVAL},
		{"into a non-keyring", "user", "d", []byte("x"), user, unix.ENOTDIR},
		{"into a missing keyring", "user", "d", []byte("x"), 12345, unix.ENOKEY},
		{"into @g", "user", "d", []byte("x"), keyring.GroupKeyring, unix.EINVAL},
		{"into id 0", "user", "d", []byte("x"), 0, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Add(ctx, tc.typ, tc.desc, tc.payload, tc.ring)
			wantErrno(t, err, tc.want)
		})
	}
	if _, err := p.Add(ctx, "user", strings.Repeat("d", 4095), []byte("x"), keyring.UserKeyring); err != nil {
		t.Errorf("a 4095-byte description was refused: %v", err)
	}
	if _, err := p.Add(ctx, "logon", "a:", []byte("x"), keyring.UserKeyring); err != nil {
		t.Errorf("logon description \"a:\" was refused: %v", err)
	}
	// Nothing the failures did is left behind.
	if keys := must[[]keyring.Serial](t)(p.Keys(ctx, keyring.UserKeyring)); len(keys) != 3 {
		t.Errorf("user keyring holds %d keys after failed adds, want 3", len(keys))
	}
}

func TestLogonIsNeverReadable(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	id := must[keyring.Serial](t)(p.Add(ctx, "logon", "svc:pw", []byte("secret"), keyring.UserKeyring))
	_, err := p.Read(ctx, id)
	wantErrno(t, err, unix.EOPNOTSUPP)
	if d := must[keyring.Description](t)(p.Describe(ctx, id)); d.Perm != 0x3d010000 {
		t.Errorf("logon mask %v, want 0x3d010000", d.Perm)
	}
}

func TestPermissionsAndPossession(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	a, b := e.store.Process(alice), e.store.Process(bob)
	id := must[keyring.Serial](t)(a.Add(ctx, "user", "k", []byte("x"), keyring.UserKeyring))
	// Bob neither owns nor possesses it; other has nothing.
	_, err := b.Describe(ctx, id)
	wantErrno(t, err, unix.EACCES)
	_, err = b.Read(ctx, id)
	wantErrno(t, err, unix.EACCES)

	// Possessed without Read for the owner: still readable (reference §3.7).
	must[struct{}](t)(struct{}{}, a.SetPerm(ctx, id, 0x3d000000))
	if got := must[[]byte](t)(a.Read(ctx, id)); string(got) != "x" {
		t.Errorf("possessed key without Read: %q", got)
	}
	// Give other View: bob can describe but not read.
	must[struct{}](t)(struct{}{}, a.SetPerm(ctx, id, 0x3f010001))
	if _, err := b.Describe(ctx, id); err != nil {
		t.Errorf("other View does not let bob describe: %v", err)
	}
	_, err = b.Read(ctx, id)
	wantErrno(t, err, unix.EACCES)
	// Bob may not change alice's mask, or take the key.
	wantErrno(t, b.SetPerm(ctx, id, 0x3f3f3f3f), unix.EACCES)
	wantErrno(t, a.Chown(ctx, id, bob.UID, keyring.Unchanged), unix.EACCES)
	// Root is not special in the permission check: without Setattr it may
	// not touch the key. Granted Setattr, it may give the key away, and the
	// charge moves with the key.
	r := e.store.Process(root)
	wantErrno(t, r.Chown(ctx, id, bob.UID, keyring.Unchanged), unix.EACCES)
	must[struct{}](t)(struct{}{}, a.SetPerm(ctx, id, 0x3f010021))
	if err := r.Chown(ctx, id, bob.UID, keyring.Unchanged); err != nil {
		t.Fatalf("root chown: %v", err)
	}
	if d := must[keyring.Description](t)(b.Describe(ctx, id)); d.UID != bob.UID {
		t.Errorf("after chown, owner %d", d.UID)
	}
	wantErrno(t, r.SetPerm(ctx, id, 0x40000000), unix.EINVAL)
}

func TestSearchDepthAndErrors(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	// A chain of keyrings below the session keyring, 8 deep, built top-down
	// (allowed: each is within possession's reach of the one above).
	ring := must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	defer p.Release(ctx)
	chain := []keyring.Serial{ring}
	for i := range 7 {
		next := must[keyring.Serial](t)(p.Add(ctx, "keyring", "level"+string(rune('1'+i)), nil, chain[len(chain)-1]))
		chain = append(chain, next)
	}
	for depth, r := range chain {
		must[keyring.Serial](t)(p.Add(ctx, "user", "target", []byte{byte(depth)}, r))
	}
	// Reference §3.6: a keyring 8 links below @s is not possessed, so
	// adding into it is EACCES; level 7 is the deepest that works.
	level8 := must[keyring.Serial](t)(p.Add(ctx, "keyring", "level8", nil, chain[7]))
	_, err := p.Add(ctx, "user", "x", []byte("x"), level8)
	wantErrno(t, err, unix.EACCES)
	// From @u, the key in @u is found first; from level 2, the one there.
	found := must[keyring.Serial](t)(p.Search(ctx, chain[2], "user", "target", 0))
	if got := must[[]byte](t)(p.Read(ctx, found)); got[0] != 2 {
		t.Errorf("search from level 2 found the key of level %d", got[0])
	}
	// Keys 7 links below the start are found; 8 are not.
	deep := must[keyring.Serial](t)(p.Add(ctx, "user", "deep", []byte("7"), chain[6]))
	if got, err := p.Search(ctx, chain[0], "user", "deep", 0); err != nil || got != deep {
		t.Errorf("a key 7 links below the start: %v, %v", got, err)
	}
	must[keyring.Serial](t)(p.Add(ctx, "user", "deeper", []byte("8"), chain[7]))
	_, err = p.Search(ctx, chain[0], "user", "deeper", 0)
	wantErrno(t, err, unix.ENOKEY)
	if got, err := p.Search(ctx, chain[1], "user", "deeper", 0); err != nil || got == 0 {
		t.Errorf("the same key, 7 links below a nearer start: %v, %v", got, err)
	}

	// A revoked match is remembered: EKEYREVOKED, not ENOKEY.
	rv := must[keyring.Serial](t)(p.Add(ctx, "user", "revoked", []byte("x"), chain[1]))
	must[struct{}](t)(struct{}{}, p.Revoke(ctx, rv))
	_, err = p.Search(ctx, chain[0], "user", "revoked", 0)
	wantErrno(t, err, unix.EKEYREVOKED)
	_, err = p.Search(ctx, chain[0], "nosuchtype", "x", 0)
	wantErrno(t, err, unix.ENOKEY)
	_, err = p.Search(ctx, rv, "user", "x", 0)
	wantErrno(t, err, unix.EKEYREVOKED)
}

func TestLinkCyclesDepthAndRestrictions(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	defer p.Release(ctx)
	a := must[keyring.Serial](t)(p.Add(ctx, "keyring", "A", nil, keyring.SessionKeyring))
	b := must[keyring.Serial](t)(p.Add(ctx, "keyring", "B", nil, a))
	wantErrno(t, p.Link(ctx, a, a), unix.EDEADLK)
	wantErrno(t, p.Link(ctx, a, b), unix.EDEADLK)

	// A chain 8 deep cannot be linked anywhere: ELOOP.
	top := must[keyring.Serial](t)(p.Add(ctx, "keyring", "top", nil, keyring.SessionKeyring))
	cur := top
	for i := range 7 {
		cur = must[keyring.Serial](t)(p.Add(ctx, "keyring", "c"+string(rune('0'+i)), nil, cur))
	}
	wantErrno(t, p.Link(ctx, top, a), unix.ELOOP)

	user := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("x"), a))
	wantErrno(t, p.Link(ctx, a, user), unix.ENOTDIR)
	if err := p.Restrict(ctx, b, "", ""); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, p.Restrict(ctx, b, "", ""), unix.EEXIST)
	wantErrno(t, p.Link(ctx, user, b), unix.EPERM)
	_, err := p.Add(ctx, "user", "k2", []byte("x"), b)
	wantErrno(t, err, unix.EPERM)
	// No type here supports restrictions: a known one is ENOENT, an
	// unknown one ENOKEY (key_type_lookup fails first), as in the kernel.
	wantErrno(t, p.Restrict(ctx, a, "user", "x"), unix.ENOENT)
	wantErrno(t, p.Restrict(ctx, a, "asymmetric", "builtin_trusted"), unix.ENOKEY)
	wantErrno(t, p.Restrict(ctx, a, "asymmetric", ""), unix.EINVAL)
	wantErrno(t, p.Restrict(ctx, 12345, "asymmetric", ""), unix.ENOKEY) // the lookup comes first
}

func TestUnlinkMoveClearAndTheirEvents(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	a := must[keyring.Serial](t)(p.Add(ctx, "keyring", "A", nil, keyring.UserKeyring))
	b := must[keyring.Serial](t)(p.Add(ctx, "keyring", "B", nil, keyring.UserKeyring))
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("x"), a))
	aq, bq, kq := watch(t, p, a, 1), watch(t, p, b, 2), watch(t, p, k, 3)

	if err := p.Move(ctx, k, a, b, keyring.MoveExclusive); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, p.Move(ctx, k, a, b, 0), unix.ENOENT)
	wantErrno(t, p.Move(ctx, k, a, b, 2), unix.EINVAL)
	if err := p.Move(ctx, k, b, b, 0); err != nil {
		t.Errorf("move within one keyring: %v", err)
	}
	other := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("other"), a))
	wantErrno(t, p.Move(ctx, k, b, a, keyring.MoveExclusive), unix.EEXIST)
	if err := p.Move(ctx, k, a, a, keyring.MoveExclusive); err != nil {
		t.Errorf("move within one keyring, exclusive: %v (the kernel does nothing)", err)
	}

	// As in the kernel, unlink removes the key in the keyring's slot for
	// k's type and description: here "other", which nothing else holds.
	if err := p.Unlink(ctx, k, a); err != nil {
		t.Fatalf("unlink of k from a, where other fills its slot: %v", err)
	}
	_, err := p.Describe(ctx, other)
	wantErrno(t, err, unix.ENOKEY)
	wantErrno(t, p.Unlink(ctx, k, a), unix.ENOENT)
	if err := p.Unlink(ctx, k, b); err != nil {
		t.Fatal(err)
	}
	_, err = p.Describe(ctx, k)
	wantErrno(t, err, unix.ENOKEY) // nothing held it: destroyed

	if err := p.Clear(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, p.Clear(ctx, must[keyring.Serial](t)(p.Add(ctx, "user", "u", []byte("x"), b))), unix.ENOTDIR)

	got := strings.Join(append(append(records(t, aq), records(t, bq)...), records(t, kq)...), ",")
	want := strings.Join([]string{
		s(a) + " unlk " + s(k), // move: A then B
		s(a) + " link " + s(other),
		s(a) + " unlk " + s(k), // the unlink that removed other names k
		s(b) + " link " + s(k),
		s(b) + " unlk " + s(k),
		s(b) + " clr",
		s(b) + " link " + s(must[keyring.Serial](t)(p.Search(ctx, b, "user", "u", 0))),
		s(k) + " gc",
	}, ",")
	if got != want {
		t.Errorf("records:\n got %s\nwant %s", got, want)
	}
}

func TestRevokeInvalidateTimeoutAndCollection(t *testing.T) {
	e := newEnv(t, keyring.Options{GCDelay: time.Minute})
	p := e.store.Process(alice)
	ring := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserKeyring))
	rv := must[keyring.Serial](t)(p.Add(ctx, "user", "revoke-me", []byte("x"), ring))
	iv := must[keyring.Serial](t)(p.Add(ctx, "user", "invalidate-me", []byte("x"), ring))
	ex := must[keyring.Serial](t)(p.Add(ctx, "user", "expire-me", []byte("x"), ring))
	rq, ivq := watch(t, p, rv, 1), watch(t, p, iv, 1)
	ringq := watch(t, p, ring, 2)

	must[struct{}](t)(struct{}{}, p.Revoke(ctx, rv))
	_, err := p.Read(ctx, rv)
	wantErrno(t, err, unix.EKEYREVOKED)
	must[struct{}](t)(struct{}{}, p.Invalidate(ctx, iv))
	_, err = p.Describe(ctx, iv)
	wantErrno(t, err, unix.ENOKEY)
	must[struct{}](t)(struct{}{}, p.SetTimeout(ctx, ex, 10*time.Second))

	e.clock.Advance(11 * time.Second)
	_, err = p.Read(ctx, ex)
	wantErrno(t, err, unix.EKEYEXPIRED)
	wantErrno(t, p.SetTimeout(ctx, ex, time.Hour), unix.EKEYEXPIRED)
	// Adding the same description revives an expired user key.
	if again := must[keyring.Serial](t)(p.Add(ctx, "user", "expire-me", []byte("y"), ring)); again != ex {
		t.Errorf("add over an expired key made %d, want an update of %d", again, ex)
	}
	must[struct{}](t)(struct{}{}, p.SetTimeout(ctx, ex, 10*time.Second))
	e.clock.Advance(11 * time.Second)

	// Still linked until the GC delay has passed.
	if keys := must[[]keyring.Serial](t)(p.Keys(ctx, ring)); len(keys) != 2 {
		t.Errorf("before the GC delay the keyring holds %v", keys)
	}
	e.clock.Advance(time.Minute)
	if err := e.store.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := must[[]keyring.Serial](t)(p.Keys(ctx, ring)); len(keys) != 0 {
		t.Errorf("after collection the keyring holds %v", keys)
	}
	if got := strings.Join(records(t, rq), ","); got != s(rv)+" rev,"+s(rv)+" gc" {
		t.Errorf("revoked key's watcher: %s", got)
	}
	if got := strings.Join(records(t, ivq), ","); got != s(iv)+" inv,"+s(iv)+" gc" {
		t.Errorf("invalidated key's watcher: %s", got)
	}
	// Expiry and collection are silent on the keyring; the add that
	// revived the key posted only on the key.
	if got := records(t, ringq); len(got) != 0 {
		t.Errorf("keyring watcher heard %v", got)
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, keyring.Options{Quota: keyring.Quota{MaxKeys: 5, MaxBytes: 100, RootMaxKeys: 10, RootMaxBytes: 1000}})
	p := e.store.Process(alice)
	// The user keyrings count too: _uid.1000 and _uid_ses.1000, 2 keys and
	// 9+15+4 = 28 bytes, as in the kernel.
	var ids []keyring.Serial
	for i := range 3 {
		ids = append(ids, must[keyring.Serial](t)(p.Add(ctx, "user", "k"+string(rune('0'+i)), []byte("v"), keyring.UserKeyring)))
	}
	_, err := p.Add(ctx, "user", "one-too-many", []byte("v"), keyring.UserKeyring)
	wantErrno(t, err, unix.EDQUOT)
	// Unlinking destroys the key and gives the quota back at once.
	must[struct{}](t)(struct{}{}, p.Unlink(ctx, ids[0], keyring.UserKeyring))
	must[keyring.Serial](t)(p.Add(ctx, "user", "fits-now", []byte("v"), keyring.UserKeyring))
	// Bytes: an update that would exceed 100 bytes fails and changes nothing.
	wantErrno(t, p.Update(ctx, ids[1], bytes.Repeat([]byte("x"), 99)), unix.EDQUOT)
	if got := must[[]byte](t)(p.Read(ctx, ids[1])); string(got) != "v" {
		t.Errorf("a refused update left %q", got)
	}
}

func TestUpdateErrors(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	id := must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("x"), keyring.UserKeyring))
	wantErrno(t, p.Update(ctx, id, make([]byte, 4097)), unix.EINVAL)
	wantErrno(t, p.Update(ctx, keyring.UserKeyring, []byte("x")), unix.EOPNOTSUPP)
	wantErrno(t, p.Update(ctx, id, nil), unix.EINVAL)
	if err := p.Update(ctx, id, make([]byte, 4096)); err != nil {
		t.Errorf("a 4096-byte update: %v", err)
	}
}

func TestWatchErrorsAndQuota(t *testing.T) {
	e := newEnv(t, keyring.Options{WatchLimit: 2})
	p := e.store.Process(alice)
	q := watch(t, p, keyring.UserKeyring, 1)
	wantErrno(t, p.Watch(ctx, keyring.UserKeyring, q, 2), unix.EBUSY)
	wantErrno(t, p.Watch(ctx, keyring.UserKeyring, q, 256), unix.EINVAL)
	wantErrno(t, p.Watch(ctx, keyring.UserKeyring, q, -2), unix.EINVAL)
	watch(t, p, keyring.UserSessionKeyring, 1)
	other := watchqueue.New(watchqueue.Options{})
	defer other.Close()
	other.SetSize(1)
	wantErrno(t, p.Watch(ctx, keyring.UserKeyring, other, 1), unix.EAGAIN)
	if err := p.Watch(ctx, keyring.UserKeyring, q, -1); err != nil {
		t.Fatal(err)
	}
	ring := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserKeyring))
	if got := strings.Join(records(t, q), ","); got != s(ring)+" gc" {
		t.Errorf("removing the watch gave %s, want the removal record", got)
	}
	wantErrno(t, p.Watch(ctx, keyring.UserKeyring, q, -1), unix.EBADSLT)
	if e.store.Watches(alice.UID) != 1 {
		t.Errorf("alice holds %d watches, want 1", e.store.Watches(alice.UID))
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	// No session: @s is the user-session keyring.
	us := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserSessionKeyring))
	if got := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.SessionKeyring)); got != us {
		t.Errorf("@s without a session is %d, want @us %d", got, us)
	}
	anon := must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	if d := must[keyring.Description](t)(p.Describe(ctx, keyring.SessionKeyring)); d.String() != "keyring;1000;1000;3f030000;_ses" {
		t.Errorf("anonymous session: %s", d)
	}
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "in-session", []byte("x"), keyring.SessionKeyring))
	// A child adopts the session and possesses its keys.
	child := e.store.Process(alice)
	must[struct{}](t)(struct{}{}, child.AdoptSession(ctx, anon))
	if found := must[keyring.Serial](t)(child.RequestKey(ctx, "user", "in-session", 0)); found != k {
		t.Errorf("child's request_key found %d, want %d", found, k)
	}
	// A named session can be joined again by name while it lives.
	named := must[keyring.Serial](t)(p.JoinSession(ctx, "work"))
	if d := must[keyring.Description](t)(p.Describe(ctx, named)); d.Perm != 0x3f130000 {
		t.Errorf("named session mask %v", d.Perm)
	}
	// Its owner has no Search on it (0x3f130000), so, as in the kernel,
	// joining by name again makes a new keyring that takes over the name.
	renamed := must[keyring.Serial](t)(p.JoinSession(ctx, "work"))
	if renamed == named || renamed == 0 {
		t.Errorf("joining \"work\" again gave %d; the kernel makes a new keyring (was %d)", renamed, named)
	}
	// Granted Search, the name finds it, and joining the current one is 0.
	must[struct{}](t)(struct{}{}, p.SetPerm(ctx, renamed, 0x3f1b0000))
	if again := must[keyring.Serial](t)(p.JoinSession(ctx, "work")); again != 0 {
		t.Errorf("joining the current session returned %d, want 0", again)
	}
	named = renamed
	_, err := p.JoinSession(ctx, ".hidden")
	wantErrno(t, err, unix.EPERM)
	// Once nobody holds the anonymous session it is destroyed, with its key.
	must[struct{}](t)(struct{}{}, child.Release(ctx))
	_, err = p.Describe(ctx, k)
	wantErrno(t, err, unix.ENOKEY)

	// A named session lives while it is held, as the kernel's: pinned,
	// it outlives the store's closing; "work", which only p held, and
	// its name, do not.
	pinned := must[keyring.Serial](t)(p.JoinSession(ctx, "kept"))
	must[struct{}](t)(struct{}{}, p.SetPerm(ctx, pinned, 0x3f1b0000))
	must[keyring.Serial](t)(p.PinSession(ctx))
	e.reopen()
	p = e.store.Process(alice)
	if again := must[keyring.Serial](t)(p.JoinSession(ctx, "kept")); again != pinned {
		t.Errorf("after reopen, pinned session \"kept\" is %d, want %d", again, pinned)
	}
	_, err = p.Describe(ctx, named)
	wantErrno(t, err, unix.ENOKEY)
	if again := must[keyring.Serial](t)(p.JoinSession(ctx, "work")); again == named || again == 0 {
		t.Errorf("after reopen, session \"work\" is %d: the old one (%d) should be gone", again, named)
	}
	must[struct{}](t)(struct{}{}, p.Release(ctx))
}

func TestSpecialIDs(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	for id, want := range map[keyring.Serial]unix.Errno{
		keyring.GroupKeyring:   unix.EINVAL,
		keyring.ReqKeyAuthKey:  unix.ENOKEY,
		keyring.ThreadKeyring:  unix.ENOKEY,
		keyring.ProcessKeyring: unix.ENOKEY,
		-8:                     unix.ENOKEY,
		-9:                     unix.EINVAL,
		0:                      unix.EINVAL,
	} {
		_, err := p.KeyringID(ctx, id)
		if !errors.Is(err, want) {
			t.Errorf("KeyringID(%v) = %v, want %v", id, err, want)
		}
	}
	caps := keyring.Capabilities()
	if len(caps) != 2 || caps[1]&keyring.Caps1Notifications == 0 {
		t.Errorf("capabilities % x", caps)
	}
}

// Concurrent writers: every acknowledged add is there, the quota adds up,
// the store is consistent, and each watcher's records come in commit order.
func TestConcurrentWritersShareCommits(t *testing.T) {
	e := newEnv(t, keyring.Options{Quota: keyring.Quota{MaxKeys: 1000, MaxBytes: 100000, RootMaxKeys: 1000, RootMaxBytes: 100000}})
	p := e.store.Process(alice)
	ring := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.UserKeyring))
	q := watch(t, p, ring, 1)
	var wg sync.WaitGroup
	ids := make([]keyring.Serial, 64)
	for i := range ids {
		wg.Go(func() {
			id, err := p.Add(ctx, "user", "k"+strings.Repeat("x", i), []byte("v"), ring)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	keys := must[[]keyring.Serial](t)(p.Keys(ctx, ring))
	if len(keys) != 64 {
		t.Fatalf("%d keys stored", len(keys))
	}
	// The watcher saw the links in the keyring's own (commit) order.
	lines := records(t, q)
	if len(lines) != 64 {
		t.Fatalf("%d records", len(lines))
	}
	for i, line := range lines {
		if want := s(ring) + " link " + s(keys[i]); line != want {
			t.Fatalf("record %d is %q, want %q: not in commit order", i, line, want)
		}
	}
}

// The collector runs by itself: a revoked key is reaped once the GC delay
// has passed, without anyone calling Collect, and its watcher hears.
func TestCollectorReapsInTheBackground(t *testing.T) {
	e := newEnv(t, keyring.Options{GCDelay: 50 * time.Millisecond, Now: time.Now})
	p := e.store.Process(alice)
	id := must[keyring.Serial](t)(p.Add(ctx, "user", "short-lived", []byte("x"), keyring.UserKeyring))
	q := watch(t, p, id, 1)
	must[struct{}](t)(struct{}{}, p.Revoke(ctx, id))
	deadline := time.Now().Add(5 * time.Second)
	for {
		keys := must[[]keyring.Serial](t)(p.Keys(ctx, keyring.UserKeyring))
		if len(keys) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still linked 5 s after its 50 ms GC delay")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Records are posted just after the commit a reader may already see.
	var heard []string
	for len(heard) < 2 && time.Now().Before(deadline) {
		heard = append(heard, records(t, q)...)
		time.Sleep(time.Millisecond)
	}
	if got := strings.Join(heard, ","); got != s(id)+" rev,"+s(id)+" gc" {
		t.Errorf("watcher heard %s", got)
	}
}

func TestPersistentKeyring(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	ses := must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	defer p.Release(ctx)
	q := watch(t, p, ses, 1)
	id := must[keyring.Serial](t)(p.GetPersistent(ctx, keyring.OwnUID, keyring.SessionKeyring))
	if d := must[keyring.Description](t)(p.Describe(ctx, id)); d.String() != "keyring;1000;65534;1f030000;_persistent.1000" {
		t.Errorf("persistent keyring describes as %s", d)
	}
	if again := must[keyring.Serial](t)(p.GetPersistent(ctx, alice.UID, keyring.SessionKeyring)); again != id {
		t.Errorf("second get made %d, want %d", again, id)
	}
	if got := strings.Join(records(t, q), ","); got != s(ses)+" link "+s(id)+","+s(ses)+" link "+s(id) {
		t.Errorf("session watcher heard %s (linked twice, no setattr for the expiry push)", got)
	}
	_, err := p.GetPersistent(ctx, bob.UID, keyring.SessionKeyring)
	wantErrno(t, err, unix.EPERM)
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "x", []byte("y"), keyring.SessionKeyring))
	_, err = p.GetPersistent(ctx, keyring.OwnUID, k)
	wantErrno(t, err, unix.ENOTDIR)

	// Not asked for in three days: it expires, and is reaped after the delay.
	e.clock.Advance(keyring.PersistentKeyringExpiry + keyring.DefaultGCDelay + time.Second)
	if err := e.store.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	if fresh := must[keyring.Serial](t)(p.GetPersistent(ctx, keyring.OwnUID, keyring.SessionKeyring)); fresh == id {
		t.Errorf("an expired persistent keyring came back as %d", fresh)
	}
}

func TestThreadAndProcessKeyrings(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	// Not made by lookups that do not create (kernel: ENOKEY).
	_, err := p.KeyringID(ctx, keyring.ProcessKeyring)
	wantErrno(t, err, unix.ENOKEY)
	_, err = p.Read(ctx, keyring.ThreadKeyring)
	wantErrno(t, err, unix.ENOKEY)

	id := must[keyring.Serial](t)(p.Add(ctx, "user", "in-process", []byte("x"), keyring.ProcessKeyring))
	pid := must[keyring.Serial](t)(p.KeyringID(ctx, keyring.ProcessKeyring))
	if d := must[keyring.Description](t)(p.Describe(ctx, keyring.ProcessKeyring)); d.String() != "keyring;1000;1000;3f010000;_pid" {
		t.Errorf("process keyring: %s", d)
	}
	tid := must[keyring.Serial](t)(p.GetKeyringID(ctx, keyring.ThreadKeyring, true))
	if tid == pid {
		t.Error("thread and process keyrings are the same")
	}
	// Keys in it are possessed (the default mask gives the owner only View).
	if got := must[[]byte](t)(p.Read(ctx, id)); string(got) != "x" {
		t.Errorf("read %q", got)
	}
	if found := must[keyring.Serial](t)(p.RequestKey(ctx, "user", "in-process", 0)); found != id {
		t.Errorf("request_key found %d, want %d from the process keyring", found, id)
	}
	// Another process with the same uid neither has nor possesses them.
	other := e.store.Process(alice)
	_, err = other.Read(ctx, id)
	wantErrno(t, err, unix.EACCES)
	_, err = other.RequestKey(ctx, "user", "in-process", 0)
	wantErrno(t, err, unix.ENOKEY)

	// Linked also into @u, the key outlives the process keyring.
	both := must[keyring.Serial](t)(p.Add(ctx, "user", "also-in-user", []byte("y"), keyring.ProcessKeyring))
	must[struct{}](t)(struct{}{}, p.Link(ctx, both, keyring.UserKeyring))
	q := watch(t, p, id, 1)

	// The process keyring never reaches the file.
	if err := e.store.Check(); err != nil {
		t.Fatal(err)
	}
	must[struct{}](t)(struct{}{}, p.Release(ctx))
	if got := strings.Join(records(t, q), ","); got != s(id)+" gc" {
		t.Errorf("releasing the process: watcher of its only key heard %q", got)
	}
	if _, err := other.Describe(ctx, both); errors.Is(err, unix.ENOKEY) {
		t.Error("a key also linked in @u was collected with the process keyring")
	}
	_, err = other.Describe(ctx, pid)
	wantErrno(t, err, unix.ENOKEY)
}

func TestProcessKeyringsNeverReachTheFile(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	id := must[keyring.Serial](t)(p.Add(ctx, "keyring", "sub-of-pid", nil, keyring.ProcessKeyring))
	must[keyring.Serial](t)(p.Add(ctx, "user", "k", []byte("v"), id))
	// Closing without releasing is what a crash looks like to the file.
	e.store.Close()
	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("_pid")) {
		t.Error("the process keyring's description is in the file")
	}
	e.open()
	// Nothing held the keyring below @p: it is collected at open.
	if _, err := e.store.Process(alice).Describe(ctx, id); !errors.Is(err, unix.ENOKEY) {
		t.Errorf("after reopening, the keyring that only @p held: %v", err)
	}
	if err := e.store.Check(); err != nil {
		t.Fatal(err)
	}
}

// Found by the kernel oracle: moving keyring K, named like the keyring F it
// leaves, into D that holds F, displaces F from D. F loses its last link
// and is destroyed, as in the kernel; Move once wrote back a stale record
// of F and left it alive and unreachable (the env's Check would fail).
func TestMoveThatDisplacesTheSourceDestroysIt(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	defer p.Release(ctx)
	f := must[keyring.Serial](t)(p.Add(ctx, "keyring", "r", nil, keyring.SessionKeyring))
	k := must[keyring.Serial](t)(p.Add(ctx, "keyring", "r", nil, f))
	must[struct{}](t)(struct{}{}, p.Move(ctx, k, f, keyring.SessionKeyring, 0))
	_, err := p.Describe(ctx, f)
	wantErrno(t, err, unix.ENOKEY)
	if keys := must[[]keyring.Serial](t)(p.Keys(ctx, keyring.SessionKeyring)); len(keys) != 1 || keys[0] != k {
		t.Errorf("session holds %v, want [%d]", keys, k)
	}
}

// Found by the kernel oracle: a search finds the keyring it starts from if
// that is what it looks for (search_nested_keyrings checks the top first).
func TestSearchFindsItsStartKeyring(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	r := must[keyring.Serial](t)(p.Add(ctx, "keyring", "r", nil, keyring.UserKeyring))
	if got := must[keyring.Serial](t)(p.Search(ctx, r, "keyring", "r", 0)); got != r {
		t.Errorf("search of r for keyring r found %d, want r itself (%d)", got, r)
	}
	// And the destination is looked up before the search: one without
	// Write fails the call even when nothing would be found.
	ro := must[keyring.Serial](t)(p.Add(ctx, "keyring", "ro", nil, keyring.UserKeyring))
	must[struct{}](t)(struct{}{}, p.SetPerm(ctx, ro, 0x3b010000))
	_, err := p.Search(ctx, r, "user", "nothing", ro)
	wantErrno(t, err, unix.EACCES)
	u := must[keyring.Serial](t)(p.Add(ctx, "user", "u", []byte("x"), keyring.UserKeyring))
	_, err = p.Search(ctx, u, "nosuchtype", "x", 0)
	wantErrno(t, err, unix.ENOKEY) // the type before ENOTDIR
}

// A pinned anonymous session survives its process and the store's reopening,
// as `keyctl-go session` needs while its child runs; unpinned, nothing holds
// it and it is collected with its keys.
func TestPinnedSessionOutlivesItsProcess(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	must[keyring.Serial](t)(p.JoinSession(ctx, ""))
	ses := must[keyring.Serial](t)(p.PinSession(ctx))
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "in-session", []byte("x"), keyring.SessionKeyring))
	must[struct{}](t)(struct{}{}, p.Release(ctx))
	e.reopen()

	child := e.store.Process(alice)
	must[struct{}](t)(struct{}{}, child.AdoptSession(ctx, ses))
	if got := must[[]byte](t)(child.Read(ctx, k)); string(got) != "x" {
		t.Errorf("the child read %q from the pinned session", got)
	}
	must[struct{}](t)(struct{}{}, child.Release(ctx))

	parent := e.store.Process(alice)
	must[struct{}](t)(struct{}{}, parent.UnpinSession(ctx, ses))
	_, err := parent.Describe(ctx, k)
	wantErrno(t, err, unix.ENOKEY)
	wantErrno(t, parent.UnpinSession(ctx, ses), unix.ENOKEY)
	_, err = e.store.Process(alice).PinSession(ctx)
	wantErrno(t, err, unix.ENOKEY)
}
