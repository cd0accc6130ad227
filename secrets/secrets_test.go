//go:build linux

package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/secrets"
)

func TestSetGetDelete(t *testing.T) {
	modes(t, func(t *testing.T, _ *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		if _, err := st.Get(ctx, "github.com", "alice"); !errors.Is(err, secrets.ErrNotFound) || !errors.Is(err, unix.ENOKEY) {
			t.Fatalf("Get before Set: %v, want ErrNotFound (ENOKEY)", err)
		}
		if err := st.Set(ctx, "github.com", "alice", []byte("token-1")); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Get(ctx, "github.com", "alice"); err != nil || string(got) != "token-1" {
			t.Fatalf("Get: %q, %v", got, err)
		}
		if err := st.Set(ctx, "github.com", "alice", []byte("token-2")); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Get(ctx, "github.com", "alice"); string(got) != "token-2" {
			t.Errorf("Get after the second Set: %q", got)
		}
		if err := st.Set(ctx, "github.com", "bob", []byte("b")); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "gitlab.com", "alice", []byte("g")); err != nil {
			t.Fatal(err)
		}
		items, err := st.List(ctx, "github.com")
		if err != nil {
			t.Fatal(err)
		}
		if got := accounts(items); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("List: %q", got)
		}
		for _, it := range items {
			if it.Secret != nil {
				t.Errorf("List gave %s's secret", it.Account)
			}
		}
		if svcs, err := st.Services(ctx); err != nil || !slices.Equal(svcs, []string{"github.com", "gitlab.com"}) {
			t.Errorf("Services: %q, %v", svcs, err)
		}
		if err := st.Delete(ctx, "github.com", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "github.com", "alice"); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("Get after Delete: %v", err)
		}
		if err := st.Delete(ctx, "github.com", "alice"); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("second Delete: %v", err)
		}
		if got, _ := st.Get(ctx, "github.com", "bob"); string(got) != "b" {
			t.Errorf("bob's secret after alice's went: %q", got)
		}
		if err := st.DeleteService(ctx, "github.com"); err != nil {
			t.Fatal(err)
		}
		if items, err := st.List(ctx, "github.com"); err != nil || len(items) != 0 {
			t.Errorf("List of a deleted service: %v, %v", items, err)
		}
		if got, _ := st.Get(ctx, "gitlab.com", "alice"); string(got) != "g" {
			t.Errorf("another service after DeleteService: %q", got)
		}
	})
}

func accounts(items []secrets.Item) []string {
	var names []string
	for _, it := range items {
		names = append(names, it.Account)
	}
	return names
}

func TestPutKeepsWhatDescribesTheItem(t *testing.T) {
	modes(t, func(t *testing.T, _ *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		st := secrets.New(c, secrets.Options{Now: func() time.Time { return clock }})
		attrs := map[string]string{"username": "alice", "server": "imap.example.com", "port": "993"}
		err := st.Put(ctx, secrets.Item{Service: "mail", Account: "alice@imap", Label: "Mail for alice", Attributes: attrs, ContentType: "application/octet-stream", Secret: []byte{0, 1, 2}})
		if err != nil {
			t.Fatal(err)
		}
		attrs["port"] = "changed after Put" // the store has its own copy
		clock = clock.Add(time.Hour)
		if err := st.Set(ctx, "mail", "alice@imap", []byte("new")); err != nil {
			t.Fatal(err)
		}
		it, err := st.Lookup(ctx, "mail", "alice@imap")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"username": "alice", "server": "imap.example.com", "port": "993"}
		if it.Label != "Mail for alice" || !maps.Equal(it.Attributes, want) || it.ContentType != "application/octet-stream" || string(it.Secret) != "new" {
			t.Errorf("after Set: %+v", it)
		}
		if !it.Created.Equal(clock.Add(-time.Hour)) || !it.Modified.Equal(clock) {
			t.Errorf("Created %v, Modified %v; want the first Put's time and the Set's", it.Created, it.Modified)
		}

		// Find matches every pair asked for.
		st.Put(ctx, secrets.Item{Service: "mail", Account: "bob@imap", Attributes: map[string]string{"username": "bob", "server": "imap.example.com"}, Secret: []byte("b")})
		for _, tc := range []struct {
			attrs map[string]string
			want  []string
		}{
			{nil, []string{"alice@imap", "bob@imap"}},
			{map[string]string{"server": "imap.example.com"}, []string{"alice@imap", "bob@imap"}},
			{map[string]string{"server": "imap.example.com", "username": "bob"}, []string{"bob@imap"}},
			{map[string]string{"port": "993"}, []string{"alice@imap"}},
			{map[string]string{"port": ""}, nil},
			{map[string]string{"nothing": "x"}, nil},
		} {
			items, err := st.Find(ctx, "mail", tc.attrs)
			if err != nil || !slices.Equal(accounts(items), tc.want) {
				t.Errorf("Find %v: %q, %v; want %q", tc.attrs, accounts(items), err, tc.want)
			}
		}
	})
}

