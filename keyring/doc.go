//go:build linux

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
// JoinSession, KeyringID; and for request_key's callouts
// RequestKeyWithCallout, AssumeAuthority, Instantiate, Reject (Negate) and
// CompleteRequest. Errors unwrap to the errno the kernel returns
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
// revisions, which means something only with the StoreID it came from. Concurrent changes share fsyncs (see keystore.DB.Update). A
// reader may see a change up to one fsync before it is durable (see
// keystore's Caveats).
//
// # Request-key callouts
//
// A request_key with callout information that finds nothing makes the key
// under construction, linked into the destination keyring, with an
// authority to build it (a ".request_key_auth" key, @a, in a "_req.<key>"
// keyring): RequestKeyWithCallout returns them as a Construction. Others
// who meet the key meanwhile wait for it (reads, request_key; describe and
// the other partial lookups do not), as in the kernel; an operation of a
// transaction (Process.Atomic) does not wait, it fails with EAGAIN, and the
// callout operations themselves are EOPNOTSUPP there (see Tx). The helper
// assumes the authority (AssumeAuthority), under which it may instantiate,
// negate or reject that one key and possesses what the requester possesses;
// then the requester completes the request (CompleteRequest), which negates
// the key if the helper did not (ENOKEY, DefaultNegativeTimeout) and
// returns the outcome. A negative key answers further requests with its
// error, without a callout, until it expires.
//
// The store never runs the helper: the requester does, as itself (package
// requestkey reads /etc/request-key.conf and runs what it names). The
// kernel runs /sbin/request-key as root, lending it the requester's
// keyrings; a daemon serving many users could run programs only by
// changing identity, and then a bug in it would run them as anyone. Here
// the program runs with exactly the rights of the process that asked, and
// the store trusts what it writes no more than an add_key from that user.
//
// The authority goes to the helper as a token (Construction.Token), which
// the requester hands to it alone (keyctl-go: in its environment) and
// AssumeAuthority checks, with the requester's uid: in the kernel the
// helper holds the authority because it is the only process in the
// authority's session keyring, which nobody can join; here a live session
// can be adopted by serial by any process of its owner's uid (see
// AdoptSession), so holding the "_req" keyring proves nothing. Another uid
// is refused even with the token.
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
//     keyrings in the order they were linked, where the kernel's follow
//     its hash of their descriptions: both are fixed for the same steps,
//     and keyutils' own tests, which expect a keyring linked first to be
//     searched first, pass on both.
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
//   - A construction is bounded (Options.ConstructionTimeout): a key still
//     under construction then is negated, as it is when its requester's
//     Process is released or the store closes. A store reopened after a
//     crash answers ENOKEY for a key whose construction the crash cut
//     short, and reaps it after its deadline and the GC delay.
//   - AssumeAuthority takes a token and requires the requester's uid (see
//     Request-key callouts); the kernel asks for possession of the
//     authority key.
//   - Serials look random and are unique within a store, as the kernel's,
//     but they are a keyed permutation of the store's allocation order
//     (keystore.Tx.NewSerial), never reused while the store lives: the
//     kernel draws each at random and may reuse a dead key's. The order
//     lets the store append new keys to its B+tree.
//
// # Caveats
//
//   - Typed link restrictions are not supported (ENOENT).
//   - A wait for a key under construction ends with its ctx, or with the
//     construction (at most Options.ConstructionTimeout). A caller that
//     passes a ctx without an end, as the daemon does for its clients'
//     calls, may wait that long, and so may whoever waits for that call.
//   - Authorities and the helpers' "_req" keyrings live in memory, as
//     thread and process keyrings do: a helper reaches them through the
//     same Store (a daemon, or the store its requester serves it).
//   - A Process is one thread: its thread and process keyrings are two
//     keyrings with the same lifetime. Links to or from them are not
//     charged to anyone's quota, and keys only they hold are stored (sealed)
//     until the Process is released or the store next opened.
//   - Watches and anonymous session keyrings live in memory: a store that
//     is closed and opened again has neither, and collects keys that only
//     anonymous sessions held.
//   - The history of changes (Process.Changes, history.go) lives in memory
//     too, its latest Options.HistoryLen changes: a store opened again
//     remembers nothing from before, and has a new StoreID.History, which
//     refuses the revisions of the history before (a backup restored
//     counts its revisions anew from the backup's). The kernel keeps
//     none, and numbers no revisions.
//   - A store shared by hosts (keystore.Options.Etcd, docs/etcd.md) is one
//     key space for processes on many hosts, which the kernel never is.
//     Every host's commits are delivered to every host's watchers from
//     the store's change feed (shared.go), in etcd's revision order and
//     with etcd's revision; a feed that missed compacted changes gives
//     every watcher a loss record. Reads answer from the host's copy, a
//     commit's travel time behind other hosts (Options.Linearizable,
//     Store.Sync). Processes, their holds and watches stay on their host,
//     and keys only processes held are not collected when a store opens,
//     since other hosts' processes may hold them. An operation's function
//     may run more than once (a commit refused because another host
//     changed what it read), as bbolt's group commit already demands: it
//     gathers its notifications in its txn and posts nothing until the
//     commit.
package keyring
