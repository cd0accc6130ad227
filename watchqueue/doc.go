//go:build linux

// Package watchqueue is the kernel's general notification queue
// (kernel/watch_queue.c and the notification side of fs/pipe.c) in Go: a
// bounded queue of small binary records that posters write into without ever
// blocking, that a reader drains in whole records, and that says when it
// lost something.
//
// The package knows nothing about keys or watches; package notify binds
// queues to watched objects. Records are byte for byte the kernel's uapi
// (include/uapi/linux/watch_queue.h), so a program that parses a
// notification pipe parses what Read returns.
//
// # Basics
//
// A Queue is made with New, sized once with SetSize (1..512 notes, rounded
// up to whole pages of 32 as the kernel does; the ring gets the next power
// of two slots), optionally filtered with SetFilter, and then read:
//
//   - Read and ReadContext copy as many whole records as fit, never
//     splitting one; a buffer too small for the next record is ENOBUFS.
//   - TryRead does not block: with nothing queued it is EAGAIN.
//   - Records decodes them into KeyNotification, Removal, Loss and Raw values.
//   - Ready gives a channel for select loops.
//
// Each record starts with an 8-byte Header: the type (24 bits) and subtype
// (8 bits), then an info word holding the record's length in bytes (bits
// 0..6, so at most 127), the tag of the watch that delivered it (bits
// 8..15) and type-specific bits (16..31).
//
// # Loss
//
// Post never blocks and never allocates. When the queue is full the record
// is dropped and the loss is charged to the newest unread record; the
// reader gets one 8-byte Loss record right after that record, or at the
// start of its next read if that record ended the read. Any number of
// losses before the reader catches up collapse into that one record, so a
// reader knows that something was lost and where, not how much.
//
// A queue made with Options.Revisions goes further: every record carries
// the 64-bit revision its poster supplied (8 more bytes, and the length
// field says so, so parsers that walk by length still work), and the Loss
// record carries the revision of the last record delivered before the gap,
// which tells a consumer exactly what to re-list. A revision is the
// poster's count: it means something only with the identity of whoever
// counted it (for keyctl-go's stores, a keyring.StoreID, which a consumer
// keeps beside every revision it keeps; see package keyctl).
//
// # Filters
//
// A Filter holds up to 16 entries, each naming a type, a set of subtypes
// and an info mask and value. Once a filter is set, a record passes only if
// some entry accepts it. Removal and loss records are never filtered.
// Entries for types that are not registered (RegisterType) are skipped as
// the kernel skips types it does not know. The kernel keeps only 32 of the
// 256 subtype bits; here all 256 are honoured. ParseFilter reads the
// kernel's struct layout.
//
// # Caveats
//
//   - Before SetSize, posts are dropped silently: there is no room to
//     charge a loss to.
//   - Unlike poll() on a notification pipe, Ready fires for an owed loss
//     record alone, so a select loop that reads until EAGAIN sees it
//     promptly.
//   - Close discards unread records; blocked readers return io.EOF.
//   - There is no pipe-buffer accounting, so SetSize never fails with EPERM
//     or ENOMEM as the kernel's can.
package watchqueue
