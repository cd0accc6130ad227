// This is how v4.db, v4.db.wal, v4.db.key and manifest were made, kept
// here because only the schema-4 code can write a format-1 log: copy this
// file into keyring/ of commit 96ce306 and run
//
//	go test -run TestGenerateSchemaV4 ./keyring -args -out DIR
//
// It writes a store through package keyring, as uid 1000, with the keys
// of the schema-2 and schema-3 stores (testdata/schema-v2), plus 30 user
// keys "bulk-N" in the persistent keyring, and leaves it as a power
// failure would: the database file as it was at the journal's first
// checkpoint (an empty store), the log holding every commit since.

package keyring_test

import (
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

var outDir = flag.String("out", "", "where to write the schema-4 store")

func TestGenerateSchemaV4(t *testing.T) {
	if *outDir == "" {
		t.Skip("no -out")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	s, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	atCheckpoint, err := os.ReadFile(path) // the journal starts with a checkpoint of this
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process(perms.Cred{UID: 1000, GID: 1000})
	must := func(id keyring.Serial, err error) keyring.Serial {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	user := must(p.GetKeyringID(ctx, keyring.UserKeyring, true))
	token := must(p.Add(ctx, "user", "token", []byte("s3cr3t"), user))
	child := must(p.Add(ctx, "keyring", "child", nil, user))
	must(0, p.Link(ctx, token, child))
	logon := must(p.Add(ctx, "logon", "svc:pw", []byte("hunter2"), child))
	timed := must(p.Add(ctx, "user", "timed", []byte("tick"), user))
	must(0, p.SetTimeout(ctx, timed, 100*365*24*time.Hour))
	persistent := must(p.GetPersistent(ctx, 1000, user))
	for i := range 30 {
		must(p.Add(ctx, "user", fmt.Sprintf("bulk-%d", i), []byte(fmt.Sprintf("bulk payload %d", i)), persistent))
	}
	// A crash now: the log holds every commit; the file, as a power
	// failure may leave it, only the checkpoint.
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"v4.db", atCheckpoint}} {
		if err := os.WriteFile(filepath.Join(*outDir, f.name), f.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, suffix := range []string{".wal", ".key"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*outDir, "v4.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // after the copies: they are the crash
		t.Fatal(err)
	}
	manifest := fmt.Sprintf("user %d\ntoken %d\nchild %d\nlogon %d\ntimed %d\npersistent %d\n", user, token, child, logon, timed, persistent)
	if err := os.WriteFile(filepath.Join(*outDir, "manifest"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}
