//go:build linux

// Package daemon serves a keyring.Store to other processes over a Unix
// socket, speaking the protocol its table of operations (ops.go) lays out
// and internal/wire encodes, and is the Go client for it. It is the
// foundation of the keyctl-go daemon: one process owns the store file
// (bbolt locks it), and everyone else asks that process.
//
// # Basics
//
// Listen binds the socket (ListenSocket, which replaces a stale socket
// file and refuses a live one) and Serve accepts connections. Each connection
// is one caller: the daemon learns who it is from the kernel alone
// (SO_PEERCRED and SO_PEERGROUPS on the accepted socket), never from
// anything the client sends, and acts for it through one keyring.Process
// that lives as long as the connection. Calls on a connection are
// answered in order.
//
// Each connection's goroutine reads requests, calls the store and writes
// the replies itself; replies to requests that arrived together go out in
// one write. Watches go to one watchqueue.Queue per connection, made by
// the first Watch, sized QueueSize, and a second goroutine, started then,
// streams what the queue holds to the client as record frames. The store
// posts into the queue without ever blocking, and only the connection's
// own goroutines wait on its socket, so a client that does not read slows
// nobody but itself: its queue fills and drops, and it meets a loss
// record when it reads again.
//
// Run serves until its context ends (SIGTERM, for a daemon) and then
// closes gracefully. A daemon for every user (system mode) keeps its
// socket and store at SystemSocket and SystemStore, in directories
// PrepareSystemDirs makes safe to share. A user's own daemon
// (Options.Private) serves that user and root alone, on the socket
// UserSocket names in the user's private runtime directory, which
// PrepareUserSocketDir makes or checks. One started by systemd serves the
// socket ActivationListener finds in fd 3. Nothing in it needs root:
// the checks that do (chown, another uid's persistent keyring) are made
// on the client's uid, and the system daemon runs best as a user of its
// own (contrib/systemd). Client.Status asks a daemon what it serves and
// whom: every uid's connections and watches for root, the asker's alone
// for anyone else.
//
// Dial connects a Client, whose methods mirror keyring.Process and whose
// errors unwrap to the daemon's errno. Both are a keyring.Caller, so a
// program switches between a store of its own and the daemon by changing
// the line that makes one. Watch is the exception: over the daemon the
// queue is the connection's (SetWatchQueue sizes and filters it), and
// records come back through Records; package keyctl gives a program on a
// store of its own the same Watch and Records, and finds the daemon. Dial
// talks only to a daemon running as the caller's uid or root (or, at
// SystemSocket, the system daemon's service user: see Trust), and gives
// up after DefaultDialTimeout.
//
// The store's history goes through the daemon as well: StoreID names the
// store and the history of it the daemon keeps, KeepRevisions (before
// the first Watch) makes the connection's records carry the store's
// revisions, and Changes gives what changed after one of them, as
// keyring.Process.Changes does embedded; a history too long for one
// reply comes in pages, which Changes puts together. package keyctl's
// doc says how a client tells one store's revisions from another's.
//
// Each operation is one row of the daemon's table (ops.go): its code on
// the wire, its name, and the call that serves it, whose argument and
// result are the op's request and reply types. The daemon serves a request
// through its row, and the Client's methods (calls.go) call through the
// same row, so the two agree on every op's types by construction. How to
// add one is below (Adding an operation).
//
// Dial then asks the daemon to move the connection's frames onto two
// pipes it makes (the pipes op): one for requests, one for replies and
// records. The same bytes cost half as much there (a write and a read
// take 1.4 µs on a pipe against 3.3 µs on the socket, on the development
// machine), and system calls are most of a call's cost. The socket stays
// open and silent: it says who the client is, and its hang-up ends the
// connection. A daemon that does not know pipes answers EOPNOTSUPP, and
// the connection stays on the socket.
//
// A client call writes its request and reads its reply on the caller's
// goroutine; calls made at the same time wait for their turn to read, or
// for the reply, which whoever is reading hands over. Once a connection
// watches, or a request finds the socket full, a reader goroutine reads
// for all: records come unasked, and the daemon may be waiting to write
// replies before it reads on.
//
// # Trust
//
// The daemon stands between local users, and between a user and whoever
// else can put a socket where that user looks. What guards what:
//
//   - Who a client is comes from the kernel alone: SO_PEERCRED (pid, uid,
//     gid) and SO_PEERGROUPS (supplementary groups), both captured by the
//     kernel when the client called connect(). A client that exits and
//     has its pid reused, or changes its groups, its uid (a set-id
//     program dropping privileges) or anything else after connecting,
//     is still served as it was at connect(), for the connection's life:
//     a process handed a connection (SCM_RIGHTS, fork) acts as whoever
//     opened it, as with any open file. The pid is logged, never used to
//     decide anything.
//   - Who the daemon is, a client asks the kernel too: SO_PEERCRED on the
//     dialled socket gives whoever called listen(). Dial refuses, before
//     it sends a byte, any but the caller's own uid and root (EPERM,
//     naming the socket and the uid found): a user who can place a socket
//     where another's client looks (a shared directory, a stale
//     $KEYCTL_GO_SOCKET) learns nothing from it. Root is trusted: it could
//     read the store anyway. A socket systemd made is root's. At
//     SystemSocket alone, the owner of its directory is trusted too, when
//     that directory's parent is root's and writable by nobody else, so
//     that only root could have handed it over: the system daemon may run
//     as a dedicated service user. Nowhere else does a directory's owner
//     count, or a user's directory under a root-owned /home would do.
//   - A per-user daemon (Options.Private) serves its own uid and root and
//     hangs up on anyone else at accept, logging it; its socket is 0600,
//     in a directory of the user's writable by nobody else, and every
//     directory above it root's or the user's, not writable by others
//     unless sticky, none a symbolic link (dirPolicy). The system daemon's
//     directories are held to the same, save privacy. Directories already
//     there are checked, never chmodded. The checks are made once, at
//     start: only root and the user could change what they found.
//   - One uid cannot deny the daemon to others: each ordinary uid holds at
//     most Options.MaxConnsPerUID connections; all of them together at
//     most what RLIMIT_NOFILE leaves after reservedFDs, which root and the
//     daemon's own uid (not bounded otherwise) keep; a connection must
//     send its first request within Options.FirstRequestTimeout. Accept
//     failing (out of descriptors) backs off up to a second and is logged
//     once per run of failures. A Gate keeps these rules, and Private; a
//     KCM server of the same process (package kcm) is admitted by the
//     daemon's (Server.Gate), so that they hold for both sockets
//     together. What it does not stop: many uids acting
//     together can spend the shared budget between them (but not root's
//     reserve); a user may keep MaxConnsPerUID connections busy with
//     calls, which are answered in turn with everyone else's; and the
//     store's own quotas, not these limits, bound what a user may store.
//   - request_key's callouts: a construction, its authority token
//     included, goes back to the connection that asked and no other;
//     AssumeAuthority takes the token and the uid the kernel gave the
//     connection, so another uid is refused even with the token. A key
//     its requester's connection leaves under construction is negated
//     when that connection ends. A call that waits for a construction
//     (a read, request_key, CompleteRequest) holds its connection, no
//     longer than keyring's ConstructionTimeout.
//   - The history (changes) is filtered by the connection's uid and groups,
//     as watches are: a change to a key the caller may not view is left
//     out of the reply whole, description, serial and all, and the name
//     of a key linked into one it may view is left out unless it may view
//     that key too. What every caller does learn is the store's revision,
//     which counts everyone's commits: how many there were, and when, not
//     what or whose (the kernel's /proc/key-users tells every uid's key
//     counts). The store's UUIDs (store_id) are no secret: they name the
//     store, and grant nothing.
//   - Logs (Options.Logger) carry uids and pids, never payloads. Refusals
//     are logged at most once a second, with a count of the rest.
//
// # Adding an operation
//
// A new operation is a row of the table and the method that calls it;
// nothing else in the daemon, its transport or the wire changes:
//
//  1. In package keyring, the Process method that does the work, its
//     line in keyring.Caller, and the Tx method of the same name (a Tx is
//     a Caller too: EOPNOTSUPP if the op cannot run in a transaction).
//     The compiler then holds the Client to it (var _ keyring.Caller =
//     (*Client)(nil)), and package keyctl's Caller has it at once,
//     embedded or remote. An op about the connection rather than the
//     store (watch_queue, watch_revisions, status) has no keyring method:
//     its row calls the conn or the Server.
//  2. In ops.go, the row: op(code, name, serve), code the next number
//     unused (codes are never reused). serve takes the op's request and
//     returns its reply, both message types of internal/wire: reuse one
//     whose fields fit (KeyRequest, SerialReply, Empty...), or add a
//     struct there with its EncodeFields and DecodeFields. serve acts as
//     c.proc, whose credentials the kernel gave: nothing in the request
//     says who asks.
//  3. In calls.go, the Client's method of the same signature as the
//     keyring one: it packs its arguments into the request, calls
//     through the row (opX.call(ctx, c, req)) and unpacks the reply.
//  4. go test ./daemon -run TestOpsFrozen -update appends the op to
//     testdata/ops.golden, which freezes its code and its types' encoding
//     from then on; TestOpsRoundTrip and FuzzOpBodies take its types
//     from the row, with no sample to write. What remains to write is a
//     test of the op in use, and, for one that reveals or grants
//     anything, one in which a process of another uid asks and is
//     refused (system_test.go).
//
// A daemon that does not know an op answers EOPNOTSUPP and the connection
// carries on, so a client may try a new op on an old daemon. Changing an
// op's request or reply would break older clients and daemons alike:
// that is a new op, or a new wire.Version.
//
// # Caveats
//
//   - A client that watches must keep reading Records: records and replies
//     share the connection, so unread records stall its own calls.
//   - Watches, and the session keyrings the connection joined, end with the
//     connection, as a process's do when it exits.
//   - Close stops serving; the caller closes the store afterwards.
//   - The daemon reads a connection's socket inside one
//     syscall.RawConn.Read for the connection's life (see frameReader), and
//     a client call writes its request inside the RawConn.Read that reads
//     the reply (see replyReader): each saves a read(2) per call. A
//     connection's socket must not be read any other way.
//   - Unlike the kernel, which checks a process's credentials as they are
//     at each call, the daemon uses those of connect() for the
//     connection's life (see Trust).
package daemon
