//go:build linux

// Package keystore keeps keys in a bbolt file, with their payloads
// encrypted at rest.
//
// It owns the file, its schema and its encryption, and speaks in stored
// terms: key records, sealed payloads, keyring links, registered names,
// per-owner charges. The rules of keys (who may do what, what an operation
// changes, what it posts) belong to package keyring, which drives a Tx.
//
// # Basics
//
// Open creates or opens a store; a second process opening the same file
// waits up to Options.LockTimeout and then gets ErrLocked naming the file.
// View runs a read-only transaction. Update runs a read-write one and
// returns once it is durable; concurrent Updates share one commit and one
// fsync (group commit), while a lone Update is committed at once, in its
// caller's goroutine. Check verifies every invariant of the layout, for
// tests and repairs. Inspect reports on a store's log and Checks a copy of
// the store, changing nothing; Repair salvages a store whose log is
// damaged (fsck). The bucket layout is documented on SchemaVersion.
//
// # Engines
//
// Tx is written against rows (rows.go), the storage boundary: get, a
// cursor, put and delete over the buckets, plus the revision, rows for new
// keys, and when a commit is visible and durable. Two engines implement
// it. The file (the rest of this comment) is bbolt and its journal. A
// store in etcd (Options.Etcd; etcd*.go, docs/etcd.md) is shared by every
// host that opens the same prefix: each keeps a copy of the rows that a
// watch keeps current and reads from it, and commits each transaction as
// one etcd transaction guarded by the mod revisions of the rows it read
// and by stamps of the ranges it walked, running it again when another
// host changed them. Its revision is etcd's; its notifications travel in
// the commit, sealed (Tx.PutEvents), and reach every host through the
// change feed (OnEvents, OnLoss).
//
// # Durability
//
// A commit is durable when its redo record is in the write-ahead log, a
// file beside the database named after it with ".wal" appended: one append and one fdatasync per batch, where a bbolt commit
// of its own costs two fdatasyncs and a dozen scattered pages. bbolt
// writes its pages without syncing them, and a checkpoint now and then
// (when the log is full, or the file has grown by walGrowth) syncs them
// and starts the log afresh. Between checkpoints a read transaction pins
// the checkpoint's pages, so that whatever a power failure keeps or loses
// of later writes, the checkpoint is whole on disk; Open puts it back and
// replays the log onto it. All of this is package internal/journal, which
// knows bbolt and files and nothing of keys. The batch's fsync runs outside the
// committer's lead, so the next batch commits while it waits. The journal
// starts with a store's first commit, so opening and closing a store only
// to read it costs no fsync.
//
// A crash may tear the batches whose fsync had not returned, and recovery
// drops them: none was acknowledged. Damage anywhere else in the log would
// lose acknowledged changes, so Open refuses the store with ErrCorrupt,
// naming the log and the byte where the damage starts, and changes
// nothing; Repair keeps the records before it (the caveats below say how
// far the two are told apart).
//
// # Identity
//
// Every store has a UUID (DB.UUID), made when it is created, or when a
// store of schema 6 or older is upgraded. Its log's header and its key
// file carry it too (keyfile.go), so that a log found beside another
// store's file is refused with ErrCorrupt, and a key file of another
// store that does not open this one with ErrWrongKey, each naming both
// files and both UUIDs, instead of a log being replayed onto the wrong
// file or a key being "wrong" for no reason the user can see.
//
// Revisions (Tx.Revision, and what watchers are told) count one store's
// changes: a revision means something only together with its store's
// UUID. A client that keeps a revision, say the one a loss record
// reports, keeps the UUID with it, and takes a revision under another
// UUID, or a smaller one under the same, as "another store, or this one
// made anew": nothing it knew of the old store's revisions carries over.
// A store deleted and created again at the same path has a new UUID and
// starts again from revision 0. A copy of a store's files (cp, a restored
// backup) keeps the UUID of the store it copies, and two copies that
// change apart count the same revisions for different changes; a client
// that may meet a restored backup compares more than the revision.
//
// NewSerial hands out serials for new keys. They look as random as the
// kernel's, but they are a keyed permutation of a counter (serials.go), so
// a key's entries are stored under its row in allocation order: new keys
// are appended to the B+tree instead of landing on random leaves, and a
// commit rewrites a few pages instead of one per key.
//
// Keys flagged FlagVolatile, and links with a volatile end, live in memory
// only: a write transaction stages them and publishes them when it
// commits. They never reach the file, and the stored counters leave them
// out, so a store opened after a crash is consistent without them. OnChange
// tells a cache above the store what each committed transaction changed;
// OnChanging and OnPending tell it before the commit, which it needs
// because bbolt shows a commit to new readers before OnChange runs.
//
// # Encryption
//
// Payloads are sealed, and so are descriptions and keyring restrictions:
// no description, and no name of a registered keyring, reaches the file or
// its log in clear, where a stolen copy would name every key its owner
// ever had (a Kerberos principal, a service account). What stays in clear
// is what the store reads to find a key and to decide who may touch it
// before anything is decrypted, none of it chosen by callers as text:
//
//   - serials and the link structure: which keyring holds which key, in
//     what order, and which keyrings are registered, of which kind (user,
//     user session, persistent, named session);
//   - owners (uid and gid), permission masks and flags (revoked,
//     invalidated, negative with its errno, charged, kept, restricted);
//   - creation, expiry and revocation times;
//   - sizes and counts: a payload's length, a description's length
//     (with its restriction's), quota charges, link counts, the revision;
//   - key types. The index keeps the type in clear beside the hash, so
//     that a keyring's child keyrings, which searches descend into, are
//     found without reading every key it holds; types come from the small
//     set the program knows (user, logon, big_key, keyring), and any user
//     sees them in /proc/keys.
//
// Each payload is sealed with XChaCha20-Poly1305 under the store's data
// key, 32 random bytes made once when the store is created. The seal
// authenticates a binding the caller passes, such as the key's serial and
// type, so a record copied onto another key fails to open. The record
// layout is documented on Sealer.Seal. A key record's description and
// restriction are sealed the same way, bound to its serial, type and
// hash (the record format is in record.go).
//
// Lookups by description need no decryption: the keyrings' indexes and
// the names bucket are keyed by 16 bytes of an HMAC-SHA256 of the type
// and description (or of the name), under a key that HKDF derives from
// the data key (DescHash). Without the data key, a guess at a description
// cannot be checked against the file.
//
// The data key is stored only wrapped (KEK.WrapDataKey) by a
// key-encryption key, the KEK, which comes from one of:
//
//   - a key file, the default, which needs no prompt: KeySize random bytes
//     in a file of mode 0600 (CreateKeyFile makes missing directories
//     0700), kept apart from the database (CreateKeyFile, LoadKeyFile);
//   - a passphrase, through Argon2id (DeriveKEK). Its cost and salt are an
//     Argon2Params header that the store keeps in its metadata, and it is
//     derived once per open.
//
// Opening a store is therefore: read the header if there is one, get the
// KEK, unwrap the data key into a Sealer, Wipe the KEK. Changing the
// passphrase or key file wraps the same data key anew; no record is
// re-encrypted.
//
// Failures are told apart, and each error unwraps to the errno the kernel
// would use: a wrong passphrase or key file gives ErrWrongKey
// (EKEYREJECTED), and no passphrase for a store that needs one
// ErrNeedPassphrase (ENOKEY); a truncated, damaged, altered or moved
// record, wrapped key or header gives ErrCorrupt (EBADMSG); a missing key
// file gives an
// error matching fs.ErrNotExist that names it; a key file of the wrong
// size gives ErrWrongKey, and one open to group or others
// ErrInsecureKeyFile (EKEYREJECTED too). No failure ever yields a payload.
// The wrapped key and the header carry a CRC-32C so that damage to them is
// not mistaken for a wrong passphrase.
//
// Keys, nonces and salts come from crypto/rand, which cannot fail; tests
// that need repeatable bytes use testing/cryptotest.SetGlobalRandom.
//
// # Caveats
//
// The log belongs with its database: move, copy or back them up together,
// and only while the store is closed (Close leaves nothing in the log). A
// log found beside a file it was not written for is refused, naming the
// log to remove.
//
// What the log tells apart. Refused as damage: a record that
// does not check (any bit of it) when an intact record after it says the
// log had been synced past its start; a record out of sequence, or whose
// mark of what was synced lies past its own place (bytes cut out of the
// middle); a record that checks but runs past the end of the file, and a
// file whose size is not a whole number of 256 KiB chunks (the log cut
// short); records of a generation whose header does not check (the header
// in force damaged, an older one left). Not told from a torn write: damage
// to the records after the last one whose sync a later record noted, which
// for a lone writer is the last record and under concurrent writers may be
// the last few batches (they were acknowledged; the store opens without
// them); a log cut at a multiple of 256 KiB on a record's start or in its
// 24-byte head; a log deleted or emptied (the store opens as its file is);
// both header slots damaged past their magic. The checks are CRC-32C,
// against damage, not an attacker who can write the log. They rely on the
// file system changing a file's size in one piece when it grows by
// ftruncate (ext4, XFS and btrfs journal it); elsewhere a crash while the
// log grows may leave a size that is refused, and Repair then drops
// nothing. A schema-4 store's log (format 1) has none of these marks: it
// is read as schema 4 read it, up to the first record that does not check.
//
// The journal writes bbolt's meta page back into the file from the log's
// header, and bbolt does not export that page's layout: package
// internal/journal keeps what it knows of it in one file, with a test
// that fails the day the bbolt in go.mod changes it. Moving to another
// bbolt means running that test first.
//
// A change is visible to readers when bbolt commits it, one fsync before
// it is durable: a crash in between loses a change that a reader may have
// seen but whose writer was never told it succeeded. If the log cannot be
// written or synced, the store refuses writes until it is reopened, which
// recovers it as the log has it.
//
// With Options.DeferWrite the file is open read-only until the first
// Update reopens it for writing (package journal, deferwrite.go): a View
// must not wait for an Update, which then waits for the View to end; and
// until then a View must not wait for another goroutine's View, directly
// or through a lock held across a View, since the reopen, once waiting,
// holds new Views back. The log's lock keeps other openers out
// throughout, as without it.
//
// The journal needs bbolt's file mapped with room to spare; a store that
// grows past half its mapping (at least 512 MiB) in one open goes back to
// bbolt's own synced commits until it is reopened.
//
// The metadata in clear (see Encryption) is readable by whoever can read
// the file: who owns how many keys, and a sealed record's length is its
// plaintext's plus SealOverhead. Hashes are deterministic: the file shows
// that two keyrings hold keys of the same type and description, though
// not what it is. Nor does this layer authenticate the metadata: someone
// who can write the file can change a key's permissions, though not read
// its payload or description without the KEK.
//
// Opening a store of schema 6 or older recovers it from its log first, and
// refuses a damaged log as it would at the current schema, before
// anything is written. A store of schema 5 or older is then rewritten
// into a new file with its descriptions sealed, the log emptied and the
// old file's blocks zeroed, best effort (a copy-on-write file system or a
// flash disk may keep them). Copies and backups made before the upgrade
// still name every key. Each upgraded store is given a new UUID, so a
// backup of a schema-6 store upgraded apart from the store gets another.
//
// Integrity is per record, not per store. Someone who can write the file
// can delete a record, or put back an older record of the same key (same
// binding), and it opens: a seal does not know whether it is the latest.
//
// A binding must be unambiguous and fixed for the life of a key: a record
// opens only with the binding it was sealed with, so renumbering a key
// means resealing its payload.
//
// A wrapped key or header that was altered on purpose, with its checksum
// recomputed, reads as a wrong passphrase or key file; the checksum is
// there to catch damage, not an attacker.
//
// Losing the key file or forgetting the passphrase loses every payload;
// there is no recovery. Back the key file up, apart from the database.
//
// Passphrases are bytes: the package does no Unicode normalisation, so one
// typed in another normalisation form is another passphrase.
//
// Wipe is best effort. It zeroes this package's copy of a key, but Go may
// have copied memory (stack growth, the garbage collector), the
// XChaCha20-Poly1305 value from golang.org/x/crypto keeps a copy that
// cannot be reached, and passphrase buffers belong to the caller.
//
// Redaction holds for fmt, log/slog and encoding/json, including a KEK or
// Sealer inside a struct being printed. A dumper that follows every pointer
// through package unsafe, such as go-spew, or a debugger, still reaches the
// key.
//
// XChaCha20-Poly1305 and Argon2id are not FIPS 140-approved: under
// GODEBUG=fips140=only the KEK constructors fail with ENOPKG and
// NewSealer panics.
//
// The formats documented on Sealer.Seal, KEK.WrapDataKey and
// Argon2Params.MarshalBinary are what stores on disk hold; the vectors in
// testdata/v1 must keep opening. So are the keyed hashes (deschash.go):
// a change to how they are computed would make every lookup in existing
// stores miss, and TestDescHashAsDocumented pins them.
package keystore
