//go:build linux

package keyring_test

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/etcdtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/keystore/etcdstore"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// hosts are stores opened on one prefix of one etcd cluster, as the
// daemons of several hosts open it: each its own client, feed and cache.
type hosts struct {
	t       *testing.T
	cluster *etcdtest.Cluster
	prefix  string
	keyFile string
}

func newHosts(t *testing.T, c *etcdtest.Cluster) *hosts {
	return &hosts{t: t, cluster: c, prefix: etcdtest.Prefix(t), keyFile: filepath.Join(t.TempDir(), "store.key")}
}

func (h *hosts) options(endpoints ...string) keyring.Options {
	return h.optionsTimeout(3*time.Second, endpoints...)
}

// optionsTimeout are the options of a host whose requests to etcd time
// out after timeout.
func (h *hosts) optionsTimeout(timeout time.Duration, endpoints ...string) keyring.Options {
	if len(endpoints) == 0 {
		endpoints = h.cluster.Endpoints()
	}
	return keyring.Options{Storage: keystore.Options{
		KeyFile: h.keyFile,
		Engine:  etcdstore.Options{Endpoints: endpoints, Prefix: h.prefix, RequestTimeout: timeout}.Open,
	}}
}

// open opens one more host, closed (and checked) when the test ends.
func (h *hosts) open(endpoints ...string) *keyring.Store {
	h.t.Helper()
	s, err := keyring.Open("", h.options(endpoints...))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		if err := s.Check(); err != nil {
			h.t.Errorf("store inconsistent after the test: %v", err)
		}
		s.Close()
	})
	return s
}

// awaitRecords reads q until it has n records or a few seconds pass.
func awaitRecords(t *testing.T, q *watchqueue.Queue, n int) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		got = append(got, records(t, q)...)
		if len(got) < n {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return got
}

// A watcher on host B hears what host A changed, and the record is the
// one host A's own watcher got, with the same revision.
func TestEtcdWatchAcrossHosts(t *testing.T) {
	h := newHosts(t, etcdtest.Shared(t))
	a, b := h.open(), h.open()
	pa, pb := a.Process(alice), b.Process(alice)
	ring := must[keyring.Serial](t)(pa.KeyringID(ctx, keyring.UserKeyring))
	if got := must[keyring.Serial](t)(pb.KeyringID(ctx, keyring.UserKeyring)); got != ring {
		t.Fatalf("host B's @u is %d, host A's %d: not one key space", got, ring)
	}
	qa, qb := watchRev(t, pa, ring), watchRev(t, pb, ring)
	id := must[keyring.Serial](t)(pa.Add(ctx, "user", "token", []byte("v1"), keyring.UserKeyring))
	ra, rb := awaitRaw(t, qa, 1), awaitRaw(t, qb, 1)
	if len(ra) != 1 || !slices.Equal(ra, rb) {
		t.Fatalf("host A's watcher got %x, host B's %x: want the same one record", ra, rb)
	}
	// B reads the new key at once, from its own copy.
	if got := must[[]byte](t)(pb.Read(ctx, id)); string(got) != "v1" {
		t.Errorf("host B reads %q", got)
	}
	// An update on B reaches A's cache: A reads the new payload.
	must[keyring.Serial](t)(pb.Add(ctx, "user", "token", []byte("v2"), keyring.UserKeyring))
	awaitRaw(t, qa, 1)
	if got := must[[]byte](t)(pa.Read(ctx, id)); string(got) != "v2" {
		t.Errorf("host A reads %q after host B's update, want v2", got)
	}
}

// watchRev watches id with a queue that keeps revisions.
func watchRev(t *testing.T, p *keyring.Process, id keyring.Serial) *watchqueue.Queue {
	t.Helper()
	q := watchqueue.New(watchqueue.Options{Revisions: true})
	if err := q.SetSize(256); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := p.Watch(ctx, id, q, 1); err != nil {
		t.Fatal(err)
	}
	return q
}

// awaitRaw reads n records from q, as bytes (revision included), waiting
// a few seconds at most.
func awaitRaw(t *testing.T, q *watchqueue.Queue, n int) []string {
	t.Helper()
	var got []string
	buf := make([]byte, watchqueue.ReadBufferSize)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		k, err := q.TryRead(buf)
		if err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		for rb := buf[:k]; len(rb) > 0; {
			_, size, err := watchqueue.Decode(rb, true)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(rb[:size]))
			rb = rb[size:]
		}
	}
	return got
}

