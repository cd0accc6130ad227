//go:build linux

// Package notify binds notification queues (package watchqueue) to watched
// objects, as the kernel's watch lists do: a WatchList per object holds the
// watches on it, and posting to the list delivers a record to every watch's
// queue, tagged with that watch's tag.
//
// # Basics
//
// A watch binds (queue, object, tag 0..255, the credentials of whoever set
// it). WatchList.Add sets one, WatchList.Remove removes one with a removal
// record, WatchList.Destroy ends them all with removal records when the
// object is gone, and closing a queue drops its watches silently. A Policy,
// shared by all the watch lists of one store, counts each user's watches
// against a limit (DefaultWatchLimit) and carries the Security hooks: may
// these credentials watch this object, and may this record reach this
// watcher.
//
// Posting takes the watch's tag into the record, then applies the queue's
// filter, then the security hook, then the queue, as
// post_watch_notification does. It takes no lock of the list and never
// blocks on a slow queue: that queue loses records, nobody else waits.
//
// # Caveats
//
//   - A watch's quota is returned exactly once, whichever way it ends.
//   - A post racing a Remove may land after the removal record; serialise
//     them if order matters (the key store posts in commit order).
//   - The package does not know what objects are; ids are the caller's.
package notify
