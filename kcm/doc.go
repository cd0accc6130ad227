//go:build linux

// Package kcm is a KCM server: the daemon that MIT krb5's (and Heimdal's)
// KCM credential cache type sends every cache operation to, over a Unix
// socket, in Heimdal's KCM protocol. With it, unmodified kinit, klist,
// kvno, kswitch, kdestroy and every GSSAPI program keep their tickets in
// a keyctl-go store, where keyctl-go krb5 list, export and watch see them
// as they change.
//
// # Basics
//
// NewServer serves a *keyring.Store; Serve accepts on a Unix socket
// (Listen makes one, ActivationListener takes one systemd passed); Close
// stops gracefully: the request in flight on each connection finishes
// and its reply goes out, then every goroutine ends. MIT clients point at
// the socket with krb5.conf's [libdefaults] default_ccache_name = KCM:
// and kcm_socket = PATH (DefaultSocket when unset).
//
// One store, one truth: a uid's caches are its KEYRING collection in the
// store, KEYRING:persistent:<uid>, in MIT's KEYRING layout (package
// krb5ring), the collection keyctl-go krb5 uses for that uid by default.
// A KCM cache name is the cache's name in that collection: "<uid>" is the
// first cache, GEN_NEW makes "<uid>:NNNNN", and a cache that keyctl-go
// krb5 import made (krb_ccache_XXXXXXX) keeps its name. The collection's
// primary pointer is the default cache.
//
// The uid is the kernel's: SO_PEERCRED on the connection. A uid's
// requests are served in its own collection, whatever names they carry;
// a name that starts with another uid ("1001", "1001:5") is refused as
// sssd-kcm refuses it: a cache that is not there to read or destroy
// (KRB5_FCC_NOFILE, "Credentials cache 'KCM:1001' not found"), and
// KRB5_FCC_INTERNAL to make one or switch to it. Root is no exception, as
// with sssd-kcm by default.
//
// # Trust
//
// The server stands between local users as the keyctl daemon does, and
// admits connections by the same rules, a daemon.Gate's (see the Trust
// section of package daemon). Who a client is comes from the kernel
// (SO_PEERCRED), never from what it sends. A private server
// (Options.Private: a per-user daemon's) serves its own uid and root
// alone, on a socket Listen makes 0600, and hangs up on anyone else before
// reading a byte: the caches it makes are charged to nobody (see Limits),
// and another uid must not store them in this user's store. Each other
// uid holds at most Options.MaxConnsPerUID connections, and all of them
// together what RLIMIT_NOFILE leaves after a reserve for root and the
// server's own uid; a connection has Options.FirstRequestTimeout to send
// its first request; out of descriptors, accept backs off. Refusals and
// cut connections are logged (uid, pid, why), at most once a second.
// keyctl-go daemon gives its KCM server the daemon's own gate
// (Options.Gate), so a uid's connections to both sockets count together.
//
// A reply says nothing of another uid's caches: every name and UUID is
// looked up in the caller's own collection, an error is a code alone (its
// reason goes to the log), and a refused connection gets no reply at all.
//
// # Operations
//
// One table (ops.go) drives the server: each row is an operation code,
// its name, whether it changes the store, and the method that reads its
// arguments and serves it. These are every operation MIT 1.20's client
// sends: GEN_NEW, INITIALIZE, DESTROY, STORE, RETRIEVE, GET_PRINCIPAL,
// GET_CRED_UUID_LIST, GET_CRED_BY_UUID, REMOVE_CRED, GET_CACHE_UUID_LIST,
// GET_CACHE_BY_UUID, GET_DEFAULT_CACHE, SET_DEFAULT_CACHE,
// GET_KDC_OFFSET, SET_KDC_OFFSET, and MIT's GET_CRED_LIST (13001) and
// REPLACE (13002). Anything else is answered KRB5_CC_NOSUPP, which MIT's
// client takes for "not implemented".
//
// An operation that changes the store runs in one transaction
// (keyring.Process.Atomic) with its checks: it is one commit, one fsync,
// and a failure leaves nothing behind. REPLACE, which kinit and kinit -R
// use, clears the cache keyring and fills it again in that transaction,
// so a reader sees the old cache or the new one, never an empty one, and
// the cache keeps its UUID. The operations of one uid are served one at a
// time, as sssd-kcm queues them, so that one's checks are not raced by
// another's change.
//
// Cache and credential UUIDs are name-based UUIDs (version 5) of the
// serial of the key holding the cache (its keyring) or the credential:
// stable while it exists, the same after a restart, never reused (see
// uuid.go).
//
// # Limits
//
// The keys are made by a process charged to nobody's kernel quota
// (keyring.Store.ProcessNotInQuota): a handful of service tickets exceed
// the kernel's 20,000 bytes. That is why a per-user server must be
// Private: served, any uid could store that much in the user's store. The
// limits are the server's own, per uid:
// Options.MaxCaches caches (default 64, sssd-kcm's max_uid_ccaches) and
// Options.MaxCacheBytes bytes of credentials per cache (default 64 MiB,
// max_ccache_size). Past them the client gets what sssd-kcm gives,
// KRB5_FCC_INTERNAL ("Internal credentials cache error"), but for a
// REPLACE that is too big (below). A user writing into those keys through
// the keyctl daemon is charged for it against its kernel quota, so the
// exemption is the server's alone.
//
// A request is at most Options.MaxRequestSize bytes (default 10 MiB,
// MIT's and sssd-kcm's packet limit); a longer one is answered KRB5_CC_IO
// and its connection closed unread. A new connection that sends no whole
// request within Options.FirstRequestTimeout (default 10 s, the keyctl
// daemon's) is closed, and so is one idle, or slow to send a request, for
// Options.IdleTimeout (default 60 s, sssd-kcm's client_idle_timeout);
// MIT's client reconnects. A request that does not parse is answered
// KRB5_CC_IO, as sssd-kcm answers it, and changes nothing; the connection
// goes on. FuzzHandle checks that no bytes crash the handler.
//
// # Where this differs from sssd-kcm, on purpose
//
//   - REPLACE and RETRIEVE are implemented (sssd 2.8.2 answers
//     KRB5_FCC_INTERNAL, and MIT falls back to INITIALIZE and STOREs, in
//     which a reader can find the cache empty, and to reading the whole
//     cache for each ticket it looks for). RETRIEVE returns the first
//     match in the cache's order, as MIT's own retrieval by iteration,
//     and reads one key when the client names its server exactly.
//   - REMOVE_CRED is implemented (sssd answers "not implemented").
//   - A REPLACE past the byte limit is answered KRB5_CC_WRITE, not
//     KRB5_FCC_INTERNAL: MIT takes the latter for "not implemented" and
//     would replace the cache by hand, emptying it and storing until the
//     limit, leaving a broken cache where the old one was whole.
//   - INITIALIZE clears the cache in place instead of deleting it and
//     making a new one, so the default cache does not move (sssd issue
//     #6357) and the cache keeps its UUID.
//   - A cache holds one credential per server principal (MIT's KEYRING
//     layout): storing a ticket for a server again replaces the old one,
//     so tickets do not pile up (sssd issues #6667, #5567). Credentials
//     are listed in the order they were first stored.
//   - Credentials and caches expire with their tickets, as MIT's KEYRING
//     cache sets key timeouts: an expired cache is collected after the
//     store's GC delay instead of counting against the cache limit
//     forever (sssd issue #7105).
//   - Names need not start with the caller's uid: a cache made by
//     keyctl-go krb5 import is served under its own name. Only a name
//     that starts with another uid is refused (sssd refuses to make any
//     name without the caller's uid in front, and its check is a plain
//     prefix, so uid 1 may make "10"; here "10" is uid 10's).
//   - GET_DEFAULT_CACHE returns the collection's primary; when that cache
//     is gone but others are there, the first of them, as sssd does once
//     its default is deleted, without changing the primary pointer.
//   - A GET_CRED_LIST reply longer than MIT's 10 MiB reply limit is
//     answered KRB5_CC_NOSUPP, after which MIT's client asks for the
//     credentials one at a time.
//   - The cache limit is exact, and a kinit it refuses leaves nothing:
//     sssd-kcm 2.8.2 with max_uid_ccaches = 2 let a uid make a third
//     cache, and the kinit it refused left an empty cache that klist -l
//     lists as expired.
//   - A new connection has 10 s (Options.FirstRequestTimeout), not
//     client_idle_timeout's 60, to send its first request, and a uid
//     other than root and the server's own holds at most MaxConnsPerUID
//     connections (see Trust): the daemon's rules, so that one uid
//     cannot hold every descriptor the server has.
//   - Changes are watchable: keyctl-go krb5 watch (krb5ring.Watch) hears
//     what kinit, kvno and kdestroy do through KCM.
//
// # Caveats
//
//   - A process per uid serves all its connections; its gid is the first
//     connection's. The keys' group has no rights in MIT's permissions,
//     so it matters only to what keyctl describe prints.
//   - A uid's persistent keyring, which holds its collection, expires as
//     the kernel's does, three days (keyring.PersistentKeyringExpiry)
//     after it was last asked for, caches and all. The server asks for
//     it again on the first request a minute or more after it last did; a
//     uid that makes no request for three days loses its caches, as with
//     MIT's KEYRING:persistent caches, where sssd-kcm keeps them.
//   - The collection is resolved once a minute: if somebody unlinks the
//     uid's collection keyring through the daemon, or puts another in its
//     place, the server serves the old one for up to a minute.
//   - GET_CRED_BY_UUID reads the cache to find the UUID: a client that
//     walks a cache of n credentials by UUID (Heimdal; MIT only when
//     GET_CRED_LIST fails) does n² work. MIT 1.20 uses GET_CRED_LIST.
package kcm
