package keyring_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/internal/etcdtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
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
	if len(endpoints) == 0 {
		endpoints = h.cluster.Endpoints()
	}
	return keyring.Options{Storage: keystore.Options{
		KeyFile: h.keyFile,
		Etcd:    &keystore.EtcdOptions{Endpoints: endpoints, Prefix: h.prefix, RequestTimeout: 3 * time.Second},
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