// The secret never shows in print or logs, even inside an Item.
func TestSecretRedacts(t *testing.T) {
	it := secrets.Item{Service: "s", Account: "a", Secret: secrets.Secret("hunter2")}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if s := fmt.Sprintf(f, it); strings.Contains(s, "hunter2") || strings.Contains(s, "68756e74657232") {
			t.Errorf("%s shows the secret: %s", f, s)
		}
	}
}

func TestBadNamesChangeNothing(t *testing.T) {
	modes(t, func(t *testing.T, _ *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		long := strings.Repeat("x", secrets.MaxNameLen+1)
		for _, tc := range []struct{ service, account string }{
			{"", "a"}, {"s", ""}, {".s", "a"}, {long, "a"}, {"s", long}, {"s\xff", "a"}, {"s", "a\xff"},
		} {
			err := st.Set(ctx, tc.service, tc.account, []byte("x"))
			if !errors.Is(err, secrets.ErrInvalid) || !errors.Is(err, unix.EINVAL) {
				t.Errorf("Set %q %q: %v, want ErrInvalid", tc.service, tc.account, err)
			}
		}
		err := st.Put(ctx, secrets.Item{Service: "s", Account: "a", Label: "\xff", Secret: []byte("x")})
		if !errors.Is(err, secrets.ErrInvalid) {
			t.Errorf("a label that is not UTF-8: %v", err)
		}
		err = st.Put(ctx, secrets.Item{Service: "s", Account: "a", Secret: make([]byte, secrets.MaxItemLen)})
		if !errors.Is(err, secrets.ErrInvalid) || !strings.Contains(err.Error(), "limit 1048576") {
			t.Errorf("a secret of MaxItemLen bytes (no room for the record): %v", err)
		}
		if svcs, err := st.Services(ctx); err != nil || len(svcs) != 0 {
			t.Errorf("after refusals, services %q, %v", svcs, err)
		}
	})
}

// The kernel's defaults no longer bite: a secret of 30 KB, and nearly 200
// small ones, fit in the default quota of a user who is not root.
func TestDefaultQuotaHoldsSecrets(t *testing.T) {
	store := openStore(t, keyring.Options{})
	st := secrets.New(process(t, store, alice), secrets.Options{})
	ctx := context.Background()
	big := bytes.Repeat([]byte("b"), 30_000)
	if err := st.Set(ctx, "big", "one", big); err != nil {
		t.Fatalf("a 30 KB secret: %v", err)
	}
	if got, _ := st.Get(ctx, "big", "one"); !bytes.Equal(got, big) {
		t.Error("the 30 KB secret reads back otherwise")
	}
	// 200 keys: _uid, _uid_ses, secrets, two services, and 195 secrets.
	for i := range 194 {
		if err := st.Set(ctx, "small", fmt.Sprint(i), bytes.Repeat([]byte("s"), 100)); err != nil {
			t.Fatalf("secret %d of 100 bytes: %v", i+1, err)
		}
	}
	err := st.Set(ctx, "small", "one too many", []byte("x"))
	if !errors.Is(err, unix.EDQUOT) {
		t.Errorf("past 200 keys: %v, want EDQUOT", err)
	}
}

