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
// keyring whose serial is in $KEYCTL_GO_SESSION, else the user-session
// keyring, as for a process the kernel gave no session keyring.
//
// `session` runs a program in a new (or named) session keyring handed down
// in KEYCTL_GO_SESSION, and collects an anonymous one when the program
// exits; `new_session` cannot change its parent's session from userspace,
// so it prints a session serial to adopt: export KEYCTL_GO_SESSION=$(keyctl-go new_session).
//
// Why new_session is not emulated: a daemon could record a session for
// the caller's parent (its pid from SO_PEERCRED, the parent's pid and start
// time from /proc) and have later clients take @s from their nearest
// recorded ancestor. Made safe against pid reuse (pidfds), against other
// uids (the parent's every uid checked, at recording and at use) and
// against a setuid exec of the parent (which keeps its pid and start
// time), it would still not be the kernel's semantics: the kernel gives the
// new session to the parent's future children only, while a lookup by
// ancestry moves the parent's running children too; it would have to rank
// a recorded ancestor against a session handed down in the environment,
// which only works if every handing down is recorded as well; and a store
// opened without a daemon has nowhere to keep the record. keyutils'
// session/valid2 therefore fails against keyctl-go.
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
