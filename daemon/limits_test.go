//go:build linux

package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// sharedSocket is a socket path in a fresh directory every user may
// enter, as the system daemon's is.
func sharedSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "keyctl-go-limits-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "socket")
}

// One user holding all the connections they can get does not lock
// anybody else out. Bob is held to his limit per uid; alice, meanwhile,
// connects and is answered within a second; and once bob lets go, he may
// connect again. Without a per-uid limit bob's connections take every
// descriptor the daemon has (it runs with RLIMIT_NOFILE 400 here), and
// alice waits until he lets go.
func TestFloodingUIDIsCapped(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the daemon and two users' clients")
	}
	const limit = 32
	socket := sharedSocket(t)
	bin := childBinary(t)
	d := startDaemonAs(t, bin, filepath.Join(t.TempDir(), "keys.db"), socket, 0, 400, daemon.Options{MaxConnsPerUID: limit})

	flood := startScript(t, bin, socket, bob, bob, step{Op: "hold", N: 200})
	// The script's own connection is one of bob's.
	if o := flood.next("hold"); o.Count != limit-1 {
		t.Errorf("bob holds %d connections and the script's, want his limit, %d (last refusal: %s)", o.Count, limit, o.Data)
	} else if !strings.Contains(o.Data, "hung up without answering") || !strings.Contains(o.Data, socket) {
		t.Errorf("bob's refusal reads %q", o.Data)
	}
	other := startScript(t, bin, socket, alice, alice, step{Op: "dial"}, step{Op: "dial"})
	for range 2 {
		if o := other.next("dial"); o.Errno != 0 || time.Duration(o.Nanos) > time.Second {
			t.Errorf("alice, while bob floods: connected and answered in %v, errno %d", time.Duration(o.Nanos), o.Errno)
		}
	}
	if logged, ok := d.stderr.WaitFor(5*time.Second, `msg="daemon: connection refused" uid=1001 `, `reason="connection limit per uid reached"`); !ok {
		t.Errorf("bob's refusals not logged:\n%s", logged)
	}

	// Bob's connections, once gone, are his to make again.
	flood.cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o := startScript(t, bin, socket, bob, bob, step{Op: "hold", N: 1}).next("hold")
		if o.Count == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob still refused 10 s after his connections went: %s", o.Data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Root and the daemon's own uid keep descriptors that other users cannot
// take, even all together: with no per-uid limit to stop him, bob gets
// the connections RLIMIT_NOFILE leaves after the reserve, and root is
// still answered within a second.
func TestReserveForRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the daemon and another user's client")
	}
	const nofile = 400
	socket := sharedSocket(t)
	bin := childBinary(t)
	startDaemonAs(t, bin, filepath.Join(t.TempDir(), "keys.db"), socket, 0, nofile, daemon.Options{MaxConnsPerUID: -1})
	flood := startScript(t, bin, socket, bob, bob, step{Op: "hold", N: nofile})
	if o := flood.next("hold"); o.Count == 0 || o.Count >= nofile/3 {
		t.Errorf("bob holds %d connections of a daemon with %d descriptors", o.Count, nofile)
	} else {
		t.Logf("bob holds %d connections and the script's", o.Count)
	}
	ctx := context.Background()
	for range 5 {
		start := time.Now()
		c, err := daemon.Dial(ctx, socket)
		if err != nil {
			t.Fatalf("root, while bob floods: %v", err)
		}
		_, err = c.GetKeyringID(ctx, keyring.UserKeyring, true)
		c.Close()
		if took := time.Since(start); err != nil || took > time.Second {
			t.Errorf("root, while bob floods: answered in %v, %v", took, err)
		}
	}
}

