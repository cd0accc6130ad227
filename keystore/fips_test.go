//go:build linux

package keystore_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// TestFIPSOnly runs itself again under GODEBUG=fips140=only, which can
// only be set when a process starts: there every KEK constructor must
// fail with ENOPKG before any key exists, and NewSealer must panic.
func TestFIPSOnly(t *testing.T) {
	if os.Getenv("KEYSTORE_TEST_FIPS_ONLY") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSOnly$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KEYSTORE_TEST_FIPS_ONLY=1", "GODEBUG=fips140=only")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("under fips140=only: %v\n%s", err, out)
		}
		return
	}
	dir := t.TempDir()
	_, err := keystore.CreateKeyFile(filepath.Join(dir, "data.key"))
	wantErr(t, err, nil, unix.ENOPKG)
	if _, err := os.Stat(filepath.Join(dir, "data.key")); err == nil {
		t.Error("CreateKeyFile left a key file behind")
	}
	_, err = keystore.LoadKeyFile(filepath.Join(dir, "data.key"))
	wantErr(t, err, nil, unix.ENOPKG)
	_, err = keystore.DeriveKEK([]byte("pw"), fastParams())
	wantErr(t, err, nil, unix.ENOPKG)
	mustPanic(t, "NewSealer", func() { keystore.NewSealer() })
}
