package keystore

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the version of the bucket layout below. A store of an
// older version is upgraded when opened; a newer one is refused.
//
// The layout, version 2. Integers are big-endian, so that byte order is
// numeric order and cursors walk keys in order.
//
//	meta      "schema"   → u32 version
//	          "revision" → u64: the store's revision, one more per committed change
//	          "kek"      → "keyfile" or "passphrase": what wraps the data key
//	          "argon2"   → Argon2Params header (passphrase stores)
//	          "datakey"  → the wrapped data key (KEK.WrapDataKey)
//	keys      u32 serial → KeyRecord (clear: type, description, owner, mask, counts)
//	payloads  u32 serial → payload sealed by the data key, bound to serial and type
//	links     u32 keyring, u64 seq → u32 key: a keyring's contents in insertion order
//	index     u32 keyring, type, NUL, description → u64 seq, u32 key: one key per
//	          (type, description) in a keyring, and search by them; a keyring's
//	          child keyrings are the run under its serial and "keyring\x00"
//	parents   u32 key, u32 keyring, u64 seq → (empty): the links to a key, so
//	          that invalidation and gc find them without a scan
//	names     u8 kind, name → u32 serial: registered keyrings (user, user session,
//	          persistent, named sessions)
//	quota     u32 uid → u32 keys, u32 bytes: what each owner is charged
//	orphans   u32 serial → (empty): keys nothing stored holds, for the collector
//	expiry    u64 unix nanoseconds, u32 serial → (empty): keys that expire or were revoked
//
// History: version 1 had no parents bucket; upgrading builds it from links.
const SchemaVersion = 2

var (
	bucketMeta     = []byte("meta")
	bucketKeys     = []byte("keys")
	bucketPayloads = []byte("payloads")
	bucketLinks    = []byte("links")
	bucketIndex    = []byte("index")
	bucketNames    = []byte("names")
	bucketQuota    = []byte("quota")
	bucketOrphans  = []byte("orphans")
	bucketExpiry   = []byte("expiry")
	bucketParents  = []byte("parents")

	allBuckets = [][]byte{bucketMeta, bucketKeys, bucketPayloads, bucketLinks, bucketIndex, bucketNames, bucketQuota, bucketOrphans, bucketExpiry, bucketParents}

	metaSchema   = []byte("schema")
	metaRevision = []byte("revision")
	metaKEKKind  = []byte("kek")
	metaArgon2   = []byte("argon2")
	metaDataKey  = []byte("datakey")
)

// What wraps the data key.
const (
	kekKeyFile    = "keyfile"
	kekPassphrase = "passphrase"
)

func schemaVersion(meta *bolt.Bucket) (uint32, error) {
	v := meta.Get(metaSchema)
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: schema version is %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func putSchemaVersion(meta *bolt.Bucket, v uint32) error {
	return meta.Put(metaSchema, binary.BigEndian.AppendUint32(nil, v))
}

// upgrade brings a store of an older schema version to SchemaVersion, in
// the transaction that opens it, one version at a time.
func upgrade(tx *bolt.Tx, from uint32) error {
	for v := from; v < SchemaVersion; v++ {
		step, ok := upgrades[v]
		if !ok {
			return fmt.Errorf("%w: schema version %d has no upgrade path", ErrCorrupt, v)
		}
		if err := step(tx); err != nil {
			return fmt.Errorf("keystore: upgrading schema %d to %d: %w", v, v+1, err)
		}
		if err := putSchemaVersion(tx.Bucket(bucketMeta), v+1); err != nil {
			return err
		}
	}
	return nil
}

// upgrades maps a version to the step that takes a store from it to the next.
var upgrades = map[uint32]func(*bolt.Tx) error{
	1: addParents,
}

// addParents (1 → 2) builds the parents bucket from the links bucket.
func addParents(tx *bolt.Tx) error {
	parents, err := tx.CreateBucketIfNotExists(bucketParents)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLinks).ForEach(func(k, v []byte) error {
		if len(k) != 12 || len(v) != 4 {
			return fmt.Errorf("%w: link entry %x → %x", ErrCorrupt, k, v)
		}
		ring, seq := binary.BigEndian.Uint32(k), binary.BigEndian.Uint64(k[4:])
		return parents.Put(parentKey(binary.BigEndian.Uint32(v), ring, seq), nil)
	})
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
