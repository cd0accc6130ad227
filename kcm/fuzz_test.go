//go:build linux

package kcm

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzHandle from seedRequests")

// seedRequests are well-formed requests of every operation, with real
// records from a cache MIT made, for the fuzzer to start from.
func seedRequests(t testing.TB) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ccache", "testdata", "mit", "v4-kvno.cc"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ccache.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	princ, _ := ccache.AppendPrincipal(nil, f.DefaultPrincipal)
	cred, _ := ccache.AppendCredential(nil, &f.Credentials[1])
	server, _ := ccache.AppendPrincipal(nil, f.Credentials[1].Server)
	name := []byte("1000\x00")
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	// A matching credential as MIT's kvno sends it: client and server,
	// zero times and flags.
	mcred := cat(u32(scClient|scServer), princ, server, make([]byte, 16), []byte{0}, u32(0))
	replace := cat(name, u32(0), princ, u32(2), u32(uint32(len(cred))), cred, u32(uint32(len(cred))), cred)
	return map[string][]byte{
		"gen_new":             AppendRequest(nil, OpGenNew, nil)[4:],
		"initialize":          AppendRequest(nil, OpInitialize, cat(name, princ))[4:],
		"store":               AppendRequest(nil, OpStore, cat(name, cred))[4:],
		"retrieve":            AppendRequest(nil, OpRetrieve, cat(name, u32(tcMatchSrvNameOnly), mcred))[4:],
		"get_principal":       AppendRequest(nil, OpGetPrincipal, name)[4:],
		"get_cred_uuid_list":  AppendRequest(nil, OpGetCredUUIDList, name)[4:],
		"get_cred_by_uuid":    AppendRequest(nil, OpGetCredByUUID, cat(name, make([]byte, 16)))[4:],
		"remove_cred":         AppendRequest(nil, OpRemoveCred, cat(name, u32(0), mcred))[4:],
		"get_cache_uuid_list": AppendRequest(nil, OpGetCacheUUIDList, nil)[4:],
		"get_cache_by_uuid":   AppendRequest(nil, OpGetCacheByUUID, make([]byte, 16))[4:],
		"get_default_cache":   AppendRequest(nil, OpGetDefaultCache, nil)[4:],
		"set_default_cache":   AppendRequest(nil, OpSetDefaultCache, name)[4:],
		"get_kdc_offset":      AppendRequest(nil, OpGetKDCOffset, name)[4:],
		"set_kdc_offset":      AppendRequest(nil, OpSetKDCOffset, cat(name, u32(0xfffffff0)))[4:],
		"destroy":             AppendRequest(nil, OpDestroy, name)[4:],
		"get_cred_list":       AppendRequest(nil, OpGetCredList, name)[4:],
		"replace":             AppendRequest(nil, OpReplace, replace)[4:],
		"other_uid":           AppendRequest(nil, OpGetPrincipal, []byte("0\x00"))[4:],
		"bad_version":         {1, 0, 0, 8},
	}
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzHandle in step with seedRequests
// (go test -run TestFuzzSeeds -update-seeds ./kcm rewrites it).
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzHandle")
	for n, req := range seedRequests(t) {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", req)
		path := filepath.Join(dir, n)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is not seedRequests' %q (run with -update-seeds): %v", path, n, err)
		}
	}
}

// FuzzHandle feeds requests to the server's handler, on a real store, as
// uid 1000: whatever the bytes, it must answer with a well-formed reply
// frame and never panic; a request that does not decode must not change
// the store.
func FuzzHandle(f *testing.F) {
	for _, req := range seedRequests(f) {
		f.Add(req)
	}
	store, err := keyring.Open(filepath.Join(f.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		f.Fatal(err)
	}
	srv := NewServer(store, Options{MaxCacheBytes: 1 << 20})
	a := newAccount(store, perms.Cred{UID: 1000, GID: 1000})
	f.Cleanup(func() {
		a.release(context.Background())
		if err := store.Check(); err != nil {
			f.Errorf("store inconsistent after fuzzing: %v", err)
		}
		store.Close()
	})
	f.Fuzz(func(t *testing.T, frame []byte) {
		reply := srv.handle(context.Background(), a, frame)
		if len(reply) < 8 {
			t.Fatalf("a reply of %d bytes", len(reply))
		}
		n := binary.BigEndian.Uint32(reply)
		if int(n) != len(reply)-8 {
			t.Fatalf("reply says %d bytes, has %d", n, len(reply)-8)
		}
		status := binary.BigEndian.Uint32(reply[4:])
		switch {
		case status != 0 && n != 0:
			t.Fatalf("a failure status with a payload of %d bytes", n)
		case status == 0 && n < 4:
			t.Fatalf("a success status with no code")
		}
		if _, err := DecodeRequest(frame); err != nil && status == 0 {
			t.Fatalf("a request that does not decode (%v) was served", err)
		}
	})
}
