//go:build linux

package kcm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// BenchmarkHandle1000 is the server's own cost, without MIT's tools, for a
// cache of 1,000 service tickets: a STORE of one more (one transaction
// that also recomputes the cache's expiry and size) and a GET_CRED_LIST
// (what klist asks). The exec'd benchmarks measure what users wait for.
func BenchmarkHandle1000(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "ccache", "testdata", "mit", "v4-kvno.cc"))
	if err != nil {
		b.Fatal(err)
	}
	f, _ := ccache.Parse(raw)
	store, err := keyring.Open(filepath.Join(b.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	srv := NewServer(store, Options{})
	a := newAccount(store, perms.Cred{UID: 1000, GID: 1000})
	defer a.release(context.Background())
	svc := f.Credentials[2]
	big := &ccache.File{Version: ccache.Version4, DefaultPrincipal: f.DefaultPrincipal, Credentials: []ccache.Credential{f.Credentials[0], f.Credentials[1]}}
	for i := range 1000 {
		c := svc
		c.Server = ccache.Principal{NameType: 1, Realm: "TEST.LOCAL", Components: []string{fmt.Sprintf("svc%d", i), "x"}}
		big.Credentials = append(big.Credentials, c)
	}
	body := append([]byte("1000\x00"), 0, 0, 0, 0)
	body, _ = ccache.AppendPrincipal(body, f.DefaultPrincipal)
	body = append(body, byte(len(big.Credentials)>>24), byte(len(big.Credentials)>>16), byte(len(big.Credentials)>>8), byte(len(big.Credentials)))
	for i := range big.Credentials {
		c, _ := ccache.AppendCredential(nil, &big.Credentials[i])
		body = append(body, byte(len(c)>>24), byte(len(c)>>16), byte(len(c)>>8), byte(len(c)))
		body = append(body, c...)
	}
	rep := srv.handle(context.Background(), a, AppendRequest(nil, OpReplace, body)[4:])
	if rep[11] != 0 {
		b.Fatalf("replace: % x", rep[:12])
	}
	c := svc
	c.Server = ccache.Principal{NameType: 1, Realm: "TEST.LOCAL", Components: []string{"new", "x"}}
	cb, _ := ccache.AppendCredential([]byte("1000\x00"), &c)
	storeReq := AppendRequest(nil, OpStore, cb)[4:]
	list := AppendRequest(nil, OpGetCredList, []byte("1000\x00"))[4:]
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			srv.handle(context.Background(), a, storeReq)
		}
	})
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			srv.handle(context.Background(), a, list)
		}
	})
}
