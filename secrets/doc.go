//go:build linux

// Package secrets keeps a user's secrets by service and account, the way
// credential managers store passwords and tokens, on the keyctl-go key
// store: Set, Get, Delete and List, with an optional label and searchable
// attributes, and Watch, which says what changed. It works the same
// embedded (a *keyring.Process on a store the program opened) and over
// the daemon (a *daemon.Client, or a keyctl.Caller): all are a
// keyring.Caller.
//
// # Basics
//
//	st := secrets.New(caller, secrets.Options{})
//	err := st.Set(ctx, "github.com", "alice", []byte("token"))
//	secret, err := st.Get(ctx, "github.com", "alice") // ErrNotFound if none
//
// Put stores a whole Item (label, attributes, content type, expiry);
// Lookup returns one; Find returns the items of a service whose
// attributes match. Errors unwrap to the store's errnos: ErrNotFound is
// ENOKEY, ErrInvalid EINVAL.
//
// # Where the secrets are
//
// In the caller's user keyring (@u) a keyring named "secrets" holds one
// keyring per service, named after it, which holds one big_key per
// account, described by the account name. `keyctl-go show @u` shows the
// tree. Each key's payload is a record: the label, content type,
// attributes, times, then the secret (record.go); the store seals it at
// rest. A big_key found there that does not hold a record (one added with
// `keyctl-go add big_key ...`) is read as a bare secret.
//
// The user keyring, not the persistent one: @u exists as long as the
// store, grants its owner's uid everything, and every process of the uid
// reaches it without possessing anything; the persistent keyring expires
// after three days unused and grants its user only View and Read. The
// keyrings and keys made here get the mask "possessor all, user all,
// nothing else" (0x3f3f0000), so a second process of the same uid reads
// and writes them without sharing a session; other users get nothing,
// and over the daemon the uid is what the kernel says the caller is.
//
// # Limits
//
// Every key counts against its owner's quota: keys and bytes, as in the
// kernel (keyring.Options.Quota; `keyctl-go daemon --quota-keys N
// --quota-bytes N`). The kernel's defaults, 200 keys and 20,000 bytes,
// hold fewer than 200 secrets. A big_key is charged its description plus
// 16 bytes whatever its size, and each link 4 bytes, so 10,000 secrets of
// 4 KiB with short names need about 10,010 keys and 400,000 bytes of
// quota. A record holds at most MaxItemLen bytes.
//
// # Caveats
//
//   - Service and account names are key descriptions, which the store
//     seals on disk as it seals payloads (see keystore's Encryption);
//     what stays in clear is sizes, counts, owners and the link
//     structure, so a copy of the files tells how many secrets each
//     service holds, not what they are called.
//   - Put is last-writer-wins for the whole item: a label changed by one
//     process while another sets the secret may be lost. Set reads the
//     item to keep its label and attributes.
//   - A Watch's revisions are of the store and history Watch.Store names
//     (keyring.StoreID), and WatchFrom takes both. It replays from the
//     store's history (keyring.Caller's Changes, embedded or through the
//     daemon alike), which is in memory and bounded: after the store is
//     opened again (a daemon restarted, a backup restored), for another
//     store, or past the history, it starts with Compacted and the
//     consumer lists again. A daemon too old to keep revisions gives
//     events of revision 0, and WatchFrom starts with Compacted.
//   - A Watch finds what changed by reading the keyring again when a
//     notification says it changed, so a secret made and deleted before
//     it looks is not reported; WatchFrom's replay, from the history,
//     reports it.
package secrets
