//go:build linux

package krb5ring_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/krb5ring"
)

// TestRecordsAndTimeOffset: Records gives each credential's key and its
// FILE record byte for byte, in order; a renewal through a Process keeps
// the cache keyring's serial; the time offset reads and writes in place.
func TestRecordsAndTimeOffset(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, f := golden(t, "v4-kvno.cc")
	col := e.open(t, "KEYRING:persistent:1000")
	k := col.Cache("1000")
	if err := k.Replace(ctx, f); err != nil {
		t.Fatal(err)
	}
	ring, err := k.Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := k.Records(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(f.Credentials) {
		t.Fatalf("%d records, want %d", len(recs), len(f.Credentials))
	}
	for i, r := range recs {
		want, err := ccache.AppendCredential(nil, &f.Credentials[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Data, want) {
			t.Errorf("record %d is not the FILE record", i+1)
		}
		if d, err := e.p.Describe(ctx, r.Key); err != nil || d.Description != f.Credentials[i].Server.String() {
			t.Errorf("record %d's key is %v (%v)", i+1, d, err)
		}
	}
	o, ok, err := k.TimeOffset(ctx)
	if err != nil || !ok || o != (krb5ring.TimeOffset{}) {
		t.Fatalf("TimeOffset = %v, %v, %v; want zero, true", o, ok, err)
	}
	if err := k.SetTimeOffset(ctx, krb5ring.TimeOffset{Seconds: -7}); err != nil {
		t.Fatal(err)
	}
	if o, ok, _ := k.TimeOffset(ctx); !ok || o.Seconds != -7 {
		t.Fatalf("after SetTimeOffset(-7): %v, %v", o, ok)
	}

	if err := k.Replace(ctx, f); err != nil {
		t.Fatal(err)
	}
	if again, err := k.Keyring(ctx); err != nil || again != ring {
		t.Fatalf("the cache keyring is %v after a renewal through a Process, was %v (%v)", again, ring, err)
	}
	if o, _, _ := k.TimeOffset(ctx); o.Seconds != 0 {
		t.Fatalf("a renewal kept the old offset %v", o)
	}

	missing := col.Cache("1000:nothing")
	if _, _, err := missing.TimeOffset(ctx); !errors.Is(err, krb5ring.ErrNotFound) {
		t.Fatalf("TimeOffset of a missing cache: %v", err)
	}
	if err := missing.SetTimeOffset(ctx, krb5ring.TimeOffset{}); !errors.Is(err, krb5ring.ErrNotFound) {
		t.Fatalf("SetTimeOffset of a missing cache: %v", err)
	}
}
