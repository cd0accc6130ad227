//go:build linux

// Package bigstore builds large key stores quickly, for benchmarks that
// need one (opening a million-key store, a CLI answering from one). It
// writes through keystore directly, in big transactions, what Process.Add
// would have written key by key, so the result passes Check. It is for
// benchmarks and their tests only.
package bigstore

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// batch is how many keys one transaction writes: big enough that fsyncs do
// not matter, small enough that a transaction's dirty pages stay a few tens
// of megabytes.
const batch = 50_000

// Store is a store Build made.
type Store struct {
	Path    string
	Sample  keyring.Serial // a key in the middle of the user keyring
	Payload []byte         // its payload
	Built   time.Duration
}

// Build makes a store of n user keys in dir/keys.db, all in owner's user
// keyring, owned by and charged to owner (root's quota holds a million).
// The user keyrings come from the keyring package, as any program would
// make them. Serials come from the store, as Add's do, so that rows, link
// positions and descriptions ascend together and every write appends.
func Build(dir string, n int, owner perms.Cred) (Store, error) {
	ctx := context.Background()
	start := time.Now()
	big := Store{Path: filepath.Join(dir, "keys.db")}
	store, err := keyring.Open(big.Path, keyring.Options{})
	if err != nil {
		return big, err
	}
	p := store.Process(owner)
	user, err := p.KeyringID(ctx, keyring.UserKeyring)
	if err != nil {
		store.Close()
		return big, err
	}
	_, err = p.KeyringID(ctx, keyring.UserSessionKeyring)
	store.Close()
	if err != nil {
		return big, err
	}

	db, err := keystore.Open(big.Path, keystore.Options{})
	if err != nil {
		return big, err
	}
	defer db.Close()
	now := time.Now().UnixNano()
	var sample keyring.Serial
	for first := 0; first < n; first += batch {
		count := min(batch, n-first)
		// Update may run fn again if it fails, so it reads everything it
		// changes from the transaction rather than carrying it over.
		err := db.Update(ctx, func(tx *keystore.Tx) error {
			ring, err := tx.Key(uint32(user))
			if err != nil || ring == nil {
				return fmt.Errorf("user keyring %d: %v", user, err)
			}
			usage := tx.Quota(owner.UID)
			for i := range count {
				serial, err := tx.NewSerial()
				if err != nil {
					return err
				}
				if first+i == n/2 {
					sample = keyring.Serial(serial)
				}
				desc, payload := Key(first + i)
				r := &keystore.KeyRecord{
					Serial:      serial,
					Type:        "user",
					Description: desc,
					UID:         owner.UID,
					GID:         owner.GID,
					Perm:        uint32(perms.DefaultUserKey),
					Flags:       keystore.FlagInQuota,
					CTime:       now,
					DataLen:     uint32(len(payload)),
					QuotaBytes:  uint32(len(desc) + 1 + len(payload)), // what Add charges a user key
					Links:       1,
				}
				if err := tx.PutKey(r); err != nil {
					return err
				}
				if err := tx.PutPayload(r, payload); err != nil {
					return err
				}
				if err := tx.PutLink(ring.Serial, keystore.Link{Seq: ring.NextSeq, Key: serial}, tx.RecordHash(r)); err != nil {
					return err
				}
				ring.NextSeq++
				ring.DataLen++
				if ring.Flags&keystore.FlagInQuota != 0 {
					ring.QuotaBytes += 4 // the keyring's charge for a link
					usage.Bytes += 4
				}
				usage.Keys++
				usage.Bytes += r.QuotaBytes
			}
			if err := tx.PutKey(ring); err != nil {
				return err
			}
			if err := tx.PutQuota(owner.UID, usage); err != nil {
				return err
			}
			_, err = tx.NextRevision()
			return err
		})
		if err != nil {
			return big, fmt.Errorf("building a store of %d keys, at key %d: %w", n, first, err)
		}
	}
	mid := n / 2
	big.Sample = sample
	_, big.Payload = Key(mid)
	big.Built = time.Since(start)
	return big, nil
}

// Key is the description and payload of the i'th key of a big store:
// short, so that a million fit root's byte quota as they would in the
// kernel (17 bytes charged each).
func Key(i int) (string, []byte) {
	return fmt.Sprintf("k%07d", i), fmt.Appendf(nil, "v%07d", i)
}
