// Command keyctl-go is a drop-in for keyutils 1.6.3's keyctl that acts on a
// keyctl-go store instead of the kernel: the same commands, arguments,
// output, messages and exit codes.
//
// Where the keys are is package keyctl's rule (keyctl-go --help prints
// it): a leading "--socket PATH" or $KEYCTL_GO_SOCKET names a daemon; else
// "--db PATH" or $KEYCTL_GO_DB names a store, served by its daemon or
// opened here; else the system daemon at /run/keyctl-go/socket, if it
// answers; else the user's own daemon; else the user's own store,
// $XDG_DATA_HOME/keyctl-go/keys.db (XDG_DATA_HOME defaulting to
// ~/.local/share), created with its key file on first use. Commands act
// with the caller's uid, gid and groups (perms.Current). @s is the
// keyring whose serial is in $KEYCTL_GO_SESSION, else the user-session
// keyring, as for a process the kernel gave no session keyring.
//
// `session` runs a program in a new (or named) session keyring handed down
// in KEYCTL_GO_SESSION, and collects an anonymous one when the program
// exits; `new_session` cannot change its parent's session from userspace,
// so it prints a session serial to adopt: export KEYCTL_GO_SESSION=$(keyctl-go new_session).
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
//
// Exit codes are keyctl's: 0 success, 1 a failed operation, 2 a usage error,
// and 3 where keyctl uses it (supports with an unknown capability).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv), os.Args[1:])
	stop()
	os.Exit(code)
}
