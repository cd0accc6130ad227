//go:build linux

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A command that only reads opens the store's file for reading
// (keystore.Options.DeferWrite): bbolt then reads none of its freelist,
// and a reader holding the file shared (bbolt's own tool, say) does not
// keep it out. The first write opens the file for writing; a daemon's
// store is open for writing from the start.
func TestReadingCommandsOpenTheFileForReading(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	env := map[string]string{"KEYCTL_GO_DB": db, "HOME": t.TempDir()}
	id, errs, code := keyctlRunEnv(t, env, "add", "user", "k", "v", "@u")
	if code != 0 {
		t.Fatalf("add: exit %d, %s", code, errs)
	}
	id = strings.TrimSpace(id)

	f, err := os.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"print", id}, {"describe", id}, {"show", "@u"}} {
		if out, errs, code := keyctlRunEnv(t, env, args...); code != 0 {
			t.Errorf("%q while another reader holds the file: exit %d, %q, %q", args, code, out, errs)
		}
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if _, errs, code := keyctlRunEnv(t, env, "update", id, "v2"); code != 0 {
		t.Fatalf("update: exit %d, %s", code, errs)
	}
	if out, errs, code := keyctlRunEnv(t, env, "print", id); code != 0 || out != "v2\n" {
		t.Errorf("print after update: exit %d, %q, %q", code, out, errs)
	}

	// A daemon opens the file for writing at once: it writes soon enough,
	// and serves reads meanwhile. It holds the file alone from the start.
	startDaemon(t, db, filepath.Join(t.TempDir(), "sock"))
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("sharing the file a daemon serves: %v, want EWOULDBLOCK (is it open for reading only?)", err)
	}
}
