//go:build linux

// Package etcdstore keeps a keystore in etcd, shared by every host that
// opens it on the same cluster and prefix: a keystore.Engine, given to
// keystore.Options.Engine (or keyring.Options.Storage) as Options.Open.
// See docs/etcd.md for what it is for and how to set it up.
//
// It is a package of its own so that only the programs that keep a store
// in etcd link etcd's client, gRPC and protobuf, and run their package
// initialisers: keystore itself, the file's engine, imports none of them.
//
// # Basics
//
// Each host keeps a copy of every row under the prefix (mirror.go), which
// a watch keeps current (feed.go), and reads from it: a read costs what it
// costs on a file. A write transaction reads from the copy too and keeps
// its writes; its commit is one etcd transaction guarded by the mod
// revisions of the rows it read and by stamps of the ranges it walked
// (rows.go), so that etcd refuses it if another host changed any of them,
// and the transaction runs again on the newer copy (engine.go). The
// store's revision is etcd's. Rows for new keys come from blocks that a
// host takes by compare-and-swap (alloc.go). Every host, the writer too,
// hears every commit from its watch, in revision order, and tells the
// store's keystore.Feed: caches forget, watchers hear the commit's
// notifications, which travel sealed in the commit.
//
// Keys in etcd, under the prefix P (Options.Prefix):
//
//	P/b<bucket>/<hex key>  a row of <bucket> (keystore.Bucket, one digit),
//	                       its value as a file holds it
//	P/s<bucket>/<hex key>  a stamp (rows.go), empty: rewritten by every
//	                       commit that changes the range <hex key> names
//	P/e/<host>             the sealed notifications of host's last commit
//	P/a                    u32: the first row of the next block to hand out
//
// Keys are hex so that etcd's byte order is the rows' order and every key
// is printable for etcdctl.
//
// # Caveats
//
// A write that etcd does not answer in time fails with ErrUnavailable
// (EIO): it may or may not have been made, and the feed shows which.
// Reads go on from the copy. A feed that resumes past a compaction reads
// the whole store again and tells the store's Feed that notifications
// were lost (keystore.Feed.Lost), so that watchers get a loss record.
//
// Processes' holds on keys, and so which keys only processes hold, are
// per host: keyring does not collect orphans when it opens a store in
// etcd, since other hosts' processes may hold them.
package etcdstore
