// Package daemon serves a keyring.Store to other processes over a Unix
// socket, speaking package wire, and is the Go client for it. It is the
// foundation of the keyctl-go daemon: one process owns the store file
// (bbolt locks it), and everyone else asks that process.
//
// # Basics
//
// Listen binds the socket and Serve accepts connections. Each connection
// is one caller: the daemon learns who it is from the kernel alone
// (SO_PEERCRED on the accepted socket), never from anything the
// client sends, and acts for it through one keyring.Process that lives as
// long as the connection. Calls on a connection are answered in order.
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
// PrepareSystemDirs makes safe to share; one started by systemd serves
// the socket ActivationListener finds in fd 3.
//
// Dial connects a Client, whose methods mirror keyring.Process and whose
// errors unwrap to the daemon's errno. Both are a keyring.Caller, so a
// program switches between a store of its own and the daemon by changing
// the line that makes one. Watch is the exception: over the daemon the
// queue is the connection's, and records come back through Records.
//
// Dial then asks the daemon to move the connection's frames onto two
// pipes it makes (wire.OpPipes): one for requests, one for replies and
// records. The same bytes cost half as much there (a write and a read
// take 1.4 µs on a pipe against 3.3 µs on the socket, on the development
// machine), and system calls are most of a call's cost. The socket stays
// open and silent: it says who the client is, and its hang-up ends the
// connection. A daemon that does not know OpPipes answers EOPNOTSUPP, and
// the connection stays on the socket.
//
// A client call writes its request and reads its reply on the caller's
// goroutine; calls made at the same time wait for their turn to read, or
// for the reply, which whoever is reading hands over. Once a connection
// watches, or a request finds the socket full, a reader goroutine reads
// for all: records come unasked, and the daemon may be waiting to write
// replies before it reads on.
//
// # Caveats
//
//   - Supplementary groups are read from /proc/<pid>/status after accept,
//     not captured at connect as uid and gid are: a process that changes
//     its groups, or exits and has its pid reused, in between, is seen with
//     the groups of whatever holds the pid then. The daemon checks that
//     process's uid and gid still match and otherwise grants no
//     supplementary groups: best effort, failing towards fewer rights.
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
package daemon
