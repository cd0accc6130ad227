//go:build linux

package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// Calls made at once on one Client, some given up on half way, each get
// their own answer: whoever reads hands the others theirs, and the turn
// to read passes on.
func TestConcurrentCallsOnOneClient(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	c := e.dial(t)
	const workers = 8
	ids := make([]keyring.Serial, workers)
	payloads := make([][]byte, workers)
	for i := range ids {
		payloads[i] = bytes.Repeat([]byte{byte('a' + i)}, 1+i*500)
		var err error
		ids[i], err = c.Add(ctx, "user", fmt.Sprintf("k%d", i), payloads[i], keyring.UserKeyring)
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range 200 {
				callCtx, cancel := ctx, context.CancelFunc(func() {})
				if i%7 == 3 {
					// Gives up at some point: before writing, while
					// waiting, or never.
					callCtx, cancel = context.WithTimeout(ctx, time.Duration(i%5)*50*time.Microsecond)
				}
				var got []byte
				var err error
				if i%3 == 0 {
					err = c.Update(callCtx, ids[w], payloads[w])
				} else {
					got, err = c.Read(callCtx, ids[w])
				}
				cancel()
				switch {
				case errors.Is(err, context.DeadlineExceeded) && i%7 == 3:
				case err != nil:
					t.Errorf("worker %d call %d: %v", w, i, err)
					return
				case i%3 != 0 && !bytes.Equal(got, payloads[w]):
					t.Errorf("worker %d call %d: read %d bytes of %q, want %d of %q", w, i, len(got), got[:min(len(got), 1)], len(payloads[w]), payloads[w][:1])
					return
				}
			}
		})
	}
	wg.Wait()
	// A call given up on half way leaves the connection as it was, unless
	// its request was cut (then the connection is closed, and says so).
	if _, err := c.Read(ctx, ids[0]); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after the calls: %v", err)
	}
}

// fakeDaemon accepts one connection on a socket of its own and hands it to
// serve, which plays the daemon's part with raw frames. It plays a daemon
// of before daemon.OpPipes: it answers the client's first request, OpPipes,
// EOPNOTSUPP, and the connection stays on the socket.
func fakeDaemon(t *testing.T, serve func(conn net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer conn.Close()
		f, _, err := wire.ReadFrame(conn, nil)
		if err != nil || f.Op != daemon.OpPipes {
			t.Errorf("fake daemon: first frame %v, %v; want %v", f.Op, err, daemon.OpPipes)
			return
		}
		reply, _ := wire.AppendReply(nil, f.ID, f.Op, unix.EOPNOTSUPP, "unknown op", nil)
		if _, err := conn.Write(reply); err != nil {
			t.Errorf("fake daemon: %v", err)
			return
		}
		serve(conn)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return path
}

// readRequest reads a KeyRequest frame; it returns the frame's id and the
// key asked for.
func readRequest(t *testing.T, conn net.Conn) (uint32, int32) {
	t.Helper()
	f, _, err := wire.ReadFrame(conn, nil)
	if err != nil {
		t.Errorf("fake daemon: %v", err)
		return 0, 0
	}
	var req wire.KeyRequest
	if err := wire.Decode(f.Body, &req); err != nil {
		t.Errorf("fake daemon: %v", err)
	}
	return f.ID, req.ID
}

// writeData replies to request id with data.
func writeData(t *testing.T, conn net.Conn, id uint32, data string) {
	t.Helper()
	b, err := wire.AppendReply(nil, id, daemon.OpRead, 0, "", &wire.DataReply{Data: []byte(data)})
	if err == nil {
		_, err = conn.Write(b)
	}
	if err != nil {
		t.Errorf("fake daemon: %v", err)
	}
}

// A call that gives up while it reads its reply leaves the connection
// usable: the late reply is dropped, and the next call gets its own.
func TestCallGivesUpWhileReading(t *testing.T) {
	replied := make(chan struct{})
	path := fakeDaemon(t, func(conn net.Conn) {
		id, _ := readRequest(t, conn)
		<-replied // only once the call has given up
		writeData(t, conn, id, "late")
		id, _ = readRequest(t, conn)
		writeData(t, conn, id, "fresh")
		io.Copy(io.Discard, conn) // until the client closes
	})
	c := dialAndGiveUpOnARead(t, path)
	close(replied)
	got, err := c.Read(context.Background(), 2)
	if err != nil || string(got) != "fresh" {
		t.Fatalf("next Read = %q, %v; want \"fresh\"", got, err)
	}
}

// Replies go to the calls they answer, by id, whichever call is reading
// and in whatever order they come.
func TestRepliesReachTheirCalls(t *testing.T) {
	path := fakeDaemon(t, func(conn net.Conn) {
		// Both requests first, then the replies backwards.
		id1, key1 := readRequest(t, conn)
		id2, key2 := readRequest(t, conn)
		writeData(t, conn, id2, fmt.Sprint(key2))
		time.Sleep(10 * time.Millisecond) // let the second call finish first
		writeData(t, conn, id1, fmt.Sprint(key1))
		io.Copy(io.Discard, conn) // until the client closes
	})
	c, err := daemon.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	for key := range keyring.Serial(2) {
		wg.Go(func() {
			got, err := c.Read(context.Background(), key+1)
			if err != nil || string(got) != fmt.Sprint(key+1) {
				t.Errorf("Read(%d) = %q, %v", key+1, got, err)
			}
		})
	}
	wg.Wait()
}

// A request too large for the socket to take at once goes out whole, and
// its reply comes back, once the daemon reads.
func TestRequestLargerThanTheSocket(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<20/16) // over the socket's buffer
	path := fakeDaemon(t, func(conn net.Conn) {
		time.Sleep(20 * time.Millisecond) // let the socket fill
		f, _, err := wire.ReadFrame(conn, nil)
		if err != nil {
			t.Errorf("fake daemon: %v", err)
			return
		}
		var req wire.UpdateRequest
		if err := wire.Decode(f.Body, &req); err != nil || !bytes.Equal(req.Payload, payload) {
			t.Errorf("fake daemon: %d bytes of payload, %v", len(req.Payload), err)
		}
		b, _ := wire.AppendReply(nil, f.ID, f.Op, 0, "", &wire.Empty{})
		conn.Write(b)
		io.Copy(io.Discard, conn) // until the client closes
	})
	c, err := daemon.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Update(context.Background(), 1, payload); err != nil {
		t.Fatal(err)
	}
}

