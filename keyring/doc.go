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
// # Possession
//
// A key is possessed, as in the kernel, when it is reachable from the
// process's thread, process or session keyring (the user-session keyring
// when it has no session). The kernel gives a process a session keyring
// only by inheritance or by joining one by name; a Process gets one by
// JoinSession, or by AdoptSession, the userspace form of inheritance,
// which takes a serial and so checks what the kernel's fork never needs
// to: that the keyring is a session of the caller's own uid handed down
// (held as a session by a process of the store, pinned by PinSession, or
// a registered named session), or a keyring of its own it may Search,
// which the kernel would let it join by name. Anything else is EACCES, to
// root as well. Pins are their owner's: only the keyring's owner may pin
// or unpin it, and the registry's holds on user and persistent keyrings
// are not pins. Answers a Process caches about
// possession are dropped whenever its keyrings change.
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
//   - Uid 0 stands in for CAP_SYS_ADMIN where the kernel asks for it, and
//     for CAP_SETUID in GetPersistent.
//   - A session is handed down by serial (AdoptSession), under the rules
//     above, rather than by fork. Named sessions are registered by name,
//     one keyring to a name: a name held by another user's live session
//     that the joiner may not Search stays with it, and the joiner gets an
//     unregistered keyring of that name (the kernel lets both carry it).
//     Joining by name looks only at named sessions, where the kernel's
//     join finds any keyring of that name the caller may Search.
//   - A named session lives as the kernel's does, while something holds
//     it: a process that has it as its session, a PinSession pin (the
//     userspace stand-in for the processes a session is handed down to,
//     which `keyctl-go session` takes while its program runs), or a link.
//     The name holds nothing: when the last holder lets go, the keyring
//     and its name are collected, and its quota is back. (Named sessions
//     once persisted by their name alone; since their default mask
//     denies their owner Search, nobody could list or remove them, and a
//     user who ran 197 named sessions could add no key at all. A store
//     made then still has those holds: its owner may take each off with
//     UnpinSession, as a pin.)
//   - Another user's named session that the kernel lets a process join
//     (it grants Search) can be joined but not pinned: pins record no
//     pinner, so only the owner may take them.
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
