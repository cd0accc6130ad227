//go:build linux

package daemon_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A watcher that never reads loses records, and nobody else waits for it:
// the daemon goes on answering, and the watcher, when it reads at last,
// meets a loss record.
func TestStuckWatcherLosesRecords(t *testing.T) {
	// A small send buffer and queue make the watcher's backlog overflow
	// after a few hundred changes rather than thousands.
	e := newEnv(t, daemon.Options{SendBuffer: 4096, QueueSize: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	watcher, adder, bystander := e.dial(t), e.dial(t), e.dial(t)
	if _, err := watcher.GetKeyringID(ctx, keyring.UserKeyring, true); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Watch(ctx, keyring.UserKeyring, 1); err != nil {
		t.Fatal(err)
	}
	key, err := adder.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	// Each link of a key already there posts KeyLinked again: one record
	// per call, small frames, many of them.
	const changes = 1500
	for i := range changes {
		if err := adder.Link(ctx, key, keyring.UserKeyring); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			start := time.Now()
			if _, err := bystander.Describe(ctx, key); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("a bystander waited %v while a watcher was stuck", d)
			}
		}
	}
	var records, losses int
	for r, err := range watcher.Records(ctx) {
		if err != nil {
			t.Fatalf("after %d records: %v", records, err)
		}
		records++
		if _, ok := r.(watchqueue.Loss); ok {
			losses++
		}
		if losses > 0 {
			break
		}
	}
	before := records - 1
	// Whatever else reached the queue after the gap follows; then nothing.
	drain, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	for _, err := range watcher.Records(drain) {
		if err != nil {
			break
		}
		records++
	}
	if records-losses >= changes+1 {
		t.Fatalf("%d records for %d changes, and a loss record", records-losses, changes+1)
	}
	t.Logf("%d records before the loss record, %d in all, of %d changes", before, records-losses, changes+1)
}