// Calls on one Client that send and fetch more than the socket holds, at
// once, all finish: no call waits to write while it keeps the others from
// reading the replies the daemon is waiting to write.
func TestBulkCallsOnOneClient(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := e.dial(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), (keyring.MaxBigKeyPayload-1)/16)
	id, err := c.Add(ctx, "big_key", "bulk", big, keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 6 {
				if (w+i)%2 == 0 {
					// Adding the same description again updates the key.
					if _, err := c.Add(ctx, "big_key", "bulk", big, keyring.UserKeyring); err != nil {
						t.Errorf("Add: %v", err)
						return
					}
					continue
				}
				got, err := c.Read(ctx, id)
				if err != nil || len(got) != len(big) {
					t.Errorf("Read: %d bytes, %v", len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A request larger than the socket holds goes out even while the daemon
// is stuck writing a large reply to a call that gave up: the reply is
// read, and dropped, while the request waits for room.
func TestLateReplyDoesNotBlockWrites(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<20/16) // over the socket's buffer
	gaveUp := make(chan struct{})
	path := fakeDaemon(t, func(conn net.Conn) {
		id, _ := readRequest(t, conn)
		<-gaveUp
		// Written before the next request is read, as the daemon does.
		writeData(t, conn, id, string(payload))
		f, _, err := wire.ReadFrame(conn, nil)
		if err != nil {
			t.Errorf("fake daemon: %v", err)
			return
		}
		b, _ := wire.AppendReply(nil, f.ID, f.Op, 0, "", &wire.Empty{})
		conn.Write(b)
		io.Copy(io.Discard, conn) // until the client closes
	})
	c := dialAndGiveUpOnARead(t, path)
	close(gaveUp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Update(ctx, 1, payload); err != nil {
		t.Fatalf("Update behind the late reply: %v", err)
	}
}

// dialAndGiveUpOnARead connects to the fake daemon at path and makes a
// Read of key 1 that gives up after 20 ms, as no reply comes; the
// connection is closed when the test ends.
func dialAndGiveUpOnARead(t *testing.T, path string) *daemon.Client {
	t.Helper()
	c, err := daemon.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Read(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with no reply coming = %v, want context.DeadlineExceeded", err)
	}
	return c
}
