//go:build linux

package daemon_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// Requests sent back to back in one write are each answered, in order,
// whatever the replies' sizes: the daemon answers what arrived together
// and writes the replies together.
func TestPipelinedRequests(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	small, err := e.dial(t).Add(ctx, "user", "small", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	bigPayload := bytes.Repeat([]byte("0123456789abcdef"), keyring.MaxUserPayload/16)
	big, err := e.dial(t).Add(ctx, "user", "big", bigPayload, keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}

	c := rawConn(t, e.path)
	const n = 300
	var batch []byte
	for i := range n {
		id := small
		if i%50 == 49 {
			id = big // a reply larger than the daemon's batch bound, now and then
		}
		batch, err = wire.AppendRequest(batch, uint32(i+1), daemon.OpRead, &wire.KeyRequest{ID: int32(id)})
		if err != nil {
			t.Fatal(err)
		}
	}
	go c.Write(batch) // the daemon's replies may fill the socket before this returns
	var buf []byte
	for i := range n {
		var f wire.Frame
		f, buf, err = wire.ReadFrame(c, buf)
		if err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
		var res wire.DataReply
		errno, msg, err := wire.DecodeReply(f.Body, &res)
		if err != nil || errno != 0 {
			t.Fatalf("reply %d: %v %q %v", i+1, errno, msg, err)
		}
		want := []byte("v")
		if i%50 == 49 {
			want = bigPayload
		}
		if f.ID != uint32(i+1) || !bytes.Equal(res.Data, want) {
			t.Fatalf("reply %d: id %d, %d bytes; want id %d, %d bytes", i+1, f.ID, len(res.Data), i+1, len(want))
		}
	}
}

// A request that trickles in a byte at a time, and one as large as a
// big_key's payload, are read whole.
func TestFramesInPieces(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	c := rawConn(t, e.path)
	req, err := wire.AppendRequest(nil, 1, daemon.OpAdd, &wire.AddRequest{Type: "user", Description: "slow", Payload: []byte("trickled"), Ring: int32(keyring.UserKeyring)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range req {
		if _, err := c.Write(req[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	f, errno := readReply(t, c)
	if errno != 0 || f.ID != 1 {
		t.Fatalf("reply to the trickled request: id %d errno %v", f.ID, errno)
	}

	client := e.dial(t)
	payload := bytes.Repeat([]byte{0x5a}, keyring.MaxBigKeyPayload-1) // add_key takes up to 1 MiB - 1
	id, err := client.Add(ctx, "big_key", "large", payload, keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.Read(ctx, id)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("Read of a %d-byte big_key: %d bytes, %v", len(payload), len(got), err)
	}
	if s, err := client.Describe(ctx, id); err != nil || s.Description != "large" {
		t.Fatalf("the connection after a large frame: %+v, %v", s, err)
	}
}

// Clients that hang up right behind their last bytes, a whole request
// whose reply they never read, half a frame, or a request after closing
// their writing side, are all noticed: every connection is torn down,
// and nothing is left running. The hang-up can reach the daemon in the
// same wake-up as the bytes; the daemon must not wait for a second one.
func TestHangUpBehindData(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	owner := e.dial(t)
	key, err := owner.Add(ctx, "user", "k", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	baseline := goleak.IgnoreCurrent()
	req, err := wire.AppendRequest(nil, 1, daemon.OpRead, &wire.KeyRequest{ID: int32(key)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: e.path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // a whole request, then gone
			c.Write(req)
		case 1: // half a request, then gone
			c.Write(req[:len(req)/2])
		case 2: // a request and a half-close, then the reply, then gone
			c.Write(req)
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := wire.ReadFrame(c, nil); err != nil {
				t.Fatalf("reply after a half-close: %v", err)
			}
		}
		c.Close()
	}
	verifyGoroutines(t, baseline)
	if _, err := owner.Describe(ctx, key); err != nil {
		t.Fatalf("daemon stopped serving: %v", err)
	}
}
