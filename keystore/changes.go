//go:build linux

package keystore

// Changes is what one committed write transaction changed, for caches kept
// above the store.
type Changes struct {
	// Revision is the store's revision after the transaction.
	Revision uint64
	// Keys are the serials whose record or payload changed or went away.
	Keys map[uint32]bool
	// Graph says links, names, or a key's type, owner, mask, flags or
	// expiry changed: anything possession, permission or search depends on.
	Graph bool
}

// OnChange sets fn to be told of every committed write transaction that
// changed something, as bbolt commits it (when new readers see it; its
// OnCommit handlers run later, once it is durable), in commit order, in
// the committer's goroutine. Set it once, before the first Update.
func (db *DB) OnChange(fn func(*Changes)) {
	db.feedMu.Lock() // an Engine's feed may be running (feed.go)
	db.onChange = fn
	db.feedMu.Unlock()
}

// OnPending sets fn to be told when a write transaction starts changing
// something (fn(true), inside the transaction, before its commit) and when
// that transaction is over (fn(false), after OnChange's fn if it
// committed, or after it rolled back). Between the two, the change may be visible to new readers before
// OnChange has run: a cache above the store must not take fills then.
// Set it once, before the first Update.
func (db *DB) OnPending(fn func(pending bool)) { db.onPending = fn }

// changes returns the record of what this write transaction changes, made
// on first use, and arranges for it to be reported when the transaction
// commits.
func (tx *Tx) changes() *Changes {
	db := tx.db
	if db.changesFor != tx.id() {
		// The revision is read now: OnCommit runs after the transaction
		// has closed. NextRevision keeps it current.
		ch := &Changes{Keys: map[uint32]bool{}, Revision: tx.Revision()}
		db.changesFor, db.changed = tx.id(), ch
		if db.onPending != nil {
			db.onPending(true)
		}
		if tx.onFile() { // an Engine's feed tells of every commit (feed.go)
			tx.onVisible(func() {
				if db.onChange != nil {
					db.onChange(ch)
				}
			})
		}
	}
	return db.changed
}

// OnChanging sets fn to be told, inside a write transaction and before it
// commits, of each key it changes (fn(serial, false)) and of each change
// to the graph (fn(0, true)). bbolt shows a commit to new readers before
// OnChange's fn runs, so a cache above the store must forget what a
// transaction changes before the commit, not after: otherwise a reader
// who has read the new state in the store could be served the old one
// from the cache. The transaction may still roll back; forgetting too
// much is harmless. Set it once, before the first Update.
func (db *DB) OnChanging(fn func(serial uint32, graph bool)) { db.onChanging = fn }

func (tx *Tx) touchKey(serial uint32) {
	tx.changes().Keys[serial] = true
	if tx.db.onChanging != nil {
		tx.db.onChanging(serial, false)
	}
}

func (tx *Tx) touchGraph() {
	tx.changes().Graph = true
	if tx.db.onChanging != nil {
		tx.db.onChanging(0, true)
	}
}
