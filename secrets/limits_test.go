//go:build linux

package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/secrets"
)

// tenThousand is the quota that holds 10,000 secrets of 4 KiB: 10,000
// keys plus the user's two user keyrings, the secrets keyring and the
// service's; each secret is charged its description and NUL (11 bytes
// here), 16 for the big_key and 4 for its link, 310,000 bytes in all,
// and the keyrings a few dozen more.
var tenThousand = keyring.Quota{MaxKeys: 10_004, MaxBytes: 311_000, RootMaxKeys: 10_004, RootMaxBytes: 311_000}

// A user configured for it holds 10,000 secrets of 4 KiB, and not one
// more key than the quota says.
func TestTenThousandSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 durable writes")
	}
	const n, size = 10_000, 4096
	store := openStore(t, keyring.Options{Quota: tenThousand})
	st := secrets.New(process(t, store, alice), secrets.Options{})
	ctx := context.Background()
	secret := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, size) }
	// Writers in parallel share the store's fsyncs.
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				if err := st.Set(ctx, "bulk", fmt.Sprintf("acct-%05d", i), secret(i)); err != nil {
					errs <- fmt.Errorf("secret %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	items, err := st.List(ctx, "bulk")
	if err != nil || len(items) != n {
		t.Fatalf("List: %d items, %v", len(items), err)
	}
	for _, i := range []int{0, 1, 4999, n - 1} {
		if got, err := st.Get(ctx, "bulk", fmt.Sprintf("acct-%05d", i)); err != nil || !bytes.Equal(got, secret(i)) {
			t.Errorf("secret %d reads back %d bytes, %v", i, len(got), err)
		}
	}
	if err := st.Set(ctx, "bulk", "one more", []byte("x")); !errors.Is(err, unix.EDQUOT) {
		t.Errorf("secret %d: %v, want EDQUOT", n+1, err)
	}
	// Replacing one is no new key.
	if err := st.Set(ctx, "bulk", "acct-00000", []byte("replaced")); err != nil {
		t.Errorf("replacing a secret at the limit: %v", err)
	}
}
