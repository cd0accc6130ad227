//go:build linux

package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
)

// crashedStore adds user keys k0, k1... to the caller's user keyring, one
// add at a time, and returns a copy of the store's files taken while it
// is still open: what a crash of the process leaves.
func crashedStore(t *testing.T, n int) string {
	t.Helper()
	live := filepath.Join(t.TempDir(), "keys.db")
	s, err := keyring.Open(live, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.Process(callerCred())
	defer p.Release(context.Background())
	for i := range n {
		if _, err := p.Add(context.Background(), "user", fmt.Sprintf("k%d", i), []byte(fmt.Sprintf("payload %d", i)), keyring.UserKeyring); err != nil {
			t.Fatal(err)
		}
	}
	crashed := filepath.Join(t.TempDir(), "keys.db")
	for _, suffix := range []string{"", ".wal", ".key"} {
		b, err := os.ReadFile(live + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return crashed
}

// fsck finds a bit flipped in the middle of a crashed store's log: it says
// where, what a repair keeps and drops, and exits 1, changing nothing
// (the store meanwhile refuses to open, naming the log). fsck --repair
// prints each record it drops, then salvages the rest: the store opens,
// with the keys before the damage, and fsck exits 0.
func TestFsckReportsAndRepairs(t *testing.T) {
	db := crashedStore(t, 30)
	r, err := keystore.Inspect(db, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Records) < 30 || r.Damage != nil {
		t.Fatalf("the crashed store's log: %d records, damage %+v", len(r.Records), r.Damage)
	}
	bad := r.Records[len(r.Records)/2]
	wal, err := os.ReadFile(db + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	wal[bad.Offset+int64(bad.Size)-3] ^= 0x40 // in the body
	if err := os.WriteFile(db+".wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}
	dropped := len(r.Records) - len(r.Records)/2 - 1

	out, errs, code := keyctlRun(t, db, "", "fsck")
	if code != 1 || !strings.Contains(out, fmt.Sprintf("log: damaged at byte %d: ", bad.Offset)) ||
		!strings.Contains(out, fmt.Sprintf("log: %d intact records after it", dropped)) ||
		!strings.Contains(errs, "fsck --repair keeps the") {
		t.Fatalf("fsck of a damaged log: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if after, _ := os.ReadFile(db + ".wal"); !bytes.Equal(after, wal) {
		t.Fatal("fsck without --repair changed the log")
	}
	if _, errs, code := keyctlRun(t, db, "", "print", "%user:k0"); code != 1 || !strings.Contains(errs, db+".wal") {
		t.Fatalf("a command on the damaged store: exit %d, stderr %q; want it refused, naming the log", code, errs)
	}

	out, errs, code = keyctlRun(t, db, "", "fsck", "--repair")
	if code != 0 || strings.Count(out, "repair: drop record ") != dropped ||
		!strings.Contains(out, fmt.Sprintf("repair: drop the damaged record at byte %d\n", bad.Offset)) ||
		!strings.Contains(out, "repair: done") || !strings.HasSuffix(out, "check: ok\n") {
		t.Fatalf("fsck --repair: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if i := strings.Index(out, "repair: drop"); i < 0 || i > strings.Index(out, "repair: done") {
		t.Errorf("fsck --repair did not say what it drops before doing it:\n%s", out)
	}
	if out, errs, code := keyctlRun(t, db, "", "fsck"); code != 0 || !strings.Contains(out, "nothing to recover") {
		t.Fatalf("fsck after the repair: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if out, errs, code := keyctlRun(t, db, "", "print", "%user:k0"); code != 0 || out != "payload 0\n" {
		t.Errorf("the first key after the repair: exit %d, %q %q", code, out, errs)
	}
	if _, errs, code := keyctlRun(t, db, "", "print", "%user:k29"); code != 1 || errs != "Can't find 'user:k29'\n" {
		t.Errorf("the last key, after the damage, after the repair: exit %d, stderr %q; want it gone", code, errs)
	}
}

// A sound store: fsck says so and exits 0; --repair has nothing to do.
// Bad arguments print fsck's own usage and exit 2; the Format listing,
// which must match keyctl's, does not name fsck.
func TestFsckSoundStoreAndUsage(t *testing.T) {
	db := crashedStore(t, 3)
	out, errs, code := keyctlRun(t, db, "", "fsck")
	if code != 0 || !strings.Contains(out, "intact records") || !strings.HasSuffix(out, "check: ok\n") || errs != "" {
		t.Fatalf("fsck of a crashed store with a whole log: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	out, _, code = keyctlRun(t, "", "", "fsck", "--repair", "--db", db)
	if code != 0 || !strings.Contains(out, "store "+db+"\n") || !strings.HasSuffix(out, "repair: nothing to repair\n") {
		t.Fatalf("fsck --repair --db of a sound store: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"fsck", "--bogus"}, {"fsck", "--db"}, {"fsck", "extra"}} {
		if _, errs, code := keyctlRun(t, db, "", args...); code != 2 || errs != fsckUsage+"\n" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and fsck's usage", args, code, errs)
		}
	}
	if strings.Contains(goldenUsage(t), "fsck") {
		t.Error("the Format listing names fsck")
	}
}

// fsck never opens a store another process holds: it says it is in use.
func TestFsckStoreInUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	s, err := keyring.Open(db, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, errs, code := keyctlRun(t, db, "", "fsck")
	if code != 1 || !strings.Contains(errs, "in use") || !strings.Contains(errs, db) {
		t.Fatalf("fsck of an open store: exit %d, stderr %q", code, errs)
	}
}

// A passphrase store is checked with its passphrase, from the usual
// sources; without one, and no terminal to ask on, fsck says it could not
// check it and exits 1.
func TestFsckPassphraseStore(t *testing.T) {
	dir := t.TempDir()
	db, passFile := filepath.Join(dir, "keys.db"), filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyctl := func(env map[string]string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
		code := run(context.Background(), a, args)
		return out.String(), errb.String(), code
	}
	withPass := map[string]string{envDB: db, envPassphraseFile: passFile}
	if _, errs, code := keyctl(withPass, "--passphrase", "add", "user", "k", "v", "@u"); code != 0 {
		t.Fatalf("creating a passphrase store: %s", errs)
	}
	if out, errs, code := keyctl(withPass, "fsck"); code != 0 || !strings.HasSuffix(out, "check: ok\n") {
		t.Fatalf("fsck with the passphrase: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code := keyctl(map[string]string{envDB: db}, "fsck")
	if code != 1 || !strings.Contains(out, "check: not run") || !strings.Contains(errs, "not checked") {
		t.Fatalf("fsck without the passphrase: exit %d\n%s%s", code, out, errs)
	}
}
