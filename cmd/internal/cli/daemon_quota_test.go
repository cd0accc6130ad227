//go:build linux

package cli

import (
	"os"
	"strings"
	"testing"
)

// --quota-keys and --quota-bytes are each user's limits in the daemon's
// store: a user reaches them, not the kernel's defaults.
func TestDaemonQuotaFlags(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the quota is tried by another uid's process")
	}
	// Five keys: the user's two user keyrings and three of its own. 3000
	// bytes: under the kernel's 20,000, so a 4000-byte key must fail.
	socket := startSystemCLI(t, 0o755, "--quota-keys", "5", "--quota-bytes", "3000").socket
	bin := publicCopy(t)

	const uid = 1000
	if _, errs, code := runAs(t, bin, socket, uid, "add", "user", "big", strings.Repeat("x", 4000), "@u"); code != 1 || errs != "add_key: Disk quota exceeded\n" {
		t.Errorf("a 4000-byte key under --quota-bytes 3000: exit %d, %q", code, errs)
	}
	for i, name := range []string{"k1", "k2", "k3"} {
		if _, errs, code := runAs(t, bin, socket, uid, "add", "user", name, "v", "@u"); code != 0 {
			t.Fatalf("key %d of 3: exit %d, %q", i+1, code, errs)
		}
	}
	if _, errs, code := runAs(t, bin, socket, uid, "add", "user", "k4", "v", "@u"); code != 1 || errs != "add_key: Disk quota exceeded\n" {
		t.Errorf("a sixth key under --quota-keys 5: exit %d, %q", code, errs)
	}
	// Root keeps its own, larger, limits.
	if _, errs, code := runAs(t, bin, socket, 0, "add", "user", "rootkey", strings.Repeat("x", 4000), "@u"); code != 0 {
		t.Errorf("root's 4000-byte key: exit %d, %q", code, errs)
	}
}

func TestDaemonQuotaFlagRefusesNonsense(t *testing.T) {
	for _, v := range []string{"0", "-1", "x", "4294967296"} {
		_, errs, code := keyctlRunEnv(t, nil, "daemon", "--quota-keys", v)
		if code != 2 || !strings.Contains(errs, "--quota-keys \""+v+"\": not a number from 1 to 4294967295") {
			t.Errorf("--quota-keys %s: exit %d, %q", v, code, errs)
		}
	}
}
