//go:build linux

package secrets_test

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/secrets"
)

// benchSecret is a password-sized secret.
var benchSecret = bytes.Repeat([]byte("s"), 100)

// benchStore is a Store embedded on a fresh store, acting as root so
// that the kernel's default quota does not end a long run, with one
// secret stored.
func benchStore(b *testing.B) (*secrets.Store, *keyring.Process) {
	b.Helper()
	store := openStore(b, keyring.Options{})
	p := process(b, store, perms.Cred{})
	st := secrets.New(p, secrets.Options{})
	if err := st.Set(context.Background(), "bench", "account", benchSecret); err != nil {
		b.Fatal(err)
	}
	return st, p
}

// BenchmarkSecretsGet reads one secret by service and account: a search
// in the service's keyring and a read, embedded.
func BenchmarkSecretsGet(b *testing.B) {
	st, _ := benchStore(b)
	ctx := context.Background()
	b.SetBytes(int64(len(benchSecret)))
	b.ReportAllocs()
	for b.Loop() {
		if got, err := st.Get(ctx, "bench", "account"); err != nil || len(got) != len(benchSecret) {
			b.Fatalf("Get: %d bytes, %v", len(got), err)
		}
	}
}

// BenchmarkSecretsSet stores a secret again under the same account: a
// lookup to keep the label and attributes, and one durable add_key that
// updates the key.
func BenchmarkSecretsSet(b *testing.B) {
	st, _ := benchStore(b)
	ctx := context.Background()
	b.SetBytes(int64(len(benchSecret)))
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(ctx, "bench", "account", benchSecret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSecretsSetNew stores a secret under a new account each time:
// staged in the thread keyring, its mask set, moved into the service.
func BenchmarkSecretsSetNew(b *testing.B) {
	st, _ := benchStore(b)
	ctx := context.Background()
	b.SetBytes(int64(len(benchSecret)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := st.Set(ctx, "bench", "account-"+strconv.Itoa(i), benchSecret); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAddDurable is the baseline for Set: the store's own durable
// add_key of a user key of the same size into a keyring, updating it.
func BenchmarkAddDurable(b *testing.B) {
	_, p := benchStore(b)
	ctx := context.Background()
	b.SetBytes(int64(len(benchSecret)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Add(ctx, "user", "account", benchSecret, keyring.UserKeyring); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKernelRead is the baseline for Get: the kernel's KEYCTL_READ of
// a user key of the same size, one system call per op, in an anonymous
// session of the benchmark's own thread.
func BenchmarkKernelRead(b *testing.B) {
	runtime.LockOSThread() // never unlocked: the thread exits with its session
	if _, err := unix.KeyctlInt(unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0); err != nil {
		b.Skipf("the kernel's keyrings are unavailable here, so there is no baseline: %v", err)
	}
	id, err := unix.AddKey("user", "secrets-bench", benchSecret, unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		b.Fatalf("add_key: %v", err)
	}
	defer unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0)
	buf := make([]byte, 4*len(benchSecret))
	b.SetBytes(int64(len(benchSecret)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0); err != nil || n != len(benchSecret) {
			b.Fatalf("keyctl read: %d bytes, %v", n, err)
		}
	}
}
