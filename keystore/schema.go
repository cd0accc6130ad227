//go:build linux

package keystore

import (
	"encoding/binary"
	"fmt"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// SchemaVersion is the version of the bucket layout below. A store of an
// older version is upgraded when opened; a newer one is refused.
//
// The layout, version 7. Integers are big-endian, so that byte order is
// numeric order and cursors walk keys in order. No description or name
// is in it: records seal them, and the index and the names bucket are
// keyed by a DescHash sum, 16 bytes of an HMAC under a key derived from
// the data key (deschash.go).
//
//	meta      "schema"    → u32 version
//	          "uuid"      → 16 bytes: the store's UUID (identity.go), which its
//	                        log and key file carry too
//	          "revision"  → u64: the store's revision, one more per committed change
//	          "kek"       → "keyfile" or "passphrase": what wraps the data key
//	          "argon2"    → Argon2Params header (passphrase stores)
//	          "datakey"   → the wrapped data key (KEK.WrapDataKey)
//	          "serialkey" → 16 bytes: the key of the serial permutation (serials.go)
//	          "nextrow"   → u32: the row the next new key is offered
//	rows      everything about one key, under its row (serials.go), so
//	          that what one change writes sits together and new keys are
//	          appended:
//	          u32 row, 'k'                       → KeyRecord, description and
//	                                               restriction sealed (record.go); a
//	                                               keyring's DataLen, QuotaBytes and
//	                                               NextSeq are kept 0 here, their
//	                                               values in its tally
//	          u32 row, 'l', u64 seq              → u32 key: a keyring's contents in
//	                                               insertion order
//	          u32 row, 'l', 0xffff_ffff_ffff_ffff → u32 links, u32 quota bytes,
//	                                               u64 next seq: the keyring's tally,
//	                                               after its last link, so that adding
//	                                               a link and counting it touch one
//	                                               leaf
//	          u32 row, 'p'                       → payload sealed by the data key,
//	                                               bound to serial and type
//	          u32 row, 'u', u32 keyring, u64 seq → (empty): the links to the key, so
//	                                               that invalidation and gc find them
//	                                               without a scan
//	          u32 row, 'x', type, NUL, 16 hash   → u64 seq, u32 key: one key per (type,
//	                                               description) in a keyring, by the
//	                                               DescHash of both, and search by them;
//	                                               the keyring's child keyrings are the
//	                                               run under "keyring\x00"
//	names     u8 kind, 16 hash → u32 serial: registered keyrings (user, user
//	          session, persistent, named sessions), by the keyed hash of kind
//	          and name
//	quota     u32 uid → u32 keys, u32 bytes: what each owner is charged
//	orphans   u32 serial → (empty): keys nothing stored holds, for the collector
//	expiry    u64 unix nanoseconds, u32 serial → (empty): keys that expire or were revoked
//
// History: version 1 had no parents bucket; upgrading builds it from
// links. Version 2 kept keys, payloads, links, index and parents in
// buckets of their own, keyed by serial, so one new key dirtied a leaf in
// each of five trees at random places; upgrading to 3 moves every entry
// into rows, under the row the new permutation gives its serial. Version 4
// has version 3's buckets, and a write-ahead log beside the file
// (package journal) that may hold commits the file does not: a program
// that knows only version 3 would ignore the log and lose them, so the
// version says not to open the store. Version 5 has version 4's buckets;
// its log is format 2 (package journal), whose records carry a sequence
// number and how far the log was synced, so that damage inside the log is
// refused instead of taken for a torn write at its end; a program that knows only
// version 4 would ignore a format-2 log, hence the new version. Version 6
// seals descriptions and restrictions in records (record format 2) and
// keys the index and the names by hashes. Upgrading to it rewrites the
// store into a new file (journal.Rewrite), so that no page of the old
// one, which held them in clear, survives. Version 7 gives the store a
// UUID, in meta, and its log is format 3, whose header carries it; a
// program that knows only version 6 would not read a format-3 log. Before
// any upgrade, Open recovers the store from its log with the reader of the
// log's own format, and refuses a damaged one as it would refuse it at the
// current version.
const SchemaVersion = 7

var (
	bucketMeta    = []byte("meta")
	bucketRows    = []byte("rows")
	bucketNames   = []byte("names")
	bucketQuota   = []byte("quota")
	bucketOrphans = []byte("orphans")
	bucketExpiry  = []byte("expiry")

	allBuckets = [][]byte{bucketMeta, bucketRows, bucketNames, bucketQuota, bucketOrphans, bucketExpiry}

	metaSchema    = []byte("schema")
	metaUUID      = []byte("uuid")
	metaRevision  = []byte("revision")
	metaKEKKind   = []byte("kek")
	metaArgon2    = []byte("argon2")
	metaDataKey   = []byte("datakey")
	metaSerialKey = []byte("serialkey")
	metaNextRow   = []byte("nextrow")
)

// The buckets' positions in allBuckets, by which redo records in the log
// name them: part of the log's format, so append, never reorder.
const (
	idMeta journal.BucketID = iota
	idRows
	idNames
	idQuota
	idOrphans
	idExpiry
)

// The buckets of schema versions 1 and 2 that version 3 folded into rows.
var (
	v2BucketKeys     = []byte("keys")
	v2BucketPayloads = []byte("payloads")
	v2BucketLinks    = []byte("links")
	v2BucketIndex    = []byte("index")
	v2BucketParents  = []byte("parents")
)

// What wraps the data key.
const (
	kekKeyFile    = "keyfile"
	kekPassphrase = "passphrase"
)

func schemaVersion(meta metaRows) (uint32, error) { return schemaVersionOf(meta.Get(metaSchema)) }

// schemaVersionOf reads the schema row's value.
func schemaVersionOf(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: schema version is %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func putSchemaVersion(meta metaRows, v uint32) error {
	return meta.Put(metaSchema, binary.BigEndian.AppendUint32(nil, v))
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