// A second process of the same user reads and writes what the first
// stored, sharing nothing with it; another user sees none of it.
func TestOwnerProcessesShareOthersDoNot(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, keyring.Options{})
	first := process(t, store, alice)
	if _, err := first.JoinSession(ctx, "first-session"); err != nil {
		t.Fatal(err)
	}
	if err := secrets.New(first, secrets.Options{}).Set(ctx, "svc", "acct", []byte("shared")); err != nil {
		t.Fatal(err)
	}
	second := secrets.New(process(t, store, alice), secrets.Options{})
	if got, err := second.Get(ctx, "svc", "acct"); err != nil || string(got) != "shared" {
		t.Fatalf("a second process of the owner: %q, %v", got, err)
	}
	if err := second.Set(ctx, "svc", "acct", []byte("by the second")); err != nil {
		t.Fatalf("the second process updates: %v", err)
	}
	if got, _ := secrets.New(first, secrets.Options{}).Get(ctx, "svc", "acct"); string(got) != "by the second" {
		t.Errorf("the first reads %q", got)
	}

	bp := process(t, store, bob)
	if _, err := secrets.New(bp, secrets.Options{}).Get(ctx, "svc", "acct"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("bob's Get of alice's service: %v, want ErrNotFound", err)
	}
	// By serial too: alice's key grants bob nothing.
	id, err := first.Search(ctx, keyring.UserKeyring, "big_key", "acct", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bp.Read(ctx, id); !errors.Is(err, unix.EACCES) {
		t.Errorf("bob reads alice's secret by serial: %v, want EACCES", err)
	}
	if err := bp.Update(ctx, id, []byte("bob was here")); !errors.Is(err, unix.EACCES) {
		t.Errorf("bob updates alice's secret by serial: %v, want EACCES", err)
	}
	if _, err := bp.Describe(ctx, id); !errors.Is(err, unix.EACCES) {
		t.Errorf("bob describes alice's secret: %v, want EACCES", err)
	}
}

// A big_key put in a service's keyring by other means is a bare secret;
// a record that is damaged is ErrCorrupt, not a wrong secret.
func TestForeignKeys(t *testing.T) {
	modes(t, func(t *testing.T, _ *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		if err := st.CreateService(ctx, "svc"); err != nil {
			t.Fatal(err)
		}
		root, err := c.Search(ctx, keyring.UserKeyring, "keyring", secrets.RootName, 0)
		if err != nil {
			t.Fatal(err)
		}
		ring, err := c.Search(ctx, root, "keyring", "svc", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Add(ctx, "big_key", "bare", []byte("from the command line"), ring); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Get(ctx, "svc", "bare"); err != nil || string(got) != "from the command line" {
			t.Errorf("a bare big_key: %q, %v", got, err)
		}
		if _, err := c.Add(ctx, "big_key", "damaged", []byte("\x00kgs\x01short"), ring); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "svc", "damaged"); !errors.Is(err, secrets.ErrCorrupt) || !errors.Is(err, unix.EBADMSG) {
			t.Errorf("a damaged record: %v, want ErrCorrupt", err)
		}
		if _, err := st.List(ctx, "svc"); !errors.Is(err, secrets.ErrCorrupt) {
			t.Errorf("List with a damaged record: %v, want ErrCorrupt", err)
		}
		// A user key there is no secret of this package's.
		if _, err := c.Add(ctx, "user", "not-an-item", []byte("x"), ring); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "svc", "not-an-item"); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("a user key: %v, want ErrNotFound", err)
		}
	})
}

// Someone deleting the service keyring under a Store that remembers it is
// no error: the next Set makes it again.
func TestServiceDeletedBehindTheStore(t *testing.T) {
	modes(t, func(t *testing.T, _ *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		if err := st.Set(ctx, "svc", "a", []byte("1")); err != nil {
			t.Fatal(err)
		}
		if err := secrets.New(c, secrets.Options{}).DeleteService(ctx, "svc"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "svc", "a"); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("Get after the service went: %v", err)
		}
		if err := st.Set(ctx, "svc", "a", []byte("2")); err != nil {
			t.Fatalf("Set after the service went: %v", err)
		}
		if got, _ := secrets.New(c, secrets.Options{}).Get(ctx, "svc", "a"); string(got) != "2" {
			t.Errorf("got %q", got)
		}
	})
}

// Expired secrets are not found.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := openStore(t, keyring.Options{Now: clock.now})
	st := secrets.New(process(t, store, alice), secrets.Options{Now: clock.now})
	start := clock.now()
	if err := st.Put(ctx, secrets.Item{Service: "s", Account: "a", Secret: []byte("x"), Expires: start.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	it, err := st.Lookup(ctx, "s", "a")
	if err != nil || !it.Expires.Equal(start.Add(time.Minute)) {
		t.Fatalf("before expiry: %v, %v", it.Expires, err)
	}
	clock.advance(2 * time.Minute)
	if _, err := st.Get(ctx, "s", "a"); !errors.Is(err, secrets.ErrNotFound) || !errors.Is(err, unix.EKEYEXPIRED) {
		t.Errorf("after expiry: %v, want ErrNotFound and EKEYEXPIRED", err)
	}
	// Set again: a fresh secret that does not expire.
	if err := st.Set(ctx, "s", "a", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, "s", "a"); err != nil || string(got) != "y" {
		t.Errorf("set again after expiry: %q, %v", got, err)
	}
}