// Two hosts racing adds into one keyring and links that would close a
// cycle keep the kernel's invariants: every add acknowledged is there
// (no lost update), serials are unique, the quota holds, and of two links
// that together make a cycle at most one is made. The stores Check clean
// at the end (hosts.open).
func TestEtcdRacingHostsKeepInvariants(t *testing.T) {
	h := newHosts(t, etcdtest.Shared(t))
	opts := h.options()
	opts.Quota = keyring.Quota{MaxKeys: 24, MaxBytes: 20000, RootMaxKeys: 1000, RootMaxBytes: 1 << 20}
	open := func() *keyring.Store {
		s, err := keyring.Open("", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Check(); err != nil {
				t.Errorf("store inconsistent after the race: %v", err)
			}
			s.Close()
		})
		return s
	}
	a, b := open(), open()
	pa, pb := a.Process(alice), b.Process(alice)
	ring := must[keyring.Serial](t)(pa.KeyringID(ctx, keyring.UserKeyring))
	must[keyring.Serial](t)(pb.KeyringID(ctx, keyring.UserKeyring))

	const perHost = 20 // 40 adds, more than the quota of 24 keys allows
	type result struct {
		id  keyring.Serial
		err error
	}
	results := make(chan result, 2*perHost)
	var wg sync.WaitGroup
	for host, p := range []*keyring.Process{pa, pb} {
		wg.Go(func() {
			for i := range perHost {
				id, err := p.Add(ctx, "user", fmt.Sprintf("h%d-%d", host, i), []byte("x"), keyring.UserKeyring)
				results <- result{id, err}
			}
		})
	}
	wg.Wait()
	close(results)
	var added []keyring.Serial
	for r := range results {
		switch {
		case r.err == nil:
			added = append(added, r.id)
		case !errors.Is(r.err, unix.EDQUOT):
			t.Errorf("add: %v", r.err)
		}
	}
	slices.Sort(added)
	if len(slices.Compact(slices.Clone(added))) != len(added) {
		t.Errorf("two adds were given the same serial: %v", added)
	}
	held := must[[]keyring.Serial](t)(pb.Keys(ctx, ring))
	slices.Sort(held)
	if !slices.Equal(held, added) {
		t.Errorf("@u holds %v, the adds acknowledged %v", held, added)
	}
	// alice's @u and @us are keys too: 22 added at most.
	if len(added) > 22 || len(added) < 20 {
		t.Errorf("%d adds succeeded under a quota of 24 keys (2 of them her keyrings)", len(added))
	}

	// Links that together would make a cycle, raced from both hosts.
	ra, rb := a.Process(root), b.Process(root)
	for round := range 8 {
		x := must[keyring.Serial](t)(ra.Add(ctx, "keyring", fmt.Sprintf("x%d", round), nil, keyring.UserKeyring))
		y := must[keyring.Serial](t)(ra.Add(ctx, "keyring", fmt.Sprintf("y%d", round), nil, keyring.UserKeyring))
		var errA, errB error
		var wg sync.WaitGroup
		wg.Go(func() { errA = ra.Link(ctx, x, y) })
		wg.Go(func() { errB = rb.Link(ctx, y, x) })
		wg.Wait()
		if errA == nil && errB == nil {
			t.Fatalf("round %d: both links made: %d and %d hold each other", round, x, y)
		}
		for _, err := range []error{errA, errB} {
			if err != nil && !errors.Is(err, unix.EDEADLK) {
				t.Errorf("round %d: link refused with %v, want EDEADLK", round, err)
			}
		}
	}
}

// Nothing a user chose as text, and no payload, reaches etcd's files in
// clear: not in the rows, not in the notifications of a commit.
func TestEtcdDataDirsHoldNoSecret(t *testing.T) {
	c := etcdtest.Start(t)
	h := newHosts(t, c)
	a, b := h.open(), h.open()
	pa := a.Process(alice)
	ring := must[keyring.Serial](t)(pa.KeyringID(ctx, keyring.UserKeyring))
	must[struct{}](t)(struct{}{}, b.Sync(ctx))
	q := watchRev(t, b.Process(alice), ring)
	const desc, payload = "kerberos-principal-Zq7vXw@EXAMPLE.ORG", "payload-secret-Hk3JmQ9"
	must[keyring.Serial](t)(pa.Add(ctx, "user", desc, []byte(payload), keyring.UserKeyring))
	must[keyring.Serial](t)(pa.Add(ctx, "keyring", "named-ring-Xy8Wq", nil, keyring.UserKeyring))
	must[keyring.Serial](t)(pa.JoinSession(ctx, "session-name-Pv5Tn"))
	awaitRaw(t, q, 2)
	for _, m := range c.Members() {
		m.Kill() // its files as they are
		for _, secret := range []string{desc, payload, "named-ring-Xy8Wq", "session-name-Pv5Tn", "Zq7vXw", "Hk3JmQ9"} {
			out, err := exec.Command("grep", "-r", "-a", "-l", secret, m.DataDir()).Output()
			if len(out) > 0 {
				t.Errorf("%q is in clear in %s", secret, out)
			} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("grep in %s: %v", m.DataDir(), err)
			}
		}
	}
}
