//go:build linux

package daemon

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// pipeServer serves a fresh store on a socket for one test.
func pipeServer(t *testing.T) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sock")
	srv, err := Listen(path, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		<-served
		store.Close()
	})
	return srv, path
}

// connections is how many connections srv is serving.
func connections(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// isPipe says whether s is a pipe.
func isPipe(t *testing.T, s stream) bool {
	t.Helper()
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()&os.ModeNamedPipe != 0
}

// A client that dials moves onto pipes, and on them adds, reads, watches
// and hears its records; one that stays on the socket does the same
// there.
func TestClientOnPipesAndOnSocket(t *testing.T) {
	_, path := pipeServer(t)
	for _, usePipes := range []bool{true, false} {
		ctx := context.Background()
		c, err := dial(ctx, path, usePipes)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.piped != usePipes || isPipe(t, c.in) != usePipes || isPipe(t, c.out) != usePipes {
			t.Fatalf("asked for pipes %v: on pipes %v (in %T, out %T)", usePipes, c.piped, c.in, c.out)
		}
		id, err := c.Add(ctx, "user", "k", []byte("v1"), keyring.UserKeyring)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Watch(ctx, id, 7); err != nil {
			t.Fatal(err)
		}
		if err := c.Update(ctx, id, []byte("v2")); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Read(ctx, id); err != nil || string(got) != "v2" {
			t.Fatalf("read %q, %v", got, err)
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		for rec, err := range c.Records(rctx) {
			if err != nil {
				t.Fatalf("pipes %v: records: %v", usePipes, err)
			}
			if k, ok := rec.(watchqueue.KeyNotification); ok && k.Subtype == watchqueue.KeyUpdated && k.KeyID == uint32(id) {
				break
			}
		}
		cancel()
	}
}

// rawRequest encodes a request frame.
func rawRequest(t *testing.T, id uint32, op wire.Op, m wire.Message) []byte {
	t.Helper()
	b, err := wire.AppendRequest(nil, id, op, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OpPipes is honoured only as a connection's first request, alone on the
// socket: otherwise a request could be left behind on the socket, or
// answered out of order. The daemon answers EPROTO, sends no pipes, and
// hangs up.
func TestPipesOnlyFirstAndAlone(t *testing.T) {
	_, path := pipeServer(t)
	cases := map[string]func(t *testing.T, uc *net.UnixConn){
		"after a request": func(t *testing.T, uc *net.UnixConn) {
			if _, err := uc.Write(rawRequest(t, 1, opRead.code, &wire.KeyRequest{ID: 12345})); err != nil {
				t.Fatal(err)
			}
			f, _, err := wire.ReadFrame(uc, nil)
			if err != nil || f.ID != 1 {
				t.Fatalf("reply to the read: %+v, %v", f, err)
			}
			if _, err := uc.Write(rawRequest(t, 2, opPipes.code, &wire.Empty{})); err != nil {
				t.Fatal(err)
			}
		},
		"with a request behind it": func(t *testing.T, uc *net.UnixConn) {
			b := rawRequest(t, 2, opPipes.code, &wire.Empty{})
			b = append(b, rawRequest(t, 3, opRead.code, &wire.KeyRequest{ID: 12345})...)
			if _, err := uc.Write(b); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			uc := nc.(*net.UnixConn)
			defer uc.Close()
			uc.SetDeadline(time.Now().Add(5 * time.Second))
			send(t, uc)
			// The reply, and anything passed with it: then the hang-up.
			var got []byte
			oob := make([]byte, unix.CmsgSpace(2*4))
			for {
				buf := make([]byte, 4096)
				n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
				if oobn != 0 {
					t.Fatal("descriptors sent with the refusal")
				}
				got = append(got, buf[:n]...)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d bytes: %v; want the daemon to hang up", len(got), err)
				}
			}
			f, m, err := wire.DecodeFrame(got)
			if err != nil || m != len(got) || f.ID != 2 {
				t.Fatalf("reply %+v (%d of %d bytes), %v; want one, to request 2", f, m, len(got), err)
			}
			errno, msg, err := wire.DecodeReply(f.Body, &wire.Empty{})
			if err != nil || errno != unix.EPROTO {
				t.Fatalf("errno %v (%q), %v; want EPROTO", errno, msg, err)
			}
		})
	}
}

// A client on pipes that hangs up its socket, keeping its pipes open, is
// gone as far as the daemon is concerned: the connection ends, and its
// watches and process with it. So does one whose process dies, however
// the kernel orders the closing of its descriptors.
func TestSocketHangUpEndsPipedConnection(t *testing.T) {
	srv, path := pipeServer(t)
	ctx := context.Background()
	c, err := dial(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	if n := connections(srv); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	c.c.Close() // the socket only
	deadline := time.Now().Add(5 * time.Second)
	for connections(srv) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection outlived its socket's hang-up")
		}
		time.Sleep(time.Millisecond)
	}
}
