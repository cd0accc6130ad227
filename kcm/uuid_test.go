//go:build linux

package kcm_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/kcm"
)

// uuids asks for a UUID list and fails on anything but success.
func (r *rawClient) uuids(op kcm.Op, body []byte) [][]byte {
	r.t.Helper()
	code, data := r.call(op, body)
	if code != kcm.CodeOK || len(data)%16 != 0 {
		r.t.Fatalf("%v: %v with %d bytes", op, code, len(data))
	}
	var l [][]byte
	for ; len(data) > 0; data = data[16:] {
		l = append(l, data[:16])
	}
	return l
}

// TestUUIDsStableAndPersistent: a cache's UUID stays through kvno's STORE
// and kinit -R's REPLACE and names it (GET_CACHE_BY_UUID); credential
// UUIDs stay through a restart, and each names its credential.
func TestUUIDsStableAndPersistent(t *testing.T) {
	e := newEnv(t, kcm.Options{})
	e.kinit(nil, "alice", "-r", "2d")
	c := e.dial()
	first := c.uuids(kcm.OpGetCacheUUIDList, nil)
	if len(first) != 1 {
		t.Fatalf("%d cache UUIDs for one cache", len(first))
	}
	e.run("kvno", "host/svc.test.local")
	time.Sleep(1100 * time.Millisecond)
	e.run("kinit", "-R")
	if again := c.uuids(kcm.OpGetCacheUUIDList, nil); len(again) != 1 || !bytes.Equal(again[0], first[0]) {
		t.Fatalf("the cache's UUID changed through kvno and kinit -R: %x, then %x", first, again)
	}
	if code, name := c.call(kcm.OpGetCacheByUUID, first[0]); code != kcm.CodeOK || string(name) != "0\x00" {
		t.Fatalf("GET_CACHE_BY_UUID: %v %q", code, name)
	}
	e.run("kvno", "host/svc.test.local")
	creds := c.uuids(kcm.OpGetCredUUIDList, name("0"))
	var recs [][]byte
	for _, u := range creds {
		code, rec := c.call(kcm.OpGetCredByUUID, cat(name("0"), u))
		if code != kcm.CodeOK {
			t.Fatalf("GET_CRED_BY_UUID %x: %v", u, code)
		}
		recs = append(recs, rec)
	}

	e.restart()
	c = e.dial()
	if again := c.uuids(kcm.OpGetCacheUUIDList, nil); len(again) != 1 || !bytes.Equal(again[0], first[0]) {
		t.Fatalf("the cache's UUID after a restart: %x, was %x", again, first)
	}
	after := c.uuids(kcm.OpGetCredUUIDList, name("0"))
	if len(after) != len(creds) {
		t.Fatalf("%d credential UUIDs after the restart, %d before", len(after), len(creds))
	}
	for i, u := range after {
		if !bytes.Equal(u, creds[i]) {
			t.Fatalf("credential %d's UUID changed across the restart", i)
		}
		if code, rec := c.call(kcm.OpGetCredByUUID, cat(name("0"), u)); code != kcm.CodeOK || !bytes.Equal(rec, recs[i]) {
			t.Fatalf("credential %d by UUID after the restart: %v", i, code)
		}
	}
	if code, _ := c.call(kcm.OpGetCredByUUID, cat(name("0"), make([]byte, 16))); code != kcm.CodeEnd {
		t.Fatalf("GET_CRED_BY_UUID of an unknown UUID: %v, want %v", code, kcm.CodeEnd)
	}
}
