//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// Accept waits in accept(2) until a connection comes or ctx ends; then it
// returns ctx's error at once, without the listener being closed, so that
// a server's Close is not held up by its Serve loop.
func TestGateAcceptEndsWithContext(t *testing.T) {
	ln, err := daemon.ListenSocket(filepath.Join(t.TempDir(), "socket"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := daemon.NewGate(daemon.GateOptions{Private: true})

	ctx, cancel := context.WithCancel(context.Background())
	accepted := make(chan error, 1)
	go func() {
		c, p, err := g.Accept(ctx, ln)
		if err == nil {
			c.Close()
			g.Release(p)
		}
		accepted <- err
	}()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("Accept of this process's own connection: %v", err)
	}

	go func() {
		_, _, err := g.Accept(ctx, ln)
		accepted <- err
	}()
	time.Sleep(50 * time.Millisecond) // into accept(2)
	cancel()
	select {
	case err := <-accepted:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Accept after its context ended: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waiting 5 s after its context ended")
	}
}
