// This is how v6.db, v6.db.wal, v6.db.key and manifest were made, kept
// here because only the schema-6 code can write a schema-6 store: copy
// this file into keyring/ of commit a3830b8 and run
//
//	go test -run TestGenerateSchemaV6 ./keyring -args -out DIR
//
// It writes a store through package keyring, as uid 1000, with the keys
// of the schema-2, -3 and -4 stores (testdata/schema-v2), a named session
// "v6-named-session-for-grep" holding "v6-principal-alice@EXAMPLE.COM",
// and ten keys "v6-deleted-bob-NN@EXAMPLE.COM" added to it and unlinked
// (so destroyed), then closes it cleanly (schema 6 seals descriptions:
// neither file names any of them). It opens the store again and leaves it as a power failure
// would: the database file as it was at the journal's first checkpoint,
// the format-2 log holding every commit since, "v6-in-the-log-carol@
// EXAMPLE.COM" added to the session and "v6-deleted-in-the-log-dave@
// EXAMPLE.COM" added and unlinked.

package keyring_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

var outDir = flag.String("out", "", "where to write the schema-6 store")

func TestGenerateSchemaV6(t *testing.T) {
	if *outDir == "" {
		t.Skip("no -out")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v6.db")
	must := func(id keyring.Serial, err error) keyring.Serial {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	uid1000 := perms.Cred{UID: 1000, GID: 1000}

	s, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process(uid1000)
	user := must(p.GetKeyringID(ctx, keyring.UserKeyring, true))
	token := must(p.Add(ctx, "user", "token", []byte("s3cr3t"), user))
	child := must(p.Add(ctx, "keyring", "child", nil, user))
	must(0, p.Link(ctx, token, child))
	logon := must(p.Add(ctx, "logon", "svc:pw", []byte("hunter2"), child))
	timed := must(p.Add(ctx, "user", "timed", []byte("tick"), user))
	must(0, p.SetTimeout(ctx, timed, 100*365*24*time.Hour))
	persistent := must(p.GetPersistent(ctx, 1000, user))
	session := must(p.JoinSession(ctx, "v6-named-session-for-grep"))
	alice := must(p.Add(ctx, "user", "v6-principal-alice@EXAMPLE.COM", []byte("ticket"), keyring.SessionKeyring))
	for i := range 10 {
		bob := must(p.Add(ctx, "user", fmt.Sprintf("v6-deleted-bob-%02d@EXAMPLE.COM", i), []byte("gone"), keyring.SessionKeyring))
		must(0, p.Unlink(ctx, bob, keyring.SessionKeyring))
	}
	must(0, p.Release(ctx))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	atCheckpoint, err := os.ReadFile(path) // the journal starts with a checkpoint of this
	if err != nil {
		t.Fatal(err)
	}
	p = s.Process(uid1000)
	must(0, p.AdoptSession(ctx, session))
	carol := must(p.Add(ctx, "user", "v6-in-the-log-carol@EXAMPLE.COM", []byte("ticket"), keyring.SessionKeyring))
	dave := must(p.Add(ctx, "user", "v6-deleted-in-the-log-dave@EXAMPLE.COM", []byte("gone"), keyring.SessionKeyring))
	must(0, p.Unlink(ctx, dave, keyring.SessionKeyring))
	// A crash now: the log holds every commit since the reopen; the file,
	// as a power failure may leave it, only the checkpoint.
	wal, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	// Schema 6 seals descriptions, in the log too: what shows the last
	// commits are there is a first record.
	if wal[7] != 2 || bytes.Equal(wal[8192:8192+24], make([]byte, 24)) {
		t.Fatal("the log is not format 2, or does not hold the last commits")
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"v6.db": atCheckpoint, "v6.db.wal": wal}
	if files["v6.db.key"], err = os.ReadFile(path + ".key"); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*outDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	must(0, p.Release(ctx))
	if err := s.Close(); err != nil { // after the copies: they are the crash
		t.Fatal(err)
	}
	manifest := fmt.Sprintf("user %d\ntoken %d\nchild %d\nlogon %d\ntimed %d\npersistent %d\nsession %d\nalice %d\ncarol %d\n",
		user, token, child, logon, timed, persistent, session, alice, carol)
	if err := os.WriteFile(filepath.Join(*outDir, "manifest"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}
