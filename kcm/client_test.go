//go:build linux

package kcm_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/kcm"
)

// rawClient speaks KCM as MIT's cc_kcm.c does, to test what the tools
// never send.
type rawClient struct {
	t testing.TB
	c *net.UnixConn
}

func (e *env) dial() *rawClient {
	e.t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: e.sock, Net: "unix"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return &rawClient{t: e.t, c: c}
}

// exchange writes raw bytes and reads one reply: the transport status and
// the payload (the operation's code and its data).
func (r *rawClient) exchange(raw []byte) (status uint32, payload []byte, err error) {
	r.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write(raw); err != nil {
		return 0, nil, err
	}
	var h [8]byte
	if _, err := io.ReadFull(r.c, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > 10<<20 {
		return 0, nil, errors.New("reply too big")
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r.c, payload); err != nil {
		return 0, nil, err
	}
	return binary.BigEndian.Uint32(h[4:]), payload, nil
}

// call sends op with body and returns the reply code and data, failing
// the test on a transport error.
func (r *rawClient) call(op kcm.Op, body []byte) (kcm.Code, []byte) {
	r.t.Helper()
	status, payload, err := r.exchange(kcm.AppendRequest(nil, op, body))
	if err != nil {
		r.t.Fatalf("%v: %v", op, err)
	}
	if status != 0 {
		return kcm.Code(int32(status)), nil
	}
	if len(payload) < 4 {
		r.t.Fatalf("%v: a reply of %d bytes has no code", op, len(payload))
	}
	return kcm.Code(int32(binary.BigEndian.Uint32(payload))), payload[4:]
}

// name is a cache name argument.
func name(s string) []byte { return append([]byte(s), 0) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func credBytes(t testing.TB, c *ccache.Credential) []byte {
	t.Helper()
	b, err := ccache.AppendCredential(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func princBytes(t testing.TB, p ccache.Principal) []byte {
	t.Helper()
	b, err := ccache.AppendPrincipal(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
