//go:build linux

package keyring_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// A store's files must not name its keys: someone who takes keys.db and
// keys.db.wal (a backup, a stolen disk, another user reading a file left
// readable) learns how many keys there are, whose they are and how big,
// but not their descriptions (a Kerberos principal, a service account),
// the names of named sessions, or the user keyrings' names. Every key
// here has a distinctive description, and the files are searched for
// each: after adds, updates, unlinks, a clear, named sessions and a clean
// close, and in a copy taken while the store was open (a crash), whose log
// still holds the last changes, before and after that copy is recovered.
func TestNothingOnDiskNamesAKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	store, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := store.Process(perms.Cred{UID: 1000, GID: 1000})
	defer p.Release(ctx)
	var secrets []string
	secret := func(format string, args ...any) string {
		s := fmt.Sprintf(format, args...)
		secrets = append(secrets, s)
		return s
	}
	must := func(id keyring.Serial, err error) keyring.Serial {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	session := must(p.JoinSession(ctx, secret("grep-named-session-alpha")))
	must(p.KeyringID(ctx, keyring.UserSessionKeyring))
	secrets = append(secrets, "_uid.1000", "_uid_ses.1000", "_persistent.1000")
	must(p.GetPersistent(ctx, keyring.OwnUID, keyring.SessionKeyring))
	ring := must(p.Add(ctx, "keyring", secret("grep-keyring-kerberos-caches"), nil, keyring.SessionKeyring))
	var keys []keyring.Serial
	for i := range 150 {
		desc := secret("grep-principal-%03d@EXAMPLE.COM", i)
		keys = append(keys, must(p.Add(ctx, "user", desc, []byte("ticket"), ring)))
	}
	for i := range 20 {
		must(p.Add(ctx, "logon", secret("grep-svc:account-%02d", i), []byte("pw"), keyring.UserKeyring))
		must(p.Add(ctx, "keyring", secret("grep-child-keyring-%02d", i), nil, ring))
	}
	// Updates: add_key on an existing description, and KEYCTL_UPDATE.
	for i := range 50 {
		must(p.Add(ctx, "user", fmt.Sprintf("grep-principal-%03d@EXAMPLE.COM", i), []byte("renewed"), ring))
		if err := p.Update(ctx, keys[50+i], []byte("updated")); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range keys[100:125] {
		if err := p.Unlink(ctx, id, ring); err != nil {
			t.Fatal(err)
		}
	}
	cleared := must(p.Add(ctx, "keyring", secret("grep-keyring-to-clear"), nil, keyring.SessionKeyring))
	for i := range 30 {
		must(p.Add(ctx, "user", secret("grep-cleared-%02d@EXAMPLE.COM", i), []byte("x"), cleared))
	}
	if err := p.Clear(ctx, cleared); err != nil {
		t.Fatal(err)
	}
	if err := p.Restrict(ctx, cleared, "", ""); err != nil {
		t.Fatal(err)
	}
	// A second named session, and the first taken over by a new keyring.
	other := store.Process(perms.Cred{UID: 1001, GID: 1001})
	defer other.Release(ctx)
	must(other.JoinSession(ctx, secret("grep-named-session-beta")))
	must(other.Add(ctx, "user", secret("grep-beta-key@EXAMPLE.COM"), []byte("b"), keyring.SessionKeyring))
	// The owner has no Search on a named session: joining by name again
	// makes a new one, which takes the name over.
	again := must(p.JoinSession(ctx, "grep-named-session-alpha"))
	// Pinned, so that the copy, which no process holds anything of, keeps it.
	must(p.PinSession(ctx))
	if again == session {
		t.Fatalf("joined %d again", session)
	}
	// The last changes, which the log alone holds when the copy is taken.
	for i := range 10 {
		must(p.Add(ctx, "user", secret("grep-last-%02d@EXAMPLE.COM", i), []byte("l"), keyring.SessionKeyring))
	}

	crashed := copyStoreFiles(t, path)
	if wal, err := os.ReadFile(crashed + ".wal"); err != nil || len(bytes.Trim(wal[min(len(wal), 8192):], "\x00")) == 0 {
		t.Fatalf("the log of the copy holds no records (%v): the test does not look at a log in use", err)
	}
	wantNoSecretsInStore(t, crashed, secrets)
	recovered, err := keyring.Open(crashed, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rp := recovered.Process(perms.Cred{UID: 1000, GID: 1000})
	if err := rp.AdoptSession(ctx, again); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Search(ctx, keyring.SessionKeyring, "user", "grep-last-09@EXAMPLE.COM", 0); err != nil {
		t.Errorf("the recovered copy lost what its log held: %v", err)
	}
	rp.Release(ctx)
	if err := recovered.Check(); err != nil {
		t.Error(err)
	}
	recovered.Close()
	wantNoSecretsInStore(t, crashed, secrets)

	if err := store.Check(); err != nil {
		t.Error(err)
	}
	p.Release(ctx)
	other.Release(ctx)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	wantNoSecretsInStore(t, path, secrets)
}

// copyStoreFiles copies the store at path (database, log, key file) into
// a fresh directory, as they are: with the store open, what a crash
// leaves.
func copyStoreFiles(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "keys.db")
	for _, suffix := range []string{"", ".wal", ".key"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// wantNoSecretsInStore fails t for every secret found as bytes in the
// store's database or log.
func wantNoSecretsInStore(t *testing.T, path string, secrets []string) {
	t.Helper()
	for _, name := range []string{path, path + ".wal"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("keyring")) && name == path {
			t.Fatalf("%s holds no type in clear: the test does not look at a store", name)
		}
		found := 0
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				if found++; found <= 5 {
					t.Errorf("%s holds %q", filepath.Base(name), s)
				}
			}
		}
		for _, s := range []string{"EXAMPLE.COM", "grep-"} {
			if n := bytes.Count(b, []byte(s)); n > 0 {
				t.Errorf("%s holds %q %d times (%d of %d secrets in full)", filepath.Base(name), s, n, found, len(secrets))
			}
		}
	}
}
