//go:build linux

package kcm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/kcm"
)

// snapshot is uid 0's whole collection as the store has it: each cache
// exported, in order, with the primary's name.
func (e *env) snapshot(t *testing.T) string {
	t.Helper()
	col := e.collection(0)
	primary, err := col.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	caches, err := col.Caches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("primary " + primary + "\n")
	for _, k := range caches {
		f, err := k.Export(ctx)
		if err != nil {
			b.WriteString(k.Name().String() + ": " + err.Error() + "\n")
			continue
		}
		raw, err := f.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(k.Name().String() + " " + string(raw) + "\n")
	}
	return b.String()
}

// aliceTGT is the TGT in uid 0's default cache.
func (e *env) aliceCreds(t *testing.T) *ccache.File {
	t.Helper()
	f, err := e.collection(0).Cache("0").Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestProtocolLimits: past the limits the client gets sssd-kcm's code for
// STORE and for a new cache, KRB5_CC_WRITE for a REPLACE too big (see
// replace), and the collection is as it was.
func TestProtocolLimits(t *testing.T) {
	e := newEnv(t, kcm.Options{MaxCacheBytes: 2000, MaxCaches: 1})
	e.kinit(nil, "alice")
	f := e.aliceCreds(t)
	before := e.snapshot(t)
	c := e.dial()

	big := f.Credentials[len(f.Credentials)-1]
	big.Server = ccache.Principal{NameType: 1, Realm: "TEST.LOCAL", Components: []string{"big", "svc"}}
	big.Ticket = bytes.Repeat([]byte{0x61}, 1500)
	if code, _ := c.call(kcm.OpStore, cat(name("0"), credBytes(t, &big))); code != kcm.CodeInternal {
		t.Fatalf("STORE past the byte limit: %v, want %v", code, kcm.CodeInternal)
	}
	replace := cat(name("0"), u32(0), princBytes(t, f.DefaultPrincipal), u32(1), u32(uint32(len(credBytes(t, &big)))), credBytes(t, &big))
	big.Ticket = bytes.Repeat([]byte{0x61}, 2500)
	tooBig := cat(name("0"), u32(0), princBytes(t, f.DefaultPrincipal), u32(1), u32(uint32(len(credBytes(t, &big)))), credBytes(t, &big))
	if code, _ := c.call(kcm.OpReplace, tooBig); code != kcm.CodeWrite {
		t.Fatalf("REPLACE past the byte limit: %v, want %v", code, kcm.CodeWrite)
	}
	if code, _ := c.call(kcm.OpInitialize, cat(name("0:12345"), princBytes(t, f.DefaultPrincipal))); code != kcm.CodeInternal {
		t.Fatalf("INITIALIZE of a cache past the cache limit: %v, want %v", code, kcm.CodeInternal)
	}
	if code, _ := c.call(kcm.OpReplace, cat(name("0:12345"), replace[len(name("0")):])); code != kcm.CodeInternal {
		t.Fatalf("REPLACE into a new cache past the cache limit: %v, want %v", code, kcm.CodeInternal)
	}
	if after := e.snapshot(t); after != before {
		t.Fatal("a refused request changed the collection")
	}
	// Within the limits the same requests work.
	if code, _ := c.call(kcm.OpReplace, replace); code != kcm.CodeOK {
		t.Fatalf("REPLACE within the limit: %v", code)
	}
}

// TestMalformedRequests: requests MIT never sends get an error reply, or
// for one longer than the limit a closed connection; none changes
// anything, and the server goes on serving on the same connection.
func TestMalformedRequests(t *testing.T) {
	e := newEnv(t, kcm.Options{MaxRequestSize: 64 << 10})
	e.kinit(nil, "alice")
	e.run("kvno", "host/svc.test.local")
	f := e.aliceCreds(t)
	before := e.snapshot(t)
	cred := credBytes(t, &f.Credentials[1])
	princ := princBytes(t, f.DefaultPrincipal)
	frame := func(major, minor byte, op uint16, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
		b = append(b, major, minor)
		b = binary.BigEndian.AppendUint16(b, op)
		return append(b, body...)
	}
	for _, c := range []struct {
		what   string
		raw    []byte
		status kcm.Code // the transport status, for what is no request at all
		code   kcm.Code
	}{
		{"empty frame", []byte{0, 0, 0, 0}, kcm.CodeIO, 0},
		{"header cut short", []byte{0, 0, 0, 2, 2, 0}, kcm.CodeIO, 0},
		{"protocol 1.0", frame(1, 0, uint16(kcm.OpGetDefaultCache), nil), kcm.CodeIO, 0},
		{"protocol 2.1", frame(2, 1, uint16(kcm.OpGetDefaultCache), nil), kcm.CodeIO, 0},
		{"unknown operation", frame(2, 0, 999, nil), 0, kcm.CodeUnsupported},
		{"NOOP", frame(2, 0, uint16(kcm.OpNoop), nil), 0, kcm.CodeUnsupported},
		{"name without NUL", frame(2, 0, uint16(kcm.OpGetPrincipal), []byte("0")), 0, kcm.CodeIO},
		{"bytes after the name", frame(2, 0, uint16(kcm.OpGetPrincipal), cat(name("0"), []byte{1})), 0, kcm.CodeIO},
		{"empty name", frame(2, 0, uint16(kcm.OpGetPrincipal), name("")), 0, kcm.CodeBadName},
		{"INITIALIZE, principal cut short", frame(2, 0, uint16(kcm.OpInitialize), cat(name("0"), princ[:len(princ)-3])), 0, kcm.CodeIO},
		{"INITIALIZE, principal with 2^32-1 components", frame(2, 0, uint16(kcm.OpInitialize), cat(name("0"), u32(1), u32(0xffffffff))), 0, kcm.CodeIO},
		{"STORE, credential cut short", frame(2, 0, uint16(kcm.OpStore), cat(name("0"), cred[:len(cred)/2])), 0, kcm.CodeIO},
		{"STORE, credential and garbage", frame(2, 0, uint16(kcm.OpStore), cat(name("0"), cred, []byte{0})), 0, kcm.CodeIO},
		{"REPLACE, count past the bytes", frame(2, 0, uint16(kcm.OpReplace), cat(name("0"), u32(0), princ, u32(1000000))), 0, kcm.CodeIO},
		{"REPLACE, length past the bytes", frame(2, 0, uint16(kcm.OpReplace), cat(name("0"), u32(0), princ, u32(1), u32(uint32(len(cred)+1)), cred)), 0, kcm.CodeIO},
		{"REPLACE, second credential cut short", frame(2, 0, uint16(kcm.OpReplace), cat(name("0"), u32(0), princ, u32(2), u32(uint32(len(cred))), cred, u32(uint32(len(cred))), cred[:10])), 0, kcm.CodeIO},
		{"REPLACE, credential shorter than its length", frame(2, 0, uint16(kcm.OpReplace), cat(name("0"), u32(0), princ, u32(1), u32(uint32(len(cred)+4)), cred, u32(0))), 0, kcm.CodeIO},
		{"RETRIEVE, no flags", frame(2, 0, uint16(kcm.OpRetrieve), name("0")), 0, kcm.CodeIO},
		{"RETRIEVE, matching credential cut short", frame(2, 0, uint16(kcm.OpRetrieve), cat(name("0"), u32(0), u32(3), princ)), 0, kcm.CodeIO},
		{"REMOVE_CRED, matching credential cut short", frame(2, 0, uint16(kcm.OpRemoveCred), cat(name("0"), u32(0), u32(2), princ[:5])), 0, kcm.CodeIO},
		{"GET_CRED_BY_UUID, UUID cut short", frame(2, 0, uint16(kcm.OpGetCredByUUID), cat(name("0"), make([]byte, 15))), 0, kcm.CodeIO},
		{"GET_CACHE_BY_UUID, no UUID", frame(2, 0, uint16(kcm.OpGetCacheByUUID), nil), 0, kcm.CodeIO},
		{"SET_KDC_OFFSET, offset cut short", frame(2, 0, uint16(kcm.OpSetKDCOffset), cat(name("0"), []byte{0, 0})), 0, kcm.CodeIO},
		{"DESTROY of a name with another uid", frame(2, 0, uint16(kcm.OpDestroy), name("1000")), 0, kcm.CodeNoFile},
		{"INITIALIZE of a name with another uid", frame(2, 0, uint16(kcm.OpInitialize), cat(name("1000:1"), princ)), 0, kcm.CodeInternal},
		{"SET_DEFAULT_CACHE of a cache that is not there", frame(2, 0, uint16(kcm.OpSetDefaultCache), name("0:nothing")), 0, kcm.CodeInternal},
		{"STORE into a cache that is not there", frame(2, 0, uint16(kcm.OpStore), cat(name("0:nothing"), cred)), 0, kcm.CodeNoFile},
	} {
		cl := e.dial()
		status, payload, err := cl.exchange(c.raw)
		if err != nil {
			t.Errorf("%s: %v", c.what, err)
			continue
		}
		if kcm.Code(int32(status)) != c.status {
			t.Errorf("%s: status %v, want %v", c.what, kcm.Code(int32(status)), c.status)
			continue
		}
		if c.status == 0 {
			if len(payload) < 4 {
				t.Errorf("%s: payload of %d bytes", c.what, len(payload))
				continue
			}
			if code := kcm.Code(int32(binary.BigEndian.Uint32(payload))); code != c.code || len(payload) != 4 {
				t.Errorf("%s: code %v with %d bytes, want %v alone", c.what, code, len(payload)-4, c.code)
			}
		}
		// The connection goes on.
		if code, data := cl.call(kcm.OpGetDefaultCache, nil); code != kcm.CodeOK || string(data) != "0\x00" {
			t.Errorf("%s: then GET_DEFAULT_CACHE: %v %q", c.what, code, data)
		}
	}

	// Longer than the limit: refused, and the connection closed unread.
	cl := e.dial()
	status, _, err := cl.exchange(binary.BigEndian.AppendUint32(nil, 64<<10+1))
	if err != nil || kcm.Code(int32(status)) != kcm.CodeIO {
		t.Fatalf("an oversized request: status %v, %v", kcm.Code(int32(status)), err)
	}
	if _, _, err := cl.exchange(kcm.AppendRequest(nil, kcm.OpGetDefaultCache, nil)); err == nil {
		t.Fatal("the connection goes on after an oversized request")
	}
	// A client that stops in the middle of a request holds up no one.
	stuck := e.dial()
	stuck.c.Write([]byte{0, 0, 1, 0, 2, 0})
	if out := e.run("klist"); !strings.Contains(out, "alice@TEST.LOCAL") {
		t.Fatalf("klist while a client is stuck:\n%s", out)
	}
	if after := e.snapshot(t); after != before {
		t.Fatal("malformed requests changed the collection")
	}
}

// TestIdleConnectionsClose: a connection that sends nothing, or stops in
// the middle of a request, is closed after IdleTimeout; MIT's tools,
// which reconnect, do not notice.
func TestIdleConnectionsClose(t *testing.T) {
	e := newEnv(t, kcm.Options{IdleTimeout: 200 * time.Millisecond})
	e.kinit(nil, "alice")
	idle, partial := e.dial(), e.dial()
	partial.c.Write([]byte{0, 0, 0, 8, 2, 0})
	time.Sleep(600 * time.Millisecond)
	for _, c := range []*rawClient{idle, partial} {
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("an idle connection: read %d bytes, %v; want EOF, closed by the server", n, err)
		}
	}
	if out := e.run("klist"); !strings.Contains(out, "alice@TEST.LOCAL") {
		t.Fatalf("klist:\n%s", out)
	}
}
