//go:build linux

package keyring_test

import (
	"fmt"
	"testing"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// A search descends into a keyring's child keyrings in the order they
// were linked, in every store, whatever keys its descriptions hash to:
// keyutils' search/valid links "wibble" then "wibble2", puts a key of the
// same name in each, and expects the first found. Stores index keys by a
// hash keyed per store, so a descent in index order would find either,
// one store in two; each store here has a data key of its own.
func TestSearchDescendsInLinkOrder(t *testing.T) {
	for i := range 16 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEnv(t, keyring.Options{})
			p := e.store.Process(perms.Cred{UID: 0, GID: 0})
			defer p.Release(ctx)
			must[keyring.Serial](t)(p.JoinSession(ctx, ""))
			// Volatile (@p) and stored parents both.
			for _, parent := range []keyring.Serial{keyring.SessionKeyring, keyring.ProcessKeyring} {
				var want keyring.Serial
				for j, name := range []string{"wibble", "wibble2", "wibble3"} {
					ring := must[keyring.Serial](t)(p.Add(ctx, "keyring", fmt.Sprintf("%s-%d", name, parent), nil, parent))
					k := must[keyring.Serial](t)(p.Add(ctx, "user", fmt.Sprintf("lizard-%d", parent), []byte(name), ring))
					if j == 0 {
						want = k
					}
				}
				if got := must[keyring.Serial](t)(p.Search(ctx, parent, "user", fmt.Sprintf("lizard-%d", parent), 0)); got != want {
					t.Errorf("search of %v found %v, want %v, in the keyring linked first", parent, got, want)
				}
			}
		})
	}
}
