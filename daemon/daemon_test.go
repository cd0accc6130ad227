//go:build linux

package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

func TestMain(m *testing.M) {
	if code, ok := childMain(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// env is a real store in a temporary directory, served on a real socket.
type env struct {
	store *keyring.Store
	srv   *daemon.Server
	path  string
}

func newEnv(t *testing.T, opts daemon.Options) *env {
	t.Helper()
	return newEnvWith(t, keyring.Options{}, opts)
}

// newEnvWith is newEnv on a store opened with storeOpts, for tests that
// set the store's clock.
func newEnvWith(t *testing.T, storeOpts keyring.Options, opts daemon.Options) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), storeOpts)
	if err != nil {
		t.Fatal(err)
	}
	// The socket has a directory of its own that any user may enter, so
	// that children running as other uids can reach it.
	sockDir, err := os.MkdirTemp("", "keyctl-go-daemon-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sockDir, "daemon.sock")
	srv, err := daemon.Listen(path, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := store.Check(); err != nil {
			t.Errorf("store inconsistent: %v", err)
		}
		store.Close()
		os.RemoveAll(sockDir)
	})
	return &env{store: store, srv: srv, path: path}
}

func (e *env) dial(t *testing.T) *daemon.Client {
	t.Helper()
	c, err := daemon.Dial(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRoundTrips(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()

	id, err := c.Add(ctx, "user", "greeting", []byte("hello"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Read(ctx, id)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	d, err := c.Describe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := (keyring.Description{Type: "user", UID: 0, GID: 0, Perm: perms.DefaultUserKey, Description: "greeting"}); d != want {
		t.Fatalf("Describe = %+v, want %+v", d, want)
	}
	if err := c.Update(ctx, id, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Read(ctx, id); string(got) != "again" {
		t.Fatalf("Read after Update = %q", got)
	}
	found, err := c.Search(ctx, keyring.UserKeyring, "user", "greeting", 0)
	if err != nil || found != id {
		t.Fatalf("Search = %v, %v; want %v", found, err, id)
	}

	// What the daemon answers is what the store answers for the same uid.
	ring, err := c.KeyringID(ctx, keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := e.store.Process(perms.Cred{}).KeyringID(ctx, keyring.UserKeyring)
	if err != nil || direct != ring {
		t.Fatalf("store says @u is %v (%v), daemon %v", direct, err, ring)
	}

	// Session and link operations.
	ses, err := c.JoinSession(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// A key in the session is possessed, so it may be linked elsewhere.
	sid, err := c.Add(ctx, "user", "in-session", []byte("s"), keyring.SessionKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Link(ctx, sid, keyring.UserKeyring); err != nil {
		t.Fatal(err)
	}
	other := e.dial(t)
	if err := other.AdoptSession(ctx, ses); err != nil {
		t.Fatal(err)
	}
	if s, err := other.KeyringID(ctx, keyring.SessionKeyring); err != nil || s != ses {
		t.Fatalf("adopted session = %v, %v; want %v", s, err, ses)
	}
	if err := c.Unlink(ctx, sid, keyring.UserKeyring); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlink(ctx, sid, keyring.UserKeyring); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("second Unlink = %v, want ENOENT", err)
	}
	thread, err := c.GetKeyringID(ctx, keyring.ThreadKeyring, true)
	if err != nil || thread <= 0 {
		t.Fatalf("GetKeyringID(@t, create) = %v, %v", thread, err)
	}

	big := bytes.Repeat([]byte{7}, keyring.MaxUserPayload)
	bid, err := c.Add(ctx, "user", "big", big, keyring.SessionKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Read(ctx, bid); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Read of a %d-byte payload: %d bytes, %v", len(big), len(got), err)
	}
}

func TestErrnoPropagation(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	ctx := context.Background()
	logon, err := c.Add(ctx, "logon", "svc:x", []byte("p"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := c.Add(ctx, "user", "r", []byte("p"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	gone, err := c.Add(ctx, "user", "i", []byte("p"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Invalidate(ctx, gone); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want unix.Errno
	}{
		{"read a key that does not exist", func() error { _, err := c.Read(ctx, 12345); return err }, unix.ENOKEY},
		{"read an invalidated key", func() error { _, err := c.Read(ctx, gone); return err }, unix.ENOKEY},
		{"read a revoked key", func() error { _, err := c.Read(ctx, revoked); return err }, unix.EKEYREVOKED},
		{"read a logon key", func() error { _, err := c.Read(ctx, logon); return err }, unix.EOPNOTSUPP},
		{"add of an unknown type", func() error { _, err := c.Add(ctx, "nosuch", "d", nil, keyring.UserKeyring); return err }, unix.ENODEV},
		{"add with an empty type", func() error { _, err := c.Add(ctx, "", "d", nil, keyring.UserKeyring); return err }, unix.EINVAL},
		{"the group keyring", func() error { _, err := c.KeyringID(ctx, keyring.GroupKeyring); return err }, unix.EINVAL},
		{"update a keyring", func() error {
			r, _ := c.KeyringID(ctx, keyring.UserKeyring)
			return c.Update(ctx, r, nil)
		}, unix.EOPNOTSUPP},
		{"watch tag out of range", func() error { return c.Watch(ctx, keyring.UserKeyring, 256) }, unix.EINVAL},
		{"remove a watch that is not there", func() error { return c.Watch(ctx, keyring.UserKeyring, -1) }, unix.EBADSLT},
		{"search finds nothing", func() error {
			_, err := c.Search(ctx, keyring.UserKeyring, "user", "absent", 0)
			return err
		}, unix.ENOKEY},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var derr *daemon.Error
			if tt.want != unix.EINVAL || errors.As(err, &derr) {
				if !errors.As(err, &derr) || derr.Message == "" {
					t.Fatalf("%v: not a daemon error with the store's message", err)
				}
			}
		})
	}
}

// A watcher on @u sees the keys another connection of the same uid adds,
// in commit order.
func TestWatchSeesOtherConnection(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	watcher, adder := e.dial(t), e.dial(t)
	ring, err := watcher.GetKeyringID(ctx, keyring.UserKeyring, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := watcher.Watch(ctx, keyring.UserKeyring, 7); err != nil {
		t.Fatal(err)
	}
	var added []uint32
	for i := range 5 {
		id, err := adder.Add(ctx, "user", "k"+string(rune('0'+i)), []byte("v"), keyring.UserKeyring)
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, uint32(id))
	}
	var linked []uint32
	for r, err := range watcher.Records(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n, ok := r.(watchqueue.KeyNotification)
		if !ok {
			t.Fatalf("unexpected record %#v", r)
		}
		if n.Subtype != watchqueue.KeyLinked || n.KeyID != uint32(ring) || n.Tag != 7 {
			t.Fatalf("record %+v, want linked on %v with tag 7", n, ring)
		}
		linked = append(linked, n.Aux)
		if len(linked) == len(added) {
			break
		}
	}
	for i := range added {
		if linked[i] != added[i] {
			t.Fatalf("linked %v, added %v: not in commit order", linked, added)
		}
	}
	if got := e.store.Watches(0); got != 1 {
		t.Fatalf("Watches(0) = %d with one watch set", got)
	}
}