// Ten thousand connections come and go, eight at a time, without leaving
// goroutines, watches or memory behind.
func TestConnectDisconnectCycles(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	owner := e.dial(t)
	if _, err := owner.GetKeyringID(ctx, keyring.UserKeyring, true); err != nil {
		t.Fatal(err)
	}
	const (
		cycles  = 10000
		dialers = 8
	)
	cycle := func(i int) error {
		c, err := daemon.Dial(ctx, e.path)
		if err != nil {
			return err
		}
		defer c.Close()
		// Every connection makes a call; some also watch, or join a
		// session, which the daemon must undo when they go.
		if _, err := c.KeyringID(ctx, keyring.UserKeyring); err != nil {
			return err
		}
		if i%10 == 0 {
			if err := c.Watch(ctx, keyring.UserKeyring, i%256); err != nil {
				return err
			}
		}
		if i%50 == 0 {
			if _, err := c.JoinSession(ctx, ""); err != nil {
				return err
			}
		}
		return c.Close()
	}
	// settled waits for the daemon to finish tearing down the connections
	// the clients have closed, and returns the heap then in use.
	settled := func() uint64 {
		deadline := time.Now().Add(10 * time.Second)
		for e.store.Watches(0) != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// A few hundred first, so that pools and buffers that are meant to
	// stay are in the baseline.
	for i := range 200 {
		if err := cycle(i); err != nil {
			t.Fatal(err)
		}
	}
	heap := settled()
	baseline := goleak.IgnoreCurrent()

	var wg sync.WaitGroup
	errs := make(chan error, dialers)
	for d := range dialers {
		wg.Go(func() {
			for i := d; i < cycles; i += dialers {
				if err := cycle(i); err != nil {
					errs <- fmt.Errorf("cycle %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	verifyGoroutines(t, baseline)
	after := settled()
	if n := e.store.Watches(0); n != 0 {
		t.Fatalf("Watches(0) = %d after %d connections closed", n, cycles)
	}
	// A connection holds kilobytes (its buffers, its process); a few
	// megabytes over ten thousand of them is noise, not a leak.
	const slack = 4 << 20
	if after > heap+slack {
		t.Fatalf("heap %d bytes after %d connections, %d before", after, cycles, heap)
	}
	t.Logf("heap %d KiB before, %d KiB after %d connections", heap>>10, after>>10, cycles)
}

// rawConn is a connection that speaks bytes, not the client's protocol.
func rawConn(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readReply reads one reply frame and returns its errno.
func readReply(t *testing.T, c net.Conn) (wire.Frame, unix.Errno) {
	t.Helper()
	f, _, err := wire.ReadFrame(c, nil)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	if f.Kind != wire.KindReply {
		t.Fatalf("got a %v frame, want a reply", f.Kind)
	}
	errno, _, err := wire.DecodeReply(f.Body, &wire.Empty{})
	if err != nil && errno == 0 {
		// A success whose results are not Empty's: decode the errno alone.
		errno = unix.Errno(binary.BigEndian.Uint32(f.Body))
	}
	return f, errno
}

func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if _, _, err := wire.ReadFrame(c, nil); !errors.Is(err, io.EOF) && !errors.Is(err, unix.ECONNRESET) {
		t.Fatalf("connection still open after a fatal frame: %v", err)
	}
}

func header(length uint32, version, kind byte, id uint32, op uint16) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	b = append(b, version, kind)
	b = binary.BigEndian.AppendUint32(b, id)
	return binary.BigEndian.AppendUint16(b, op)
}

// Bad frames get an error reply, and the ones that leave the stream
// unusable a closed connection; everyone else is served throughout.
func TestMalformedFrames(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	good := e.dial(t)
	key, err := good.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	stillServing := func(t *testing.T) {
		t.Helper()
		if _, err := good.Describe(ctx, key); err != nil {
			t.Fatalf("daemon stopped serving others: %v", err)
		}
	}

	fatal := []struct {
		name  string
		bytes []byte
		want  unix.Errno
	}{
		{"oversized", header(wire.MaxFrameSize+1, 1, 1, 9, 1), unix.EMSGSIZE},
		{"length 0xffffffff", header(0xffffffff, 1, 1, 9, 1), unix.EMSGSIZE},
		{"shorter than a header", []byte{0, 0, 0, 2, 1, 1}, unix.EBADMSG},
		{"version 2", header(8, 2, 1, 9, 1), unix.EPROTO},
		{"unknown kind", header(8, 1, 9, 9, 1), unix.EPROTO},
		{"a reply from the client", header(8, 1, 2, 9, 1), unix.EPROTO},
	}
	for _, tt := range fatal {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, e.path)
			if _, err := c.Write(tt.bytes); err != nil {
				t.Fatal(err)
			}
			if _, errno := readReply(t, c); errno != tt.want {
				t.Fatalf("errno %v, want %v", errno, tt.want)
			}
			expectClosed(t, c)
			stillServing(t)
		})
	}

	recoverable := []struct {
		name string
		op   wire.Op
		body []byte
		want unix.Errno
	}{
		{"unknown op", 999, nil, unix.EOPNOTSUPP},
		{"op 0", 0, nil, unix.EOPNOTSUPP},
		{"truncated body", daemon.OpRead, []byte{0, 0}, unix.EBADMSG},
		{"trailing bytes", daemon.OpRead, []byte{0, 0, 0, 1, 0}, unix.EBADMSG},
		{"string longer than the frame", daemon.OpJoinSession, []byte{0x7f, 0xff, 0xff, 0xff, 'x'}, unix.EBADMSG},
	}
	for _, tt := range recoverable {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, e.path)
			bad, _ := wire.Frame{Kind: wire.KindRequest, ID: 77, Op: tt.op, Body: tt.body}.Append(nil)
			if _, err := c.Write(bad); err != nil {
				t.Fatal(err)
			}
			f, errno := readReply(t, c)
			if errno != tt.want || f.ID != 77 {
				t.Fatalf("reply to %d: errno %v, want %v to 77", f.ID, errno, tt.want)
			}
			// The frame was whole, so the connection goes on.
			ok, _ := wire.Frame{Kind: wire.KindRequest, ID: 78, Op: daemon.OpDescribe, Body: wire.Encode(nil, &wire.KeyRequest{ID: int32(key)})}.Append(nil)
			if _, err := c.Write(ok); err != nil {
				t.Fatal(err)
			}
			f, _, err := wire.ReadFrame(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			var d wire.DescribeReply
			if errno, msg, err := wire.DecodeReply(f.Body, &d); err != nil || errno != 0 || f.ID != 78 || d.Description != "k" {
				t.Fatalf("next request: id %d errno %v %q %v %+v", f.ID, errno, msg, err, d)
			}
			stillServing(t)
		})
	}

	t.Run("torn frame then hang up", func(t *testing.T) {
		c := rawConn(t, e.path)
		c.Write(header(100, 1, 1, 1, 1))
		c.Close()
		stillServing(t)
	})
}

// A socket file left by a daemon that died is replaced; one a daemon
// still serves is refused.
func TestStaleAndLiveSocket(t *testing.T) {
	dir := t.TempDir()
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	path := filepath.Join(dir, "d.sock")

	// A crashed daemon leaves its socket file behind.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}

	srv, err := daemon.Listen(path, store, daemon.Options{})
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	defer func() {
		srv.Close()
		<-served
	}()
	c, err := daemon.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyringID(context.Background(), keyring.UserKeyring); err != nil {
		t.Fatalf("the new daemon does not answer: %v", err)
	}
	c.Close()

	if _, err := daemon.Listen(path, store, daemon.Options{}); !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("second Listen on a live socket: %v, want EADDRINUSE", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the refused Listen took the live socket away: %v", err)
	}

	notSocket := filepath.Join(dir, "file")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Listen(notSocket, store, daemon.Options{}); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("Listen over a regular file: %v, want EEXIST", err)
	}
}

