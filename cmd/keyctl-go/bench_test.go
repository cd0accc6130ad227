//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/bigstore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// cliBenchKeys is the size of the store BenchmarkCLIPrint answers from:
// the CLI must not load the store to answer one question, so its cost
// should be process start, as keyctl's is.
const cliBenchKeys = 1_000_000

// cliStore is BenchmarkCLIPrint's store, built on first use (a million
// keys take a while) and kept for the rest of the process, so that -count
// runs and the ramp-up runs alike open the same store. It lives in the
// directory TestMain removes when the tests end.
var cliStore struct {
	once sync.Once
	big  bigstore.Store
	err  error
}

// BenchmarkCLIPrint execs `keyctl-go print <id>` on a store of a million
// keys; compare BenchmarkKeyctlPrint, the real keyctl on a kernel key, in
// the same run (target: ratio <= 1.5).
func BenchmarkCLIPrint(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("builds the store as root, whose quota holds a million keys")
	}
	s := &cliStore
	s.once.Do(func() {
		dir := filepath.Join(filepath.Dir(keyctlGo), "bench-cli-store")
		if s.err = os.Mkdir(dir, 0o700); s.err == nil {
			s.big, s.err = bigstore.Build(dir, cliBenchKeys, perms.Cred{UID: 0, GID: 0})
		}
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
	id := strconv.Itoa(int(s.big.Sample))
	want := string(s.big.Payload) + "\n"
	for b.Loop() {
		out, err := exec.Command(keyctlGo, "--db", s.big.Path, "print", id).Output()
		if err != nil || string(out) != want {
			b.Fatalf("keyctl-go print: %q, %v", out, err)
		}
	}
}

// BenchmarkKeyctlPrint execs the real `keyctl print <id>` on a kernel key
// in the user keyring, granted Read by its owner so that the child reads
// it whatever session it runs in.
func BenchmarkKeyctlPrint(b *testing.B) {
	keyctl, err := realKeyctl()
	if err != nil {
		b.Skip("no keyctl (apt-get install keyutils) to compare with")
	}
	id, err := unix.AddKey("user", "keyctl-go-bench-print", []byte("v0500000"), unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		b.Skipf("no kernel keyrings to compare with: %v", err)
	}
	defer unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0)
	if err := unix.KeyctlSetperm(id, 0x3f3f0000); err != nil {
		b.Fatal(err)
	}
	arg := strconv.Itoa(id)
	for b.Loop() {
		out, err := exec.Command(keyctl, "print", arg).Output()
		if err != nil || string(out) != "v0500000\n" {
			b.Fatalf("keyctl print: %q, %v", out, err)
		}
	}
}
