//go:build linux

// Package keyctl is the one way in to keyctl-go for a Go program: Open
// finds the store the way the keyctl-go command does, through a daemon if
// one serves it or else by opening the file, and returns one Caller that
// works the same either way, watching included.
//
// # Basics
//
//	c, err := keyctl.Open(ctx, keyctl.Options{})
//	if err != nil { ... }
//	defer c.Close()
//	id, err := c.Add(ctx, "user", "token", secret, keyring.UserKeyring)
//
// The Caller is a keyring.Caller (the operations of a keyring.Process,
// with its errnos) plus Watch and Records, which read one watch queue
// that belongs to the Caller: a watchqueue.Queue of its own when the
// store is embedded, the daemon connection's queue when it is remote,
// sized and filtered alike (Options.QueueSize, Options.Filter), and
// losing records alike, with one loss record, when the reader falls
// behind. Route says which of the rule's steps it took.
//
// # Discovery
//
// Every client looks for the store in this order, and the first step
// that applies decides; the keyctl-go command (--socket and --db are its
// options) and Open follow the same rule:
//
//  1. Options.Socket (--socket), else $KEYCTL_GO_SOCKET: the daemon
//     there, and no other. One that does not answer is an error.
//  2. Options.Store (--db), else $KEYCTL_GO_DB: that store's per-user
//     daemon, at daemon.UserSocket($XDG_RUNTIME_DIR, store), else the
//     file itself, opened here.
//  3. The system daemon at daemon.SystemSocket (/run/keyctl-go/socket),
//     if it answers: one key space for every user of the machine, as the
//     kernel has.
//  4. The per-user daemon of the user's default store, at
//     daemon.UserSocket($XDG_RUNTIME_DIR, ""), if it answers.
//  5. The user's default store ($XDG_DATA_HOME/keyctl-go/keys.db,
//     XDG_DATA_HOME defaulting to ~/.local/share), opened here.
//
// A daemon is believed only if the kernel says it runs as the caller's
// uid or root (or, at the system socket, as its directory's owner: see
// package daemon, Trust). One that answers as anybody else (EPERM), or
// does not answer in time (ETIMEDOUT), at steps 2 to 4 is an error, not
// a reason to go on to the next step: going around it would hide it, and
// split the user's keys between two stores without a word. A daemon that
// hangs up without answering is tried once more, since one exiting (idle)
// does that, and is gone by then. A store file
// held by a daemon that is starting (keystore.ErrLocked) is waited for,
// looking for its daemon meanwhile.
//
// A program that starts a daemon of its own, as keyctl-go's watch does,
// starts it at StoreSocket, which is where steps 2 and 4 look.
//
// # Revisions and the store's identity
//
// A store counts its commits: its revision. A Caller that calls
// KeepRevisions before its first Watch hears every record with the
// revision of the commit that posted it, and a loss record with the
// revision of the last record delivered before the gap; Changes gives
// what changed after a revision, from the history the store keeps in
// memory (its latest keyring.DefaultHistoryLen changes, since it opened),
// filtered to the keys the caller may view, as records are. Together
// they let a consumer that lost records, or went away, catch up without
// reading everything again, embedded and through a daemon alike.
//
// A revision means something only in the history that counted it, and
// StoreID names that history: the store's UUID (keyring.Store.UUID, made
// with the store and kept in its file, its log and its key file), and the
// UUID of its history, made each time the store is opened. A consumer
// keeps the StoreID with every revision it keeps, and passes both to
// Changes, which refuses a revision of another store with
// keyring.ErrOtherStore, and one of another opening of the same store, or
// older than the history reaches, with keyring.ErrCompacted (both ESTALE):
// either way, the consumer reads afresh what it needs. A consumer that
// reconnects to another store at the same path, the same store deleted
// and made anew, or the store restored from a backup (its UUID, an older
// revision, and revisions counted anew from there, which are not the ones
// the consumer saw) never has its revision read as the store's. Package
// secrets' WatchFrom does all of this for secrets.
//
// # Caveats
//
//   - A remote Caller acts with the credentials the kernel gives the
//     daemon (SO_PEERCRED); an embedded one with Options.Cred, by default
//     perms.Current(), the same three ids. An embedded store belongs to
//     this process while it is open: other processes wait for it (bbolt's
//     lock) or go through a daemon.
//   - Watches, and sessions joined, end with Close, as a process's end
//     when it exits.
//   - A remote Caller's records cross the connection after the replies
//     of the calls that caused them, into a queue of the Caller's own of
//     the same size, which a goroutine fills while the connection lives;
//     so a program that changes keys and reads its records later neither
//     stalls its calls nor loses differently. Records it has not read yet
//     when the change's call returns may still be on their way.
package keyctl