// Close finishes the calls in flight and ends every connection.
func TestGracefulClose(t *testing.T) {
	store, srv, path, served := serving(t, daemon.Options{})
	ctx := context.Background()
	c, err := daemon.Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Watch(ctx, keyring.UserKeyring, 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n := store.Watches(0); n != 0 {
		t.Fatalf("Watches(0) = %d after Close", n)
	}
	if _, err := c.KeyringID(ctx, keyring.UserKeyring); err == nil {
		t.Fatal("a call after Close succeeded")
	}
	for _, err := range c.Records(ctx) {
		if err == nil {
			t.Fatal("a record after Close")
		}
		break
	}
	if _, err := daemon.Dial(ctx, path); err == nil {
		t.Fatal("Dial after Close succeeded")
	}
}

// Close lets the calls in flight finish: every Add a client saw succeed
// is in the store afterwards.
func TestCloseFinishesCallsInFlight(t *testing.T) {
	store, srv, path, served := serving(t, daemon.Options{})
	ctx := context.Background()

	const clients = 4
	added := make(chan keyring.Serial, 10000)
	started := make(chan struct{}, clients)
	finished := make(chan error, clients)
	for i := range clients {
		c, err := daemon.Dial(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			for j := 0; ; j++ {
				id, err := c.Add(ctx, "user", "k"+string(rune('a'+i))+string(rune('a'+j%26))+string(rune('a'+j/26%26)), []byte("v"), keyring.UserKeyring)
				if err != nil {
					var derr *daemon.Error
					if errors.As(err, &derr) {
						finished <- err // the store refused: not what this test is about
					} else {
						finished <- nil // the connection ended
					}
					return
				}
				added <- id
				if j == 5 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range clients {
		<-started
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	for range clients {
		if err := <-finished; err != nil {
			t.Fatal(err)
		}
	}
	close(added)
	p := store.Process(perms.Cred{})
	n := 0
	for id := range added {
		if _, err := p.Describe(ctx, id); err != nil {
			t.Fatalf("key %v acknowledged before Close is not in the store: %v", id, err)
		}
		n++
	}
	t.Logf("%d keys added before Close, all there", n)
}

// A client that stopped reading cannot hold up Close for longer than the
// drain timeout.
func TestCloseWithStuckClient(t *testing.T) {
	store, srv, path, served := serving(t, daemon.Options{SendBuffer: 4096, QueueSize: 32, DrainTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	watcher, err := daemon.Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	adder, err := daemon.Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer adder.Close()
	if err := watcher.Watch(ctx, keyring.UserKeyring, 1); err != nil {
		t.Fatal(err)
	}
	key, err := adder.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if err := adder.Link(ctx, key, keyring.UserKeyring); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with a stuck client", d)
	}
	if n := store.Watches(0); n != 0 {
		t.Fatalf("Watches(0) = %d after Close", n)
	}
}

// A client that sends requests and never reads the replies stalls its own
// connection, and neither the daemon nor Close.
func TestCloseWithClientIgnoringReplies(t *testing.T) {
	_, srv, path, served := serving(t, daemon.Options{SendBuffer: 4096, DrainTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	good, err := daemon.Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	key, err := good.Add(ctx, "user", "k", make([]byte, 4000), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}

	rude, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer rude.Close()
	req, _ := wire.Frame{Kind: wire.KindRequest, ID: 1, Op: daemon.OpRead, Body: wire.Encode(nil, &wire.KeyRequest{ID: int32(key)})}.Append(nil)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		// Each reply is 4 KiB; this many fill every buffer on the way
		// back, and this writer blocks once the daemon stops reading.
		for range 1000 {
			if _, err := rude.Write(req); err != nil {
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := good.Describe(ctx, key); err != nil {
		t.Fatalf("daemon stopped serving others: %v", err)
	}
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with a client ignoring its replies", d)
	}
	rude.Close()
	<-sent
}

// serving opens a store in a temporary directory and serves it with opts,
// leaving Close to the test, which is what these tests examine; the store
// is closed when the test ends.
func serving(t *testing.T, opts daemon.Options) (*keyring.Store, *daemon.Server, string, <-chan error) {
	t.Helper()
	dir := t.TempDir()
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	path := filepath.Join(dir, "d.sock")
	srv, err := daemon.Listen(path, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	return store, srv, path, served
}
