// Package keyring is the Linux kernel's keys and keyrings in userspace: the
// same operations, permission checks, quotas, search and notifications, on a
// store that survives restarts (package keystore) and posts every change to
// the watchers of the key it changed (packages notify and watchqueue).
//
// # Basics
//
// Open a Store, then act through a Process, which carries the caller's
// credentials and session keyring, as a task's cred does in the kernel.
// Every operation is a method with the kernel's name and semantics: Add
// (add_key), Update, Read, Describe, Search, RequestKey, Link, Unlink, Move,
// Clear, Revoke, Invalidate, SetTimeout, SetPerm, Chown, Restrict, Watch,
// JoinSession, KeyringID. Errors unwrap to the errno the kernel returns
// (errors.Is(err, unix.EKEYREVOKED)), after a message naming the operation
// and the key.
//
// Special ids resolve as in the kernel: SessionKeyring (@s) is the
// process's session keyring, or the user-session keyring when it has none;
// UserKeyring (@u) and UserSessionKeyring (@us) are made on first use and
// registered by uid; ThreadKeyring (@t) and ProcessKeyring (@p) are made by
// the operations whose kernel lookups make them (add, link, clear, move,
// chown, setperm, set_timeout, watch, search and request_key destinations,
// GetKeyringID with create) and live in memory only, as long as the Process;
// GroupKeyring (@g) is EINVAL.
//
// A change is acknowledged once it is durable, and its notifications are
// posted once it is durable too, in commit order, never for an operation
// that failed; each carries the store's revision for queues that keep
// revisions. Concurrent changes share fsyncs (see keystore.DB.Update). A
// reader may see a change up to one fsync before it is durable (see
// keystore's Caveats).
//
// # Where this differs from the kernel, on purpose
//
//   - Keys persist, encrypted at rest: payloads, descriptions and the
//     names of registered keyrings are sealed; types, owners,
//     permissions, times, sizes and links are stored in clear (see
//     keystore's Encryption).
//   - A keyring lists its keys in insertion order; a key that displaces
//     another of the same type and description takes its place. The
//     kernel's order is its hash order. Searches descend into child
//     keyrings in the order of a keyed hash of their descriptions
//     (keystore.DescHash): a hash order, like the kernel's, but another
//     one, different in every store.
//   - A type name, description, session keyring name or restriction
//     holding a NUL byte is EINVAL (Add, Search, RequestKey, JoinSession,
//     Restrict), checked first, as Go's wrappers of the kernel's calls
//     answer before making the call; the kernel itself takes C strings,
//     and never sees the bytes after a NUL.
//   - Collection is synchronous: a key nothing holds any more is destroyed
//     in the transaction that let go of it, so its quota is back as soon
//     as that change returns. Expired and revoked keys linger for the GC
//     delay, as in the kernel, until Collect.
//   - When links to a dead key are removed, the keyrings' owners get back
//     the 4 bytes each link was charged. The kernel's gc keeps charging them
//     until the keyring is cleared or destroyed (measured: a session charged
//     5 bytes, 12 with a key in it, stays at 9 once the key is invalidated).
//   - Uid 0 stands in for CAP_SYS_ADMIN where the kernel asks for it.
//   - Serials look random and are unique within a store, as the kernel's,
//     but they are a keyed permutation of the store's allocation order
//     (keystore.Tx.NewSerial), never reused while the store lives: the
//     kernel draws each at random and may reuse a dead key's. The order
//     lets the store append new keys to its B+tree.
//
// # Caveats
//
//   - request_key upcalls, authorisation keys (@a) and typed link
//     restrictions are not supported; they answer ENOKEY, ENOKEY and ENOENT.
//   - A Process is one thread: its thread and process keyrings are two
//     keyrings with the same lifetime. Links to or from them are not
//     charged to anyone's quota, and keys only they hold are stored (sealed)
//     until the Process is released or the store next opened.
//   - Watches and anonymous session keyrings live in memory: a store that
//     is closed and opened again has neither, and collects keys that only
//     anonymous sessions held.
package keyring
