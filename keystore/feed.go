//go:build linux

package keystore

import (
	"encoding/binary"
	"iter"
)

// Feed is the store's side of an engine's change feed: the engine tells
// it of every commit to the rows, by any opener, its own included, once
// each, in revision order, from one goroutine. It is what makes an
// engine's store behave as a file's does: caches above forget what
// changed, and watchers on every opener hear every commit's
// notifications, stamped with its revision. Options.Engine's function is
// given it; it is no use to anyone else.
type Feed struct{ db *DB }

// Commit tells the store that the commit of revision rev put or deleted
// rows (each a bucket and a key), before any View sees it: OnChange's fn
// is told what it changed.
func (f Feed) Commit(rev uint64, rows iter.Seq2[Bucket, []byte]) {
	db := f.db
	db.feedMu.Lock()
	ready, onChange := db.feedReady, db.onChange
	db.feedMu.Unlock()
	if !ready || onChange == nil {
		return // no cache above yet
	}
	ch := &Changes{Revision: rev, Keys: map[uint32]bool{}}
	for b, k := range rows {
		switch b {
		case BucketRows:
			if len(k) >= 5 {
				ch.Keys[db.perm.serial(binary.BigEndian.Uint32(k))] = true
				if k[4] != tagPayload {
					ch.Graph = true
				}
			}
		case BucketNames:
			ch.Graph = true
		}
	}
	onChange(ch)
}

// Posted delivers sealed, the notifications the commit of revision rev
// carried (Rows.PutEvents), once a View sees that commit: OnEvents's fn
// gets them. Notifications that fail to open (damaged, or sealed by
// another store) are lost, and OnLoss's fn says so.
func (f Feed) Posted(rev uint64, sealed []byte) {
	db := f.db
	db.feedMu.Lock()
	ready, onEvents, onLoss := db.feedReady, db.onEvents, db.onLoss
	db.feedMu.Unlock()
	if !ready {
		return // nobody watches yet
	}
	b, err := db.sealer.Open(nil, sealed, db.eventsBinding())
	switch {
	case err != nil && onLoss != nil:
		onLoss(rev-1, rev)
	case err == nil && onEvents != nil:
		onEvents(rev, b)
	}
}

// Lost tells the store that the feed missed the commits after revision
// last, up to revision now, whose notifications are gone (etcd compacted
// them away before the engine read them): OnLoss's fn is told, and the
// watchers above get a loss record. The engine has read its rows again,
// and told Commit of every row it held before and holds now.
func (f Feed) Lost(last, now uint64) {
	db := f.db
	db.feedMu.Lock()
	ready, onLoss := db.feedReady, db.onLoss
	db.feedMu.Unlock()
	if ready && onLoss != nil {
		onLoss(last, now)
	}
}

// OnEvents sets fn to be told of the notifications each commit to a
// store kept by an engine carried (Tx.PutEvents), whoever made it, in
// revision order, after OnChange's fn has seen the commit, with the
// commit's revision. b is the caller's to keep. Set it once, before the
// first Update.
func (db *DB) OnEvents(fn func(rev uint64, b []byte)) {
	db.feedMu.Lock()
	db.onEvents = fn
	db.feedMu.Unlock()
}

// OnLoss sets fn to be told that the feed of a store kept by an engine
// missed changes: the notifications of the changes after revision last
// are lost, and the store is as of revision now.
func (db *DB) OnLoss(fn func(last, now uint64)) {
	db.feedMu.Lock()
	db.onLoss = fn
	db.feedMu.Unlock()
}

// PutEvents puts b, the notifications this transaction's commit posts,
// sealed, into the commit, for OnEvents on every opener of a store shared
// by its openers (DB.Shared). A file's only opener posts them from
// OnCommit instead, and need not encode them: on a file PutEvents does
// nothing.
func (tx *Tx) PutEvents(b []byte) {
	if tx.rows == nil {
		return
	}
	tx.rows.PutEvents(tx.db.sealer.Seal(nil, b, tx.db.eventsBinding()))
}

// eventsBinding ties sealed notifications to the store: they open as
// nothing else, and in no other store. Where in the engine they were put
// is not bound: whoever can write there can as well put back an older
// version, which the binding could not tell either.
func (db *DB) eventsBinding() []byte { return append([]byte("events\x00"), db.uuid[:]...) }
