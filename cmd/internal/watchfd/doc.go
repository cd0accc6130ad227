//go:build linux

// Package watchfd is the protocol of keyctl-go watch_session's watch fd:
// how watch_add, watch_rm and watch_sync, run anywhere below a
// watch_session, reach the watcher's queue.
//
// keyctl watch_session hands its program the notification pipe as fd N;
// watch_add, watch_rm and watch_sync act on that pipe through the fd they
// inherited. keyctl-go's queue lives in the daemon, on the watcher's
// connection, and cannot be handed down. What is handed down instead is
// one end of a socket pair (AF_UNIX, SOCK_SEQPACKET) whose other end the
// watcher holds (New, Server.Serve): a command that inherited it sends the
// watcher a Request (Call), with a fresh reply socket attached
// (SCM_RIGHTS), and the watcher answers on that socket alone with the
// errno of what it did. A reply socket per request keeps replies from
// crossing when several processes below the session share the fd.
//
// # Frames
//
// Every frame starts with "keyctl-go-watch/1 ", so that an fd that is some
// other socket is told from a watcher's. A request then says "add
// <serial>", "rm <serial>" or "sync", the serial in decimal within a
// key_serial_t; a reply says the errno in decimal, 0 for success. A frame
// is one SOCK_SEQPACKET record, so it needs no length.
//
// # Security
//
// The kernel checks a watch_add against the credentials of whoever calls
// it. The watcher cannot: it sets watches through its own connection, with
// its own rights. So it hears only its own uid: the socket has SO_PASSCRED
// set, the kernel attaches every sender's credentials (SCM_CREDENTIALS)
// and refuses a sender that claims ones it does not have, and a request
// from any other uid is answered EACCES before it is read further. The fd
// may travel (a careless program hands it on, or runs a child as another
// user); the uid check is what makes that harmless.
//
// # Caveats
//
// A Call on an fd that is not a watcher's fails with ErrNotWatchFD
// (EINVAL, as the kernel answers for an fd that is not a notification
// pipe), also when something at the other end does not answer within
// 30 seconds; a watcher that has gone is ENOENT, as for a queue torn
// down. A sync may take long: it waits for the watcher to catch up with
// the store.
package watchfd
