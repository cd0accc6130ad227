//go:build linux

// Package cli is the keyctl-go command line, a drop-in for keyutils 1.6.3's
// keyctl that acts on a keyctl-go store instead of the kernel: the same
// commands, arguments, output, messages and exit codes. Commands keyctl-go
// and keyctl-go-etcd are its two builds (Main, Config).
//
// Where the keys are is package keyctl's rule (keyctl-go --help prints
// it): a leading "--socket PATH" or $KEYCTL_GO_SOCKET names a daemon; else
// "--db PATH" or $KEYCTL_GO_DB names a store, served by its daemon or
// opened here; else the system daemon at /run/keyctl-go/socket, if it
// answers; else the user's own daemon; else the user's own store,
// $XDG_DATA_HOME/keyctl-go/keys.db (XDG_DATA_HOME defaulting to
// ~/.local/share), created with its key file on first use. Commands act
// with the caller's uid, gid and groups (perms.Current). @s is the
// session keyring the process inherited: one new_session gave an
// ancestor, or the one in $KEYCTL_GO_SESSION, whichever was given nearer
// (see below); else the user-session keyring, as for a process the
// kernel gave no session keyring.
//
// `session` runs a program in a new (or named) session keyring handed down
// in KEYCTL_GO_SESSION, with itself named in KEYCTL_GO_SESSION_OWNER
// ("<pid>:<start time>"), and collects an anonymous one when the program
// exits.
//
// `new_session` gives its parent the session, as keyctl's
// KEYCTL_SESSION_TO_PARENT does, and prints its serial. A program cannot
// change its parent's credentials, so the session is recorded for the
// parent and looked up by its later children (package
// cmd/internal/parentsession): new_session checks the parent as the kernel
// does (not init, a single thread, the caller's uid and gid as its every
// real, effective and saved id, else EPERM), pins the session, and writes
// "session S for process P" (P's pid and start time, its ids, and the
// time: new_session's own start) to a file of its own in
// $XDG_RUNTIME_DIR/keyctl-go/parents, else /tmp/keyctl-go-<uid>/parents,
// beside the per-user daemons' sockets and checked as their directory
// is: the user's, mode 0700, no symbolic link on the way, nothing above
// it writable by others unless sticky (daemon.PrepareUserDir). A command
// that opens the store reads that directory once; only if it holds a
// record of the store does it check the directory (one that fails is
// ignored, with a warning) and walk its ancestors in /proc, nearest
// first. A record applies to the process it names, if its pid and start
// time match (a reused pid does not), its ids are still the record's (a
// set-id exec keeps pid and start time), and it was made no later than
// the child on the walk was forked: the kernel gives the session to
// children forked afterwards. The walk stops at the process named in
// KEYCTL_GO_SESSION_OWNER, whose session is then nearer; a
// KEYCTL_GO_SESSION without an owner (set by hand) wins over every
// record, and a request_key helper's session is its construction's. The
// session found is adopted as a handed-down one is
// (keyring.Process.AdoptSession), whose checks stay the boundary: a
// record naming another user's keyring is EACCES. Records are kept per
// store (by the socket of its daemon, whether or not the daemon runs),
// embedded or through a daemon alike. new_session removes the records of
// processes that are gone, and unpins their sessions, and the session a
// parent had from an earlier new_session.
//
// Where that differs from the kernel: start times are clock ticks (10
// ms), and a child forked in the tick new_session started counts as
// forked afterwards; a parent keeps one record per store, so a child it
// forked between two new_sessions finds the session the parent had
// before both; a parent's set-id exec drops its record (the kernel keeps
// the session); the session of a parent that exited is let go at the
// next new_session against the store, not at once; and a session set in
// KEYCTL_GO_SESSION by hand stands in for inheritance and wins. keyctl-go
// processes are the only ones that see the session: a program calling
// keyctl(2) itself sees the kernel's.
//
// `request2` and `prequest2` call out, as request_key(2) does: a key that
// must be constructed is built by the program request-key.conf(5) names,
// read from $KEYCTL_GO_REQUEST_KEY_CONF (a directory holding
// request-key.conf and request-key.d), else /etc. keyctl-go runs it itself,
// as the caller (package requestkey), with its authority in
// $KEYCTL_GO_AUTHORITY; a keyctl-go started with it assumes it, so the
// helper's `keyctl instantiate`, `pinstantiate`, `negate` and `reject`
// build the key. "keyctl" in the helper's PATH, and any program named
// keyctl, is keyctl-go. The helper reaches the store through the daemon
// keyctl-go uses, or a daemon keyctl-go serves its own store on, on a
// private socket, while the helper runs. What the helper does wrong goes
// to syslog, as request-key's messages do.
//
// A store made with the global option --passphrase (or while
// $KEYCTL_GO_PASSPHRASE_FILE or $KEYCTL_GO_PASSPHRASE_FD is set) is
// protected by a passphrase instead of a key file. Opening it takes the
// passphrase from the file, else the descriptor, else asks once on the
// terminal with echo off; with none of these and stdin not a terminal it
// fails, exit 1, rather than wait for an answer nobody can give.
//
// `watch` and `watch_session` go through a daemon, starting the store's
// own where the rule looks if none answers (handing it the passphrase
// through a pipe); it exits after 10 idle minutes. watch_session's
// fd is a socket to its watcher, through which watch_add, watch_rm and
// watch_sync below it reach the queue (see cmdWatchSession). `purge` and
// `reap` walk the session keyring's tree as keyctl does.
//
// `keyctl-go --help` prints keyctl-go's own usage; without arguments it
// prints keyctl's Format listing, as keyctl does.
package cli
