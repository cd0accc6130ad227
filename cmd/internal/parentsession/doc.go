//go:build linux

// Package parentsession keeps the records by which keyctl-go's
// new_session gives its parent a session keyring, as the kernel's
// KEYCTL_SESSION_TO_PARENT does: "session S for process P", so that the
// keyctl-go commands P starts afterwards find S as their @s.
//
// # Basics
//
// A userspace program cannot change its parent's credentials, so the
// session is looked up instead of inherited. Parent checks the parent as
// the kernel does (not init, one thread, the caller's uid and gid as its
// every real, effective and saved id; else EPERM). Dir.Put records the
// session for the parent: one small file per parent process and store,
// named by the parent's pid and start time and by a hash of the store's
// name, written whole (a temporary file renamed into place) in a
// directory private to the user (daemon.PrepareUserDir). Dir.Find walks
// a process's ancestors, nearest first, and returns the first record that
// applies; Dir.Sweep removes the records of processes that are gone.
//
// A record applies to a process Q when it names an ancestor A of Q
// (pid and start time, so that a reused pid is not taken for A), A's
// every uid and gid are still the record's, and the record was made no
// later than A forked the child through which Q descends: the kernel
// gives the new session to the children the parent forks afterwards, not
// to those it has. Times are /proc's start times, in clock ticks since
// boot (10 ms at the usual USER_HZ of 100), and the record's time is the
// start of the process that made it: a child forked in the same tick as
// that process counts as forked afterwards.
//
// A session handed down in $KEYCTL_GO_SESSION by `keyctl-go session`
// comes with its Owner, the process that handed it down: the walk stops
// there, so whichever is nearer, a record or that process, wins.
//
// # Caveats
//
// A record is a hint, never a grant: whoever uses its session adopts it
// through keyring.Process.AdoptSession, whose checks (a session of the
// caller's own uid) stay the boundary. The directory is read only if it
// passes daemon.CheckUserDir, so nobody but the user and root can have
// put a record there.
//
// One record is kept per parent and store: a parent that gives itself two
// sessions in turn keeps the second, and a child it forked between the
// two finds the session the parent had before both, not the first. A
// parent that execs a set-id program no longer has the record's ids, and
// its record is ignored (the kernel keeps the session across the exec).
package parentsession