// A connection that sends no whole request in time is cut, and logged;
// one that sent its first request may then idle as long as it likes, on
// the socket or on its pipes.
func TestFirstRequestTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	var log childtest.Log
	e := newEnv(t, daemon.Options{FirstRequestTimeout: timeout, Logger: slog.New(slog.NewTextHandler(&log, nil))})

	request, err := wire.AppendRequest(nil, 1, daemon.OpGetKeyringID, &wire.GetKeyringIDRequest{ID: int32(keyring.UserKeyring), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	// What each connection sends at first.
	for _, c := range []struct {
		name  string
		first []byte
		cut   bool
	}{
		{"nothing", nil, true},
		{"half a request", request[:len(request)/2], true},
		{"a request", request, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("unix", e.path)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(c.first); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * timeout))
			got, err := io.ReadAll(conn)
			cut := err == nil // EOF: the daemon hung up
			if cut != c.cut {
				t.Fatalf("after %v: cut %v (read %d bytes, %v), want cut %v", 5*timeout, cut, len(got), err, c.cut)
			}
			if !c.cut && len(got) == 0 {
				t.Error("the request was not answered")
			}
		})
	}
	if !strings.Contains(log.String(), `msg="daemon: connection cut: no request in time" uid=0 `) {
		t.Errorf("the cut connection not logged:\n%s", log.String())
	}

	// A client as Dial makes it, idle past the timeout.
	c := e.dial(t)
	time.Sleep(3 * timeout)
	if _, err := c.GetKeyringID(context.Background(), keyring.UserKeyring, true); err != nil {
		t.Errorf("a call after idling past the first-request timeout: %v", err)
	}
}

// A daemon out of descriptors fails to accept until connections close;
// it waits between tries instead of spinning, logs a run of failures when
// it starts and when it ends rather than at every try, and then serves
// again.
func TestAcceptOutOfDescriptors(t *testing.T) {
	const nofile = 48
	// Long enough that a loaded machine does not make a connection the
	// daemon did accept time out, which would free its descriptor.
	daemon.SetDialTimeout(t, 2*time.Second)
	socket := sharedSocket(t)
	bin := childBinary(t)
	d := startDaemonAs(t, bin, filepath.Join(t.TempDir(), "keys.db"), socket, uint32(os.Geteuid()), nofile, daemon.Options{})
	ctx := context.Background()

	// Root's connections, which no limit bounds, until the daemon has no
	// descriptor left for the next.
	var held []*daemon.Client
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for {
		c, err := daemon.Dial(ctx, socket)
		if err != nil {
			break
		}
		held = append(held, c)
		if len(held) > nofile {
			t.Fatalf("%d connections to a daemon with %d descriptors", len(held), nofile)
		}
	}
	// One more waits in the listen queue, so that accept goes on failing.
	waiting, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	cpu := processCPU(t, d.cmd.Process.Pid)
	const idle = 2 * time.Second
	time.Sleep(idle)
	if used := processCPU(t, d.cmd.Process.Pid) - cpu; used > idle/10 {
		t.Errorf("the daemon used %v of CPU in %v out of descriptors: it spins", used, idle)
	}

	n := len(held)
	for _, c := range held {
		c.Close()
	}
	held = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := daemon.Dial(ctx, socket)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon serves nobody 10 s after connections closed: %v\n%s", err, d.stderr)
		}
	}
	// The daemon logs the recovery before it serves the connection; the
	// line may still be on its way through the pipe.
	logged, _ := d.stderr.WaitFor(5*time.Second, `msg="daemon: accepting again"`)
	t.Logf("%d connections before the daemon ran out; its log:\n%s", n, logged)
	// Each run of failures is logged as it starts and as it ends: a line
	// at every retry, about ten here, would flood the journal.
	failing := strings.Count(logged, `msg="daemon: accept failing, backing off"`)
	again := strings.Count(logged, `msg="daemon: accepting again"`)
	if failing == 0 || again == 0 || failing > again || !strings.Contains(logged, "too many open files") {
		t.Errorf("failed accepts logged %d times, recovery %d times; want each run logged once as it starts, naming EMFILE, and once as it ends:\n%s", failing, again, logged)
	}
}
