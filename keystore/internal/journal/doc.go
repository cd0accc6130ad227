//go:build linux

// Package journal is package keystore's storage engine: bbolt run
// without its own fsyncs, with every commit made durable by a
// write-ahead log beside the database file, and the file recoverable to
// the last acknowledged commit after a crash or a power failure.
//
// It knows bbolt, files and bytes, and nothing of keys: the store tells
// it which buckets redo records address (Options.Buckets) and how to read
// the store's UUID (Options.Identify).
//
// # Basics
//
// The parts, in the order an opener uses them:
//
//   - Log (log.go, logread.go, logv1.go) is the log file, locked against
//     other openers: its header slots, each holding a checkpoint (the head
//     of a bbolt meta page) and the UUID of the store it belongs to, and
//     its records. Read tells a torn write, never acknowledged, from
//     damage to what was (State.Refusal), and reads the formats of older
//     schemas for upgrades.
//   - Recover puts the log's checkpoint back into the database file and
//     replays the log's redo records (redo.go) onto it, refusing a log
//     whose checkpoint is not in the file or whose store is another.
//   - Rewrite and SwapIn write a database into a new file and put it in
//     the old one's place, emptying the log (rewrite.go), for a change that
//     must leave nothing of the old form behind.
//   - DB (db.go) runs write transactions through group commit (commit.go)
//     and the journal proper (journal.go): checkpoints, the pin that keeps
//     a checkpoint's pages whole, and the batches' fsyncs. With
//     Options.DeferWrite, Recover opens the file read-only and the DB
//     opens it for writing at its first write (deferwrite.go).
//
// bbolt's meta page is the one part of bbolt's file format this package
// depends on, and bbolt does not export it: meta.go holds all of it, and
// its test fails the day the bbolt in go.mod changes it.
//
// Errors that match ErrCorrupt, ErrLocked or ErrClosed print only their
// detail; package keystore puts its own sentinel in front.
//
// # Caveats
//
// What the log's reader can and cannot tell from a torn write, and what
// the journal needs of the file system and of the mapping, is in package
// keystore's caveats, for the store's users.
//
// Every write of a transaction must go through DB.Put and DB.Delete: a
// write made to the bbolt transaction directly is in the file but not in
// the log, and a power failure loses it.
//
// The log's header holds the checkpoint's meta page head, and recovery
// writes it back whole: it must be kept with the bbolt that wrote it.
// Moving to another bbolt version means running TestBoltMetaPageLayout
// with it first.
package journal
